"""Opening the history: the file if it can be used, memory if not, and why.

Owns: the open sequence (health check without writing, set a damaged file
aside and start afresh, upgrade the schema, set up search, mark answers left
``streaming`` as ``interrupted``, purge conversations deleted long ago) and
the warnings the GUI shows once. A file that cannot be used never stops the
app: ``open_history`` then returns an in-memory database and says why.

Must not: raise for a bad file, or delete or overwrite one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core import paths
from desktop_app.core.errors import DatabaseCorrupt, DatabaseTooNew, StorageError
from desktop_app.core.storage import database, search
from desktop_app.core.storage.schema import Migration, migrate

PURGE_DELETED_AFTER = 600.0  # seconds a deleted conversation can still be restored
INTERRUPTED_BY_EXIT = "Streamdesk stopped before this answer finished."


@dataclass(slots=True)
class Opened:
    conn: sqlite3.Connection
    path: Path | None  # None: in memory
    fts: bool
    warnings: tuple[StorageError, ...] = ()
    kept_aside: Path | None = None
    recovered: int = 0


def open_history(
    file: Path,
    *,
    use_fts: bool,
    purge_deleted_after: float,
    clock: Callable[[], float],
    migrations: Sequence[Migration],
    maintenance: bool,
) -> Opened:
    """See ``HistoryStore.open``."""
    warnings: list[StorageError] = []
    kept: Path | None = None
    try:
        paths.ensure_dir(file.parent)
        for _attempt in range(2):
            try:
                checked = database.check_file(file, len(migrations))
                opened = _open_file(
                    file,
                    checked=checked,
                    use_fts=use_fts,
                    migrations=migrations,
                    maintenance_at=clock() if maintenance else None,
                    purge_deleted_after=purge_deleted_after,
                )
            except database.Damaged:
                if kept is not None:
                    raise  # the brand-new file is "damaged": not the file's fault
                kept = database.set_aside(file)
                warnings.append(_corrupt_warning(kept))
                continue
            opened.warnings, opened.kept_aside = tuple(warnings), kept
            return opened
    except (StorageError, database.Damaged, OSError) as exc:
        warnings.append(_as_storage_error(exc))
    opened = open_memory(use_fts=use_fts, migrations=migrations)
    opened.warnings, opened.kept_aside = tuple(warnings), kept
    return opened


def open_memory(*, use_fts: bool, migrations: Sequence[Migration]) -> Opened:
    conn = database.connect(":memory:")
    try:
        migrate(conn, migrations)
        with database.write_transaction(conn):
            fts = search.setup_index(conn, use_fts=use_fts and search.fts5_available(conn))
    except BaseException:
        conn.close()
        raise
    return Opened(conn, None, fts)


def _open_file(
    file: Path,
    *,
    checked: bool,
    use_fts: bool,
    migrations: Sequence[Migration],
    maintenance_at: float | None,
    purge_deleted_after: float,
) -> Opened:
    try:
        conn = database.connect(file)
    except sqlite3.Error as exc:
        raise _damaged_or_translated(exc) from exc
    recovered = 0
    try:
        if not checked:
            database.health_check(conn, len(migrations), path=str(file))
        migrate(conn, migrations, path=str(file))
        with database.write_transaction(conn):
            fts = search.setup_index(conn, use_fts=use_fts and search.fts5_available(conn))
            if maintenance_at is not None:
                recovered = _recover_and_purge(conn, maintenance_at, purge_deleted_after)
    except sqlite3.Error as exc:
        conn.close()
        raise _damaged_or_translated(exc) from exc
    except BaseException:
        conn.close()
        raise
    return Opened(conn, file, fts, recovered=recovered)


def _recover_and_purge(conn: sqlite3.Connection, now: float, purge_after: float) -> int:
    # An answer still "streaming" at open was cut off by a crash or a kill.
    recovered = conn.execute(
        "UPDATE messages SET status = 'interrupted', updated_at = ?, "
        "error_message = COALESCE(error_message, ?) WHERE status = 'streaming'",
        (round(now, 3), INTERRUPTED_BY_EXIT),
    ).rowcount
    conn.execute(
        "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
        (now - purge_after,),
    )
    return recovered


def _damaged_or_translated(exc: sqlite3.Error) -> Exception:
    if database.is_corruption(exc):
        return database.Damaged(str(exc))
    return database.translate(exc, "opened")


def _corrupt_warning(kept: Path) -> DatabaseCorrupt:
    return DatabaseCorrupt(
        "The chat history file was damaged, so Streamdesk started a new one. "
        f"The damaged file was kept as {kept.name}.",
        hint=f"It is in {kept.parent}; nothing in it was changed or deleted.",
    )


def _as_storage_error(exc: BaseException) -> StorageError:
    if isinstance(exc, DatabaseTooNew):
        return DatabaseTooNew(
            f"{exc} This session's chats are kept in memory only.",
            hint="Update Streamdesk to see and keep your history; the file was not changed.",
        )
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, database.Damaged):
        return DatabaseCorrupt("A new chat history file could not be created.")
    return StorageError(
        "The chat history file could not be opened; this session's chats are kept in memory only.",
        hint="Check the permissions of Streamdesk's data folder.",
    )
