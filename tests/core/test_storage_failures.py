"""A damaged file, a full disk: clear errors, the original kept byte for byte, nothing half-written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.core.errors import DatabaseCorrupt, DiskFull, StorageError
from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.core.storage.database import set_aside, translate
from desktop_app.core.storage.export import export_json, import_json
from tests.core.storage_helpers import digest, fill, integrity


def _assert_kept_and_fresh(path: Path, store: HistoryStore, original_digest: str) -> None:
    assert store.persistent
    [warning] = store.warnings
    assert isinstance(warning, DatabaseCorrupt)
    assert store.kept_aside is not None
    assert store.kept_aside.name.startswith("history.sqlite3.corrupt-")
    assert store.kept_aside.name in str(warning)
    assert str(store.kept_aside.parent) in warning.hint
    assert digest(store.kept_aside) == original_digest
    # A fresh, working history took its place.
    c = store.create_conversation("after")
    store.add_user_message(c.id, "works")
    assert [x.title for x in store.list_conversations()] == ["after"]
    assert path.exists()


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database at all\x00\xff" * 200)
    original = digest(path)
    with HistoryStore.open(path) as store:
        _assert_kept_and_fresh(path, store, original)


def test_a_few_bytes(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"SQLite")
    original = digest(path)
    with HistoryStore.open(path) as store:
        _assert_kept_and_fresh(path, store, original)


def test_truncated_database(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        fill(store, 40)
    size = path.stat().st_size
    assert size > 40_000
    with path.open("r+b") as file:
        file.truncate(size // 2)
    original = digest(path)
    with HistoryStore.open(path) as store:
        _assert_kept_and_fresh(path, store, original)


def test_integrity_check_failure(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        fill(store, 40)
    # Scribble over the middle of the file: the header stays valid.
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = b"\x07" * 3000
    path.write_bytes(bytes(data))
    original = digest(path)
    with HistoryStore.open(path) as store:
        _assert_kept_and_fresh(path, store, original)


def test_an_empty_file_is_a_new_history_not_a_damaged_one(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"")
    with HistoryStore.open(path) as store:
        assert store.warnings == ()
        assert store.kept_aside is None


def test_set_aside_never_overwrites(tmp_path: Path) -> None:
    first = tmp_path / "history.sqlite3"
    first.write_bytes(b"one")
    (tmp_path / "history.sqlite3-wal").write_bytes(b"wal one")
    kept_one = set_aside(first, now=0)
    first.write_bytes(b"two")
    kept_two = set_aside(first, now=0)  # the same second
    assert kept_one != kept_two
    assert kept_one.read_bytes() == b"one"
    assert kept_two.read_bytes() == b"two"
    assert kept_one.with_name(kept_one.name + "-wal").read_bytes() == b"wal one"
    assert not first.exists()


def _fill_disk(store: HistoryStore) -> None:
    """Simulate a full disk: the file may not grow by a single page."""
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_disk_full_is_an_error_and_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        c = store.create_conversation("before")
        store.add_user_message(c.id, "saved")
        before = store.get_conversation(c.id)
        _fill_disk(store)
        big = "x" * 200_000
        with pytest.raises(DiskFull) as caught:
            store.add_user_message(c.id, big)
        assert "disk is full" in str(caught.value)
        assert caught.value.hint
        # Nothing half-written: same messages, same timestamps, nothing open.
        assert [m.text for m in store.messages(c.id)] == ["saved"]
        assert store.get_conversation(c.id) == before
        assert not store._conn.in_transaction
        # Space comes back: writing works again.
        store._conn.execute("PRAGMA max_page_count = 1000000")
        store.add_user_message(c.id, "after")
    assert integrity(path) == [("ok",)]


def test_disk_full_during_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        c = store.create_conversation()
        answer = store.start_assistant_message(c.id)
        store.checkpoint(answer.id, "first part")
        _fill_disk(store)
        with pytest.raises(DiskFull):
            store.checkpoint(answer.id, "first part" + "y" * 300_000)
        with pytest.raises(DiskFull):
            store.finish_message(
                answer.id, status=MessageStatus.COMPLETE, text="first part" + "y" * 300_000
            )
        stored = store.get_message(answer.id)
        assert (stored.text, stored.status) == ("first part", MessageStatus.STREAMING)
    assert integrity(path) == [("ok",)]


def test_disk_full_during_import_imports_nothing(tmp_path: Path) -> None:
    with HistoryStore.in_memory() as source:
        fill(source, 30)
        exported = export_json(source).replace("Rivers", "Rivers " + "z" * 5000)
    with HistoryStore.open(tmp_path / "history.sqlite3") as store:
        _fill_disk(store)
        with pytest.raises(DiskFull):
            import_json(store, exported)
        assert store.list_conversations() == []


def test_other_sqlite_errors_become_sentences() -> None:
    class Fake(sqlite3.OperationalError):
        sqlite_errorcode = 5  # SQLITE_BUSY

    error = translate(Fake("database is locked"))
    assert type(error) is StorageError
    assert str(error).endswith("another Streamdesk is using it.")
    plain = translate(sqlite3.OperationalError("no such table: x"), "read")
    assert str(plain) == "The chat history could not be read."
    assert "no such table" not in str(plain)
