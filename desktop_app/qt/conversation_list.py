"""What the sidebar means: the conversation list from history, search, delete with undo.

``ConversationList`` fills the ``Sidebar`` from the history (newest first,
with a short "when"), swaps in search hits while a query is typed, marks the
conversations still answering, and runs delete-with-undo: the conversation
is soft-deleted at once and an undo bar offers it back for a few seconds.

It writes through the ``ChatController`` (which stops a stream into a
deleted conversation first) and never blocks or opens a dialog.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.storage import HistoryStore
from desktop_app.qt.chat_controller import ChatController
from desktop_app.qt.errors import describe
from desktop_app.qt.sidebar import ConversationItem, Sidebar


class ConversationList(QObject):
    """Keeps the sidebar in step with the history."""

    openRequested = Signal(int)
    undoAvailable = Signal(bool)
    problemReported = Signal(str, str)

    def __init__(
        self,
        sidebar: Sidebar,
        history: HistoryStore,
        chat: ChatController,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.sidebar = sidebar
        self.history = history
        self.chat = chat
        self._last_deleted: int | None = None
        sidebar.conversationSelected.connect(lambda cid: self.openRequested.emit(int(cid)))
        sidebar.renameRequested.connect(lambda cid, title: chat.rename(int(cid), title))
        sidebar.deleteRequested.connect(lambda cid: self.delete(int(cid)))
        sidebar.undoRequested.connect(self.undo_delete)
        sidebar.undo_bar.expired.connect(self._undo_expired)
        sidebar.searchChanged.connect(self.search)
        chat.conversationsChanged.connect(self.refresh)
        chat.streamingChanged.connect(sidebar.set_streaming)

    def refresh(self) -> None:
        query = self.sidebar.search.text().strip()
        if self.sidebar.searching and query:
            self.search(query)
            return
        try:
            conversations = self.history.list_conversations()
        except StreamdeskError as exc:
            self.problemReported.emit(*describe(exc))
            return
        items = [
            ConversationItem(str(c.id), c.title or "New chat", when(c.updated_at))
            for c in conversations
        ]
        current = str(self.chat.current_id) if self.chat.current_id is not None else None
        self.sidebar.set_conversations(items, current)
        for cid in self.chat.streaming_ids():
            self.sidebar.set_streaming(str(cid), True)

    def search(self, query: str) -> None:
        if not query:
            self.refresh()
            return
        try:
            hits = self.history.search(query)
        except StreamdeskError as exc:
            self.problemReported.emit(*describe(exc))
            return
        seen: dict[int, ConversationItem] = {}
        for hit in hits:
            if hit.conversation_id not in seen:
                seen[hit.conversation_id] = ConversationItem(
                    str(hit.conversation_id), hit.title or "New chat", hit.snippet
                )
        self.sidebar.show_search_results(list(seen.values()))

    def delete(self, conversation_id: int) -> None:
        title = self.sidebar.title_of(str(conversation_id)) or "this chat"
        self.chat.delete(conversation_id)
        self._last_deleted = conversation_id
        self.sidebar.show_undo(title)
        self.undoAvailable.emit(True)

    def delete_current(self) -> None:
        if self.chat.current_id is not None:
            self.delete(self.chat.current_id)

    def undo_delete(self) -> None:
        if self._last_deleted is None:
            return
        conversation_id, self._last_deleted = self._last_deleted, None
        self.sidebar.hide_undo()
        self.undoAvailable.emit(False)
        self.chat.restore(conversation_id)

    def _undo_expired(self) -> None:
        self._last_deleted = None
        self.undoAvailable.emit(False)

    def neighbour(self, step: int) -> int | None:
        """The conversation ``step`` rows away from the current one (Ctrl+PgUp/PgDown)."""
        ids = self.sidebar.ids()
        if not ids:
            return None
        current = str(self.chat.current_id) if self.chat.current_id is not None else None
        index = ids.index(current) + step if current in ids else 0
        return int(ids[index]) if 0 <= index < len(ids) else None


def when(timestamp: float, now: float | None = None) -> str:
    """A short "when" for the list: just now, 5 min ago, today 14:02, 03 Mar 2026."""
    now = time.time() if now is None else now
    age = now - timestamp
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    local = time.localtime(timestamp)
    if time.localtime(now)[:3] == local[:3]:
        return time.strftime("today %H:%M", local)
    return time.strftime("%d %b %Y", local)
