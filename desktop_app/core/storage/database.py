"""Opening the history file safely: connection settings, health checks, errors, transactions.

Owns: how a connection is configured (WAL, ``synchronous``, ``busy_timeout``,
foreign keys), the read-only health check done before anything writes
(header, ``user_version``, ``PRAGMA integrity_check``), setting a damaged
file aside under a new name, the write transaction, and the translation of
``sqlite3`` errors into the ``StorageError`` tree with a user sentence.

Must not: delete or overwrite a user's file. A damaged file is only ever
renamed (never onto an existing name); a too-new one is not touched at all.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.errors import DatabaseCorrupt, DiskFull, StorageError
from desktop_app.core.storage.schema import check_version, user_version

BUSY_TIMEOUT_MS = 5000
SQLITE_HEADER = b"SQLite format 3\x00"
_VERSION_OFFSET = 60  # https://sqlite.org/fileformat.html#user_version_number

# Primary result codes (https://sqlite.org/rescode.html); sqlite3 exposes the
# extended code, whose low byte is the primary one.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT = 3, 5, 6, 8, 10, 11
_FULL, _CANTOPEN, _AUTH, _NOTADB = 13, 14, 23, 26

# Files SQLite keeps beside the database; they move with it when set aside.
_COMPANIONS = ("-wal", "-shm", "-journal")


class Damaged(Exception):
    """Internal: the file failed a health check (``reason`` is for the log, not the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_corruption(exc: BaseException) -> bool:
    return error_code(exc) in (_CORRUPT, _NOTADB)


def translate(exc: sqlite3.Error, doing: str = "saved") -> StorageError:
    """A ``StorageError`` with a sentence for a ``sqlite3`` error (``doing``: "saved"/"read")."""
    code = error_code(exc)
    if code == _FULL:
        return DiskFull()
    if code in (_CORRUPT, _NOTADB):
        return DatabaseCorrupt(
            "The chat history file is damaged.",
            hint="Restart Streamdesk: it will keep the damaged file aside and start a new one.",
        )
    if code in (_BUSY, _LOCKED):
        return StorageError(
            f"The chat history could not be {doing}: another Streamdesk is using it.",
            hint="Try again in a moment.",
        )
    if code in (_READONLY, _PERM, _CANTOPEN, _AUTH):
        return StorageError(
            f"The chat history could not be {doing}: Streamdesk may not open or write its file.",
            hint="Check the permissions of Streamdesk's data folder.",
        )
    if code == _IOERR:
        return StorageError(
            f"The chat history could not be {doing} because of a disk error.",
            hint="Check the disk; what was already saved is kept.",
        )
    return StorageError(f"The chat history could not be {doing}.")


def connect(path: Path | str) -> sqlite3.Connection:
    """A read-write connection in autocommit mode (transactions are explicit)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        conn.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            # WAL: readers never block the writer, and a crash at any moment
            # leaves a consistent file. Some file systems (network shares)
            # refuse WAL; SQLite then keeps its rollback journal, which is
            # still safe, only slower, so the answer is not checked.
            conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit is atomic and survives an application
        # crash; only an OS crash or power cut can lose the last commits (the
        # WAL is synced at checkpoints, not per commit). That is the right
        # price for checkpoints written every second while streaming. The end
        # of a turn is written with FULL (see ``write_transaction(durable=True)``).
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any error rolls everything back.

    ``durable=True`` syncs this commit to disk (``synchronous=FULL``) so it
    survives a power cut too. Errors come out as ``StorageError``; a full
    disk as ``DiskFull`` with nothing half-written.
    """
    try:
        if durable:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back by itself (SQLITE_FULL does).
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        finally:
            if durable:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise translate(exc, "saved") from exc


def health_check(conn: sqlite3.Connection, known_version: int, *, path: str) -> None:
    """Raise ``DatabaseTooNew`` or ``Damaged``; writes nothing.

    The version comes first: a newer Streamdesk's file is left alone even if
    this version cannot make sense of it.
    """
    try:
        check_version(user_version(conn), known_version, path=path)
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise Damaged(str(exc)) from exc
        raise
    if rows != [("ok",)]:
        raise Damaged("; ".join(str(row[0]) for row in rows[:5]))


def check_file(path: Path, known_version: int) -> bool:
    """Check an existing file before opening it for writing.

    Returns True when the check ran, False when it could not run read-only
    (the caller then runs ``health_check`` on its read-write connection
    before writing). Raises ``Damaged`` or ``DatabaseTooNew``.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            header = file.read(100)
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise StorageError(
            "The chat history file could not be read.",
            hint="Check the permissions of Streamdesk's data folder.",
        ) from exc
    # An empty main file is normal for a WAL database that was never
    # checkpointed: SQLite reads the pages from the -wal file.
    if size == 0:
        return True
    if header[: len(SQLITE_HEADER)] != SQLITE_HEADER:
        raise Damaged("not an SQLite database (bad header)")
    if len(header) >= _VERSION_OFFSET + 4:
        # user_version is stored in the header: a newer file is recognised
        # without opening it, so not even a -shm file appears beside it.
        version = int.from_bytes(header[_VERSION_OFFSET : _VERSION_OFFSET + 4], "big")
        check_version(version, known_version, path=str(path))
    try:
        # mode=ro: a damaged file must not be checkpointed or "repaired" by us.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return False
    try:
        health_check(conn, known_version, path=str(path))
    except sqlite3.OperationalError:
        # E.g. the folder is read-only so WAL's -shm cannot be created.
        return False
    finally:
        conn.close()
    return True


def set_aside(path: Path, label: str = "corrupt", now: float | None = None) -> Path:
    """Rename ``path`` (and its -wal/-shm/-journal) to ``<name>.<label>-YYYYmmdd-HHMMSS``.

    Never overwrites: a name already taken gets ``-2``, ``-3``... The -wal
    keeps its suffix after the new name, so SQLite finds it again if someone
    opens the kept file.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = path.with_name(f"{path.name}.{label}-{stamp}")
    target, n = base, 1
    while _taken(target):
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    try:
        os.rename(path, target)
        for suffix in _COMPANIONS:
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.rename(companion, target.with_name(target.name + suffix))
    except OSError as exc:
        raise StorageError(
            "The damaged chat history file could not be moved aside.",
            hint=f"Move {path} away by hand and restart Streamdesk.",
        ) from exc
    return target


def _taken(target: Path) -> bool:
    return any(target.with_name(target.name + s).exists() for s in ("", *_COMPANIONS))
