"""The history database's versioned schema: a list of migrations and the code that runs them.

Owns: the tables (``conversations``, ``messages``, ``message_inspections``), ``PRAGMA user_version``
(the number of migrations applied) and ``migrate()``. Migration *n* (index
n-1) takes a database from version n-1 to n inside one transaction, so a
crash or a full disk mid-upgrade leaves the previous version intact.

To change the schema, append a migration; never edit one that shipped. The
full-text index is not versioned here: it depends on whether this SQLite has
FTS5, so ``storage.search`` (re)creates it on every open.

Must not: know about the store's API or about files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from desktop_app.core.errors import DatabaseTooNew

Migration = Callable[[sqlite3.Connection], None]


def _statements(*sql: str) -> Migration:
    # One statement at a time: executescript() would COMMIT first and break
    # the all-or-nothing upgrade.
    def apply(conn: sqlite3.Connection) -> None:
        for statement in sql:
            conn.execute(statement)

    return apply


_V1 = _statements(
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL DEFAULT '',
        profile TEXT,
        model TEXT,
        pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL  -- soft delete, so the GUI can undo; purged on a later open
    )
    """,
    "CREATE INDEX conversations_by_update ON conversations (updated_at DESC, id DESC)",
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,  -- also the full-text index's rowid
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        text TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'complete'
            CHECK (status IN ('complete', 'streaming', 'interrupted', 'error', 'cancelled')),
        error_message TEXT,
        finish_reason TEXT,
        model TEXT,
        profile TEXT,
        metrics TEXT,  -- JSON, see storage.models.metrics_to_dict
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (conversation_id, position)  -- also the index that loads a conversation in order
    )
    """,
    # Small: only rows being streamed are in it; recovery on open reads it.
    "CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'",
)

# Version 2: what came over the wire for an answer (the stream inspector's
# stored form, ``InspectorModel.to_json``, bounded by ``core.inspections``).
# A table of its own so reading a conversation never loads megabytes of it,
# and deleting a message (regenerate, purge) deletes its inspection.
_V2 = _statements(
    """
    CREATE TABLE message_inspections (
        message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
        data TEXT NOT NULL
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def check_version(version: int, known: int, *, path: str) -> None:
    """Raise ``DatabaseTooNew`` for a file written by a newer Streamdesk."""
    if version > known:
        raise DatabaseTooNew(
            f"The chat history in {path} was written by a newer version of Streamdesk "
            f"(format {version}; this version knows up to {known}), so it was not opened.",
        )


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, *, path: str = ""
) -> int:
    """Bring the database up to ``len(migrations)``; returns the version it started at.

    The connection must be in autocommit mode (``isolation_level=None``).
    Raises ``DatabaseTooNew`` without writing when the file is newer, and
    lets ``sqlite3.Error`` through (the caller translates it).
    """
    start = user_version(conn)
    check_version(start, len(migrations), path=path or "this file")
    for version in range(start, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migrations[version](conn)
            # PRAGMA takes no parameters; the value is our own int.
            conn.execute(f"PRAGMA user_version = {version + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return start
