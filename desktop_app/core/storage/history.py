"""The chat history: conversations and messages in SQLite, written as they stream.

Owns: ``HistoryStore``, the synchronous API the GUI (for its small writes,
on the GUI thread) and ``streamdesk ask`` call. One store holds one
connection and belongs to the thread that opened it.

On open it checks the file (see ``storage.database``), upgrades the schema,
turns every answer still marked ``streaming`` into ``interrupted`` (that is
how a crash shows up on the next start) and purges conversations deleted
long enough ago. A file that cannot be used never stops the app: the store
then lives in memory and says why in ``warnings``.

The public names below (``ConversationNotFound``, ``MessageNotFound``,
``make_title``, ``INTERRUPTED_BY_EXIT``) are re-exported for callers.

Must not: hold an API key (nothing here takes one), or block for long (every
write is one small transaction; ``checkpoint`` is a single UPDATE).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

from desktop_app.core import paths
from desktop_app.core.events import TurnEnded, TurnMetrics
from desktop_app.core.storage import database, search
from desktop_app.core.storage import rows as _rows
from desktop_app.core.storage.conversations import (
    ConversationNotFound,
    MessageNotFound,
    make_title,
)
from desktop_app.core.storage.inspections import InspectionStore
from desktop_app.core.storage.models import (
    Conversation,
    ImportReport,
    MessageStatus,
    Role,
    SearchHit,
    StoredMessage,
    metrics_to_json,
)
from desktop_app.core.storage.opening import (
    INTERRUPTED_BY_EXIT,
    PURGE_DELETED_AFTER,
    Opened,
    open_history,
    open_memory,
)
from desktop_app.core.storage.schema import MIGRATIONS, Migration


class HistoryStore(InspectionStore):
    """Use ``HistoryStore.open()``; the constructor is internal."""

    def __init__(self, opened: Opened, *, clock: Callable[[], float]) -> None:
        super().__init__(opened.conn, clock)
        self.path = opened.path
        self.search_mode: Literal["fts5", "like"] = "fts5" if opened.fts else "like"
        # Problems found while opening, for the GUI to show once (the app runs on).
        self.warnings = opened.warnings
        self.kept_aside = opened.kept_aside
        self.recovered = opened.recovered  # answers found still streaming, now interrupted

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
        maintenance: bool = True,
    ) -> HistoryStore:
        """Open (or create) the history; never raises for a bad file.

        - damaged file: renamed to ``history.sqlite3.corrupt-<time>`` (never
          deleted), a new one is started, ``warnings`` has a ``DatabaseCorrupt``
          naming the kept file;
        - file from a newer Streamdesk: left untouched, the store runs in
          memory (nothing is saved) with a ``DatabaseTooNew`` warning;
        - any other failure (permissions, full disk): in memory, with the
          ``StorageError``.
        ``use_fts=False`` forces the LIKE search (what happens anyway when this
        SQLite has no FTS5). ``maintenance=False`` skips crash recovery and
        the purge: for a second connection of the same process (an export
        thread), which must not mark the live stream interrupted.
        """
        opened = open_history(
            Path(path) if path is not None else paths.history_path(),
            use_fts=use_fts,
            purge_deleted_after=purge_deleted_after,
            clock=clock,
            migrations=migrations,
            maintenance=maintenance,
        )
        return cls(opened, clock=clock)

    @classmethod
    def in_memory(
        cls,
        *,
        use_fts: bool = True,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> HistoryStore:
        """A history that lives in memory only (tests, or when the file cannot be used)."""
        return cls(open_memory(use_fts=use_fts, migrations=migrations), clock=clock)

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

    # ------------------------------------------------------------ messages

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """All messages of a conversation in order, in one query."""
        rows = self._all(
            f"SELECT {_rows.MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        )
        return [_rows.message(row) for row in rows]

    def get_message(self, message_id: int) -> StoredMessage:
        row = self._one(f"SELECT {_rows.MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise MessageNotFound()
        return _rows.message(row)

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

    def reopen_message(self, message_id: int) -> StoredMessage:
        """Set a finished answer back to ``streaming``, keeping its text (Continue).

        Checkpoints then save the continuation as it streams, a crash shows it
        as interrupted, and ``finish_message`` ends it as usual. The old
        ending (its error, finish reason) no longer applies and is cleared.
        """
        with self._writing():
            row = self._conn.execute(
                "SELECT role FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise MessageNotFound()
            if row[0] != "assistant":
                raise ValueError("only an answer can be continued")
            self._conn.execute(
                "UPDATE messages SET status = 'streaming', error_message = NULL, "
                "finish_reason = NULL, updated_at = ? WHERE id = ?",
                (self._now(), message_id),
            )
        return self.get_message(message_id)

    def edit_message(self, message_id: int, text: str) -> None:
        """Replace a message's text (edit-and-resend: then ``truncate_after`` it).

        Editing a conversation's first user message re-titles the conversation
        when its title was the one made from that message (a title the user
        chose is kept).
        """
        with self._writing():
            row = self._conn.execute(
                "SELECT m.conversation_id, m.role, m.text, c.title, "
                "(SELECT MIN(position) FROM messages WHERE conversation_id = m.conversation_id "
                "AND role = 'user') = m.position "
                "FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
                "WHERE m.id = ?",
                (message_id,),
            ).fetchone()
            if row is None:
                raise MessageNotFound()
            conversation_id, role, old_text, title, first_user = row
            self._conn.execute(
                "UPDATE messages SET text = ?, updated_at = ? WHERE id = ?",
                (text, self._now(), message_id),
            )
            new_title = make_title(text)
            if role == "user" and first_user and title == make_title(old_text) and new_title:
                self._conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?", (new_title, conversation_id)
                )

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
        marked streaming come in as interrupted. ``items`` are newest first (as
        exported); they are inserted oldest first so that conversations with
        the same ``updated_at`` keep their order (ties are broken by id).
        """
        imported = skipped = count = 0
        with self._writing(durable=True):
            for conversation, messages in reversed(items):
                if _rows.insert_copy(self._conn, conversation, messages):
                    imported += 1
                    count += len(messages)
                else:
                    skipped += 1
        return ImportReport(imported=imported, skipped=skipped, messages=count)

    # ------------------------------------------------------------ internals

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


__all__ = [
    "INTERRUPTED_BY_EXIT",
    "ConversationNotFound",
    "HistoryStore",
    "MessageNotFound",
    "make_title",
]
