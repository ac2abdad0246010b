"""Schema versions: a fresh file, an upgrade from an older format, a file from a newer Streamdesk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.core.errors import DatabaseTooNew, StorageError
from desktop_app.core.storage import MIGRATIONS, SCHEMA_VERSION, HistoryStore
from desktop_app.core.storage.schema import migrate
from tests.core.storage_helpers import digest


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _add_tags(conn: sqlite3.Connection) -> None:
    """A stand-in for a future migration: a new column with a default."""
    conn.execute("ALTER TABLE conversations ADD COLUMN tags TEXT NOT NULL DEFAULT ''")
    conn.execute("UPDATE conversations SET tags = 'migrated'")


def test_fresh_file_gets_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        assert store.warnings == ()
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert _version(path) == SCHEMA_VERSION == len(MIGRATIONS)


def test_upgrade_from_an_older_version_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as old:  # written by "version 1"
        c = old.create_conversation("kept")
        old.add_user_message(c.id, "hello")
    with HistoryStore.open(path, migrations=(*MIGRATIONS, _add_tags)) as new:
        assert new.warnings == ()
        assert new.get_conversation(c.id).title == "kept"
        assert [m.text for m in new.messages(c.id)] == ["hello"]
        tags = new._conn.execute("SELECT tags FROM conversations").fetchall()
        assert tags == [("migrated",)]
    assert _version(path) == SCHEMA_VERSION + 1
    # Opening again runs nothing twice.
    with HistoryStore.open(path, migrations=(*MIGRATIONS, _add_tags)) as again:
        assert again.warnings == ()


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as old:
        old.create_conversation("kept")

    calls = []

    def broken(conn: sqlite3.Connection) -> None:
        # Fails on the file (say, the disk filled up mid-step), works in memory.
        calls.append(1)
        conn.execute("ALTER TABLE conversations ADD COLUMN half_done TEXT")
        if len(calls) == 1:
            conn.execute("THIS IS NOT SQL")

    with HistoryStore.open(path, migrations=(*MIGRATIONS, broken)) as store:
        assert not store.persistent  # the app still runs, in memory
        assert len(store.warnings) == 1
        assert isinstance(store.warnings[0], StorageError)
    assert _version(path) == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(conversations)")]
    conn.close()
    assert "half_done" not in columns  # the whole step was rolled back


def test_a_newer_file_is_left_untouched_and_the_app_runs_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        store.create_conversation("from the future")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    siblings = sorted(p.name for p in tmp_path.iterdir())

    with HistoryStore.open(path) as store:
        assert not store.persistent
        [warning] = store.warnings
        assert isinstance(warning, DatabaseTooNew)
        assert "newer version of Streamdesk" in str(warning)
        assert "memory" in str(warning)
        assert warning.hint
        # The in-memory history works for this session.
        c = store.create_conversation("today")
        store.add_user_message(c.id, "hi")
        assert store.list_conversations()[0].title == "today"

    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings
    assert _version(path) == SCHEMA_VERSION + 1


def test_migrate_refuses_a_newer_version_without_writing() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA user_version = 7")
    with pytest.raises(DatabaseTooNew, match="format 7"):
        migrate(conn)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()
