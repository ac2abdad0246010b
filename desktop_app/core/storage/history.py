"""The chat history: conversations and messages in SQLite, written as they stream.

Owns: ``HistoryStore``, the synchronous API the GUI (for its small writes,
on the GUI thread) and ``streamdesk ask`` call. One store holds one
connection and belongs to the thread that opened it.

On open it checks the file (see ``storage.database``), upgrades the schema,
turns every answer still marked ``streaming`` into ``interrupted`` (that is
how a crash shows up on the next start) and purges conversations deleted
long enough ago. A file that cannot be used never stops the app: the store
then lives in memory and says why in ``warnings``.

Must not: hold an API key (nothing here takes one), or block for long (every
write is one small transaction; ``checkpoint`` is a single UPDATE).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from desktop_app.core import paths
from desktop_app.core.errors import DatabaseCorrupt, DatabaseTooNew, StorageError
from desktop_app.core.events import TurnEnded, TurnMetrics
from desktop_app.core.storage import database, search
from desktop_app.core.storage.models import (
    Conversation,
    ImportReport,
    MessageStatus,
    Role,
    SearchHit,
    StoredMessage,
    metrics_from_json,
    metrics_to_json,
)
from desktop_app.core.storage.schema import MIGRATIONS, Migration, migrate

PURGE_DELETED_AFTER = 600.0  # seconds a deleted conversation can still be restored
TITLE_CHARS = 60
INTERRUPTED_BY_EXIT = "Streamdesk stopped before this answer finished."

_CONVERSATION_COLUMNS = "id, uid, title, created_at, updated_at, profile, model, pinned"
_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, text, created_at, updated_at, reasoning, status, "
    "error_message, finish_reason, model, profile, metrics"
)


class ConversationNotFound(StorageError):
    default_message = "That conversation is not in the history (it may have been deleted)."


class MessageNotFound(StorageError):
    default_message = "That message is not in the history (it may have been deleted)."


class HistoryStore:
    """Use ``HistoryStore.open()``; the constructor is internal."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path | None,
        fts: bool,
        clock: Callable[[], float],
        warnings: Sequence[StorageError] = (),
        kept_aside: Path | None = None,
        recovered: int = 0,
    ) -> None:
        self._conn = conn
        self._clock = clock
        self.path = path
        self.search_mode: Literal["fts5", "like"] = "fts5" if fts else "like"
        # Problems found while opening, for the GUI to show once (the app runs on).
        self.warnings: tuple[StorageError, ...] = tuple(warnings)
        self.kept_aside = kept_aside
        self.recovered = recovered  # answers found still streaming, now interrupted

    # ------------------------------------------------------------ opening

    @property
    def persistent(self) -> bool:
        """False when the history lives in memory only (the file could not be used)."""
        return self.path is not None

    @classmethod
    def open(
        cls,
        path: Path | str | None = None,
        *,
        use_fts: bool = True,
        purge_deleted_after: float = PURGE_DELETED_AFTER,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> HistoryStore:
        """Open (or create) the history; never raises for a bad file.

        - damaged file: renamed to ``history.sqlite3.corrupt-<time>`` (never
          deleted), a new one is started, ``warnings`` has a ``DatabaseCorrupt``
          naming the kept file;
        - file from a newer Streamdesk: left untouched, the store runs in
          memory (nothing is saved) with a ``DatabaseTooNew`` warning;
        - any other failure (permissions, full disk): in memory, with the
          ``StorageError``.
        ``use_fts=False`` forces the LIKE search (and is what happens when
        this SQLite has no FTS5).
        """
        file = Path(path) if path is not None else paths.history_path()
        warnings: list[StorageError] = []
        kept: Path | None = None
        options: dict[str, Any] = {
            "use_fts": use_fts,
            "purge_deleted_after": purge_deleted_after,
            "clock": clock,
            "migrations": migrations,
        }
        try:
            paths.ensure_dir(file.parent)
            for _attempt in range(2):
                try:
                    checked = database.check_file(file, len(migrations))
                    store = cls._open_file(file, checked=checked, **options)
                except database.Damaged:
                    if kept is not None:
                        raise  # a brand-new file is damaged: not a file problem
                    kept = database.set_aside(file)
                    warnings.append(_corrupt_warning(kept))
                    continue
                store.warnings = tuple(warnings)
                store.kept_aside = kept
                return store
        except (StorageError, database.Damaged, OSError) as exc:
            warnings.append(_as_storage_error(exc))
        store = cls.in_memory(use_fts=use_fts, clock=clock, migrations=migrations)
        store.warnings = tuple(warnings)
        store.kept_aside = kept
        return store

    @classmethod
    def in_memory(
        cls,
        *,
        use_fts: bool = True,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> HistoryStore:
        """A history that lives in memory only (tests, or when the file cannot be used)."""
        conn = database.connect(":memory:")
        try:
            migrate(conn, migrations)
            with database.write_transaction(conn):
                fts = search.setup_index(conn, use_fts=use_fts and search.fts5_available(conn))
        except BaseException:
            conn.close()
            raise
        return cls(conn, path=None, fts=fts, clock=clock)

    @classmethod
    def _open_file(
        cls,
        file: Path,
        *,
        checked: bool,
        use_fts: bool,
        purge_deleted_after: float,
        clock: Callable[[], float],
        migrations: Sequence[Migration],
    ) -> HistoryStore:
        try:
            conn = database.connect(file)
        except sqlite3.Error as exc:
            raise _damaged_or_translated(exc) from exc
        try:
            if not checked:
                database.health_check(conn, len(migrations), path=str(file))
            migrate(conn, migrations, path=str(file))
            now = clock()
            with database.write_transaction(conn):
                fts = search.setup_index(conn, use_fts=use_fts and search.fts5_available(conn))
                recovered = conn.execute(
                    "UPDATE messages SET status = 'interrupted', updated_at = ?, "
                    "error_message = COALESCE(error_message, ?) WHERE status = 'streaming'",
                    (now, INTERRUPTED_BY_EXIT),
                ).rowcount
                conn.execute(
                    "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                    (now - purge_deleted_after,),
                )
        except sqlite3.Error as exc:
            conn.close()
            raise _damaged_or_translated(exc) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path=file, fts=fts, clock=clock, recovered=recovered)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
            "WHERE id = ? AND deleted_at IS NULL",
            (conversation_id,),
        )
        if row is None:
            raise ConversationNotFound(
                f"There is no conversation {conversation_id} in the history."
            )
        return _conversation(row)

    def list_conversations(self, limit: int | None = None) -> list[Conversation]:
        """Conversations not deleted, most recently active first."""
        rows = self._all(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY updated_at DESC, id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_conversation(row) for row in rows]

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

    # ------------------------------------------------------------ messages

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """All messages of a conversation in order, in one query."""
        rows = self._all(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        )
        return [_message(row) for row in rows]

    def get_message(self, message_id: int) -> StoredMessage:
        row = self._one(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise MessageNotFound()
        return _message(row)

    def add_message(
        self,
        conversation_id: int,
        role: Role,
        text: str,
        *,
        reasoning: str = "",
        status: MessageStatus = MessageStatus.COMPLETE,
        model: str | None = None,
        profile: str | None = None,
    ) -> StoredMessage:
        """Append a finished message (a system prompt, a user message...)."""
        with self._writing():
            message_id = self._append(
                conversation_id, role, text, reasoning, status, model, profile
            )
        return self.get_message(message_id)

    def add_user_message(self, conversation_id: int, text: str) -> StoredMessage:
        """Append the user's message; an untitled conversation takes its first line as title."""
        title = make_title(text)
        with self._writing():
            message_id = self._append(
                conversation_id, "user", text, "", MessageStatus.COMPLETE, None, None
            )
            if title:
                self._conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (title, conversation_id),
                )
        return self.get_message(message_id)

    def start_assistant_message(
        self, conversation_id: int, *, model: str | None = None, profile: str | None = None
    ) -> StoredMessage:
        """Append an empty answer marked ``streaming``; fill it with ``checkpoint``."""
        with self._writing():
            message_id = self._append(
                conversation_id, "assistant", "", "", MessageStatus.STREAMING, model, profile
            )
        return self.get_message(message_id)

    def checkpoint(self, message_id: int, text: str, reasoning: str = "") -> bool:
        """Save the answer so far (one UPDATE). False if the message no longer streams.

        It also sets the status back to ``streaming``: another Streamdesk
        process opening the history meanwhile marks our answer interrupted,
        and the next checkpoint undoes that.
        """
        cursor = self._execute(
            "UPDATE messages SET text = ?, reasoning = ?, status = 'streaming', updated_at = ? "
            "WHERE id = ? AND status IN ('streaming', 'interrupted')",
            (text, reasoning, self._now(), message_id),
        )
        return cursor.rowcount > 0

    def finish_message(
        self,
        message_id: int,
        *,
        status: MessageStatus,
        text: str,
        reasoning: str = "",
        error_message: str | None = None,
        finish_reason: str | None = None,
        metrics: TurnMetrics | None = None,
    ) -> StoredMessage:
        """Write the end of an answer, synced to disk (it survives a power cut)."""
        if status is MessageStatus.STREAMING:
            raise ValueError("finish_message needs a final status")
        now = self._now()
        with self._writing(durable=True):
            count = self._conn.execute(
                "UPDATE messages SET text = ?, reasoning = ?, status = ?, error_message = ?, "
                "finish_reason = ?, metrics = ?, updated_at = ? WHERE id = ?",
                (
                    text,
                    reasoning,
                    status.value,
                    error_message,
                    finish_reason,
                    metrics_to_json(metrics),
                    now,
                    message_id,
                ),
            ).rowcount
            self._conn.execute(
                "UPDATE conversations SET updated_at = ? "
                "WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
                (now, message_id),
            )
        if count == 0:
            raise MessageNotFound()
        return self.get_message(message_id)

    def finish_turn(self, message_id: int, ended: TurnEnded) -> StoredMessage:
        """``finish_message`` from a session's ``TurnEnded``."""
        return self.finish_message(
            message_id,
            status=MessageStatus.from_turn_state(ended.state),
            text=ended.text,
            reasoning=ended.reasoning,
            error_message=str(ended.error) if ended.error is not None else None,
            finish_reason=ended.metrics.finish_reason,
            metrics=ended.metrics,
        )

    def edit_message(self, message_id: int, text: str) -> None:
        """Replace a message's text (edit-and-resend: then ``truncate_after`` it)."""
        cursor = self._execute(
            "UPDATE messages SET text = ?, updated_at = ? WHERE id = ?",
            (text, self._now(), message_id),
        )
        if cursor.rowcount == 0:
            raise MessageNotFound()

    def truncate_after(self, message_id: int, *, inclusive: bool = False) -> int:
        """Delete the messages after this one (and it too if ``inclusive``); returns how many.

        Regenerate: ``truncate_after(answer_id, inclusive=True)``; edit and
        resend: ``edit_message(question_id, text)`` then ``truncate_after(question_id)``.
        """
        compare = ">=" if inclusive else ">"
        with self._writing():
            row = self._conn.execute(
                "SELECT conversation_id, position FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise MessageNotFound()
            return self._conn.execute(
                f"DELETE FROM messages WHERE conversation_id = ? AND position {compare} ?",
                (row[0], row[1]),
            ).rowcount

    # ------------------------------------------------------------ search, import

    def search(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Conversations whose title matches, then messages; never raises for a query."""
        try:
            hits = search.search_titles(self._conn, query, limit)
            finder = search.search_fts if self.search_mode == "fts5" else search.search_like
            hits += finder(self._conn, query, max(0, limit - len(hits)))
        except sqlite3.Error as exc:
            raise database.translate(exc, "searched") from exc
        return hits

    def import_conversations(
        self, items: Sequence[tuple[Conversation, Sequence[StoredMessage]]]
    ) -> ImportReport:
        """Add conversations from elsewhere, all or nothing, with new local ids.

        A conversation whose ``uid`` is already here is skipped, so importing
        the same file twice adds nothing and never overwrites. Answers still
        marked streaming come in as interrupted.
        """
        imported = skipped = count = 0
        with self._writing(durable=True):
            for conversation, messages in items:
                if self._conn.execute(
                    "SELECT 1 FROM conversations WHERE uid = ?", (conversation.uid,)
                ).fetchone():
                    skipped += 1
                    continue
                new_id = self._conn.execute(
                    "INSERT INTO conversations (uid, title, profile, model, pinned, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation.uid,
                        conversation.title,
                        conversation.profile,
                        conversation.model,
                        int(conversation.pinned),
                        conversation.created_at,
                        conversation.updated_at,
                    ),
                ).lastrowid
                self._conn.executemany(
                    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) "
                    "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    list(_message_rows(new_id or 0, messages)),
                )
                imported += 1
                count += len(messages)
        return ImportReport(imported=imported, skipped=skipped, messages=count)

    # ------------------------------------------------------------ internals

    def _now(self) -> float:
        return round(self._clock(), 3)

    def _writing(self, *, durable: bool = False) -> AbstractContextManager[None]:
        return database.write_transaction(self._conn, durable=durable)

    def _append(
        self,
        conversation_id: int,
        role: Role,
        text: str,
        reasoning: str,
        status: MessageStatus,
        model: str | None,
        profile: str | None,
    ) -> int:
        now = self._now()
        touched = self._conn.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
        ).rowcount
        if touched == 0:
            raise ConversationNotFound(
                f"There is no conversation {conversation_id} in the history."
            )
        cursor = self._conn.execute(
            "INSERT INTO messages (conversation_id, position, role, text, reasoning, status, "
            "model, profile, created_at, updated_at) VALUES (?, "
            "(SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?), "
            "?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                conversation_id,
                role,
                text,
                reasoning,
                status.value,
                model,
                profile,
                now,
                now,
            ),
        )
        return int(cursor.lastrowid or 0)

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


def _conversation(row: Any) -> Conversation:
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


def _message(row: Any) -> StoredMessage:
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


def _message_rows(
    conversation_id: int, messages: Sequence[StoredMessage]
) -> Iterator[tuple[object, ...]]:
    for position, m in enumerate(messages):
        status = MessageStatus.INTERRUPTED if m.status is MessageStatus.STREAMING else m.status
        yield (
            conversation_id,
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
