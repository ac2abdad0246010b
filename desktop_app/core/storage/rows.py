"""How the records map to table rows: the column lists, row to record, record to row.

Owns: the SELECT column order both ways and the INSERT that copies whole
conversations in (import). Must not: open connections or transactions (the
store does).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from desktop_app.core.storage.models import (
    Conversation,
    MessageStatus,
    StoredMessage,
    metrics_from_json,
    metrics_to_json,
)

CONVERSATION_COLUMNS = "id, uid, title, created_at, updated_at, profile, model, pinned"
MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, text, created_at, updated_at, reasoning, status, "
    "error_message, finish_reason, model, profile, metrics"
)


def conversation(row: Any) -> Conversation:
    return Conversation(
        id=row[0],
        uid=row[1],
        title=row[2],
        created_at=row[3],
        updated_at=row[4],
        profile=row[5],
        model=row[6],
        pinned=bool(row[7]),
    )


def message(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row[0],
        conversation_id=row[1],
        position=row[2],
        role=row[3],
        text=row[4],
        created_at=row[5],
        updated_at=row[6],
        reasoning=row[7],
        status=MessageStatus(row[8]),
        error_message=row[9],
        finish_reason=row[10],
        model=row[11],
        profile=row[12],
        metrics=metrics_from_json(row[13]),
    )


def insert_copy(
    conn: sqlite3.Connection, c: Conversation, messages: Sequence[StoredMessage]
) -> bool:
    """Copy a conversation in with a new local id; False (nothing written) if its uid is here.

    Runs inside the caller's transaction. Answers still marked streaming come
    in as interrupted: nobody is writing them here.
    """
    if conn.execute("SELECT 1 FROM conversations WHERE uid = ?", (c.uid,)).fetchone():
        return False
    new_id = conn.execute(
        "INSERT INTO conversations (uid, title, profile, model, pinned, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (c.uid, c.title, c.profile, c.model, int(c.pinned), c.created_at, c.updated_at),
    ).lastrowid
    rows = []
    for position, m in enumerate(messages):
        status = MessageStatus.INTERRUPTED if m.status is MessageStatus.STREAMING else m.status
        rows.append(
            (
                new_id,
                position,
                m.role,
                m.text,
                m.created_at,
                m.updated_at,
                m.reasoning,
                status.value,
                m.error_message,
                m.finish_reason,
                m.model,
                m.profile,
                metrics_to_json(m.metrics),
            )
        )
    conn.executemany(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}) "
        "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return True
