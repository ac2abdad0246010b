"""The conversation list: create, find, rename, pin, delete with undo, purge.

Owns: ``ConversationStore``, the part of ``HistoryStore`` that deals with
whole conversations, and the helpers every store method uses (the clock,
transactions, error translation). ``HistoryStore`` adds messages, search,
import and opening.

Must not: open or close connections (``storage.opening`` does).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from desktop_app.core.errors import StorageError
from desktop_app.core.storage import database
from desktop_app.core.storage import rows as _rows
from desktop_app.core.storage.models import Conversation

TITLE_CHARS = 60


class ConversationNotFound(StorageError):
    default_message = "That conversation is not in the history (it may have been deleted)."


class MessageNotFound(StorageError):
    default_message = "That message is not in the history (it may have been deleted)."


class ConversationStore:
    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._conn = conn
        self._clock = clock

    # ------------------------------------------------------------ conversations

    def create_conversation(
        self, title: str = "", *, profile: str | None = None, model: str | None = None
    ) -> Conversation:
        now = self._now()
        uid = uuid.uuid4().hex
        with self._writing():
            cursor = self._conn.execute(
                "INSERT INTO conversations (uid, title, profile, model, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (uid, title, profile, model, now, now),
            )
        return Conversation(int(cursor.lastrowid or 0), uid, title, now, now, profile, model)

    def get_conversation(self, conversation_id: int) -> Conversation:
        row = self._one(
            f"SELECT {_rows.CONVERSATION_COLUMNS} FROM conversations "
            "WHERE id = ? AND deleted_at IS NULL",
            (conversation_id,),
        )
        if row is None:
            raise ConversationNotFound(
                f"There is no conversation {conversation_id} in the history."
            )
        return _rows.conversation(row)

    def list_conversations(self, limit: int | None = None) -> list[Conversation]:
        """Conversations not deleted, most recently active first."""
        rows = self._all(
            f"SELECT {_rows.CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY updated_at DESC, id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_rows.conversation(row) for row in rows]

    def latest_conversation(self) -> Conversation | None:
        found = self.list_conversations(limit=1)
        return found[0] if found else None

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self._update_conversation(conversation_id, "title = ?", (title,))

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        self._update_conversation(conversation_id, "pinned = ?", (int(pinned),))

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide a conversation; ``restore_conversation`` undoes it until it is purged."""
        self._update_conversation(conversation_id, "deleted_at = ?", (self._now(),))

    def restore_conversation(self, conversation_id: int) -> None:
        with self._writing():
            count = self._conn.execute(
                "UPDATE conversations SET deleted_at = NULL "
                "WHERE id = ? AND deleted_at IS NOT NULL",
                (conversation_id,),
            ).rowcount
        if count == 0:
            raise ConversationNotFound(
                "That conversation can no longer be restored: it was removed for good."
            )

    def purge_deleted(self, older_than: float = 0.0) -> int:
        """Remove for good the conversations deleted at least ``older_than`` seconds ago."""
        with self._writing():
            return self._conn.execute(
                "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (self._now() - older_than,),
            ).rowcount

    # ------------------------------------------------------------ internals

    def _now(self) -> float:
        return round(self._clock(), 3)

    def _writing(self, *, durable: bool = False) -> AbstractContextManager[None]:
        return database.write_transaction(self._conn, durable=durable)

    def _update_conversation(
        self, conversation_id: int, assignment: str, params: tuple[object, ...]
    ) -> None:
        with self._writing():
            count = self._conn.execute(
                f"UPDATE conversations SET {assignment} WHERE id = ? AND deleted_at IS NULL",
                (*params, conversation_id),
            ).rowcount
        if count == 0:
            raise ConversationNotFound(
                f"There is no conversation {conversation_id} in the history."
            )

    def _execute(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        # One statement in autocommit mode is its own transaction.
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise database.translate(exc, "saved") from exc

    def _one(self, sql: str, params: tuple[object, ...]) -> Any:
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise database.translate(exc, "read") from exc

    def _all(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise database.translate(exc, "read") from exc


def make_title(text: str) -> str:
    """A conversation title from a first message: its first line, at most ``TITLE_CHARS``."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words:
            return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1] + "…"
    return ""
