"""The conversation list: newest first, new, rename, delete with undo, search over history.

The sidebar shows what the window hands it (``ConversationItem``s, or search
hits) and says what the user asked for through signals; it never reads or
writes history itself. Deleting is undoable: the window soft-deletes at once
and the sidebar shows an undo bar for a few seconds (no "are you sure?"
dialog, which is slower and easier to click through).

It never awaits and never opens modal dialogs.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

UNDO_SECONDS = 8
_ID_ROLE = Qt.ItemDataRole.UserRole
_TITLE_ROLE = Qt.ItemDataRole.UserRole + 1
_SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 2
_SEARCH_DELAY_MS = 200  # type-ahead: query once the user pauses
STREAMING_MARK = " ●"


@dataclass(frozen=True, slots=True)
class ConversationItem:
    """One row: ``subtitle`` is a date, or the matching text for a search hit."""

    id: str
    title: str
    subtitle: str = ""


class _ConversationDelegate(QStyledItemDelegate):
    """Two lines per conversation: the title, and a muted date or search snippet."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        title = opt.text
        subtitle = str(index.data(_SUBTITLE_ROLE) or "")
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = opt.rect.adjusted(10, 5, -8, -5)
        metrics = QFontMetrics(opt.font)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(QPalette.ColorRole.Text))
        first = metrics.elidedText(title, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), first)
        if subtitle:
            small = QFont(opt.font)
            small.setPointSizeF(max(6.0, opt.font.pointSizeF() * 0.85))
            painter.setFont(small)
            painter.setPen(opt.palette.color(QPalette.ColorRole.PlaceholderText))
            line = " ".join(subtitle.split())
            second = QFontMetrics(small).elidedText(line, Qt.TextElideMode.ElideRight, rect.width())
            painter.drawText(
                rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom), second
            )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        # As wide as the list, whatever the title: paint() elides it. The title's own width
        # would give the list a horizontal scroll bar for one long title.
        line = QFontMetrics(option.font).lineSpacing()
        return QSize(1, int(line * 2.1) + 12)


class _UndoBar(QWidget):
    undoClicked = Signal()
    expired = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.button = QPushButton("Undo", self)
        self.button.setAccessibleName("Undo delete")
        self.button.setToolTip("Bring the conversation back (Ctrl+Z)")
        self.button.clicked.connect(self.undoClicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expire)
        self.hide()

    def show_for(self, title: str) -> None:
        self.label.setText(f"Deleted “{_elide(title, 40)}”.")
        self.setAccessibleName(f"Deleted {title}. Undo is available.")
        self.show()
        self._timer.start(UNDO_SECONDS * 1000)

    def _expire(self) -> None:
        self.hide()
        self.expired.emit()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()


class Sidebar(QWidget):
    """The list of conversations and the search box above it."""

    conversationSelected = Signal(str)
    newRequested = Signal()
    renameRequested = Signal(str, str)  # (conversation id, new title)
    deleteRequested = Signal(str)
    undoRequested = Signal()
    searchChanged = Signal(str)  # "" when the search is cleared

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self._streaming: set[str] = set()
        self._filling = False
        self._searching = False

        self.new_button = QPushButton("New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setAccessibleName("New chat")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.newRequested)

        self.search = QLineEdit(self)
        self.search.setObjectName("historySearch")
        self.search.setPlaceholderText("Search all chats")
        self.search.setAccessibleName("Search all conversations")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(_SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._emit_search)

        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversations")
        self.list.setUniformItemSizes(True)
        self.list.setItemDelegate(_ConversationDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._item_edited)

        self.empty_label = QLabel("No matching chats.", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        self.undo_bar = _UndoBar(self)
        self.undo_bar.undoClicked.connect(self._undo)

        delete_action = QAction("Delete conversation", self.list)
        delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete_action.triggered.connect(self.delete_current)
        self.list.addAction(delete_action)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.new_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.undo_bar)

    # ------------------------------------------------------------ filled by the window

    @property
    def searching(self) -> bool:
        return self._searching

    def set_conversations(self, items: list[ConversationItem], current: str | None) -> None:
        """Show the conversation list (newest first, as given) and select ``current``."""
        self._searching = False
        self._fill(items, current)
        self.empty_label.hide()

    def show_search_results(self, items: list[ConversationItem]) -> None:
        """Show search hits in place of the list, the current one kept selected if present."""
        self._searching = True
        self._fill(items, self.current_id())
        self.empty_label.setVisible(not items)

    def _fill(self, items: list[ConversationItem], current: str | None) -> None:
        self._filling = True
        try:
            self.list.clear()
            for conv in items:
                item = QListWidgetItem(self._label(conv.id, conv.title))
                item.setData(_ID_ROLE, conv.id)
                item.setData(_TITLE_ROLE, conv.title)
                tip = conv.title if not conv.subtitle else f"{conv.title}\n{conv.subtitle}"
                item.setToolTip(tip)
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, conv.subtitle)
                item.setData(_SUBTITLE_ROLE, conv.subtitle)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.list.addItem(item)
                if conv.id == current:
                    self.list.setCurrentItem(item)
        finally:
            self._filling = False

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(_ID_ROLE))

    def select(self, conversation_id: str) -> None:
        item = self._item(conversation_id)
        if item is not None:
            self._filling = True
            try:
                self.list.setCurrentItem(item)
            finally:
                self._filling = False

    def clear_current(self) -> None:
        """No conversation is current (a new chat): clicking any row opens it again."""
        self._filling = True
        try:
            self.list.setCurrentRow(-1)
        finally:
            self._filling = False

    def ids(self) -> list[str]:
        return [str(self.list.item(i).data(_ID_ROLE)) for i in range(self.list.count())]

    def title_of(self, conversation_id: str) -> str | None:
        item = self._item(conversation_id)
        return None if item is None else str(item.data(_TITLE_ROLE))

    def set_streaming(self, conversation_id: str, streaming: bool) -> None:
        """Mark a conversation whose answer is still arriving (a dot after its title)."""
        if streaming:
            self._streaming.add(conversation_id)
        else:
            self._streaming.discard(conversation_id)
        item = self._item(conversation_id)
        if item is not None:
            self._filling = True
            try:
                item.setText(self._label(conversation_id, str(item.data(_TITLE_ROLE))))
                state = "answering" if streaming else ""
                item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{item.text()} {state}".strip())
            finally:
                self._filling = False

    def show_undo(self, title: str) -> None:
        self.undo_bar.show_for(title)

    def hide_undo(self) -> None:
        self.undo_bar.dismiss()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # ------------------------------------------------------------ user actions

    def begin_rename(self, conversation_id: str | None = None) -> None:
        """Edit the title in place (F2); Enter saves, Esc keeps the old one."""
        item = self.list.currentItem() if conversation_id is None else self._item(conversation_id)
        if item is None:
            return
        self._filling = True
        try:
            item.setText(str(item.data(_TITLE_ROLE)))  # no streaming mark while editing
        finally:
            self._filling = False
        self.list.editItem(item)

    def delete_current(self) -> None:
        conversation_id = self.current_id()
        if conversation_id is not None:
            self.deleteRequested.emit(conversation_id)

    def _undo(self) -> None:
        self.undo_bar.dismiss()
        self.undoRequested.emit()

    def _emit_search(self) -> None:
        self._search_timer.stop()
        self.searchChanged.emit(self.search.text().strip())

    def _current_changed(self, current: QListWidgetItem | None, _prev: object) -> None:
        if self._filling or current is None:
            return
        self.conversationSelected.emit(str(current.data(_ID_ROLE)))

    def _item_edited(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        conversation_id = str(item.data(_ID_ROLE))
        old = str(item.data(_TITLE_ROLE))
        new = " ".join(item.text().split())
        self._filling = True
        try:
            if new and new != old:
                item.setData(_TITLE_ROLE, new)
            item.setText(self._label(conversation_id, str(item.data(_TITLE_ROLE))))
        finally:
            self._filling = False
        if new and new != old:
            self.renameRequested.emit(conversation_id, new)

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        conversation_id = str(item.data(_ID_ROLE))
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction("Rename", lambda: self.begin_rename(conversation_id)).setShortcut(
            QKeySequence(Qt.Key.Key_F2)
        )
        menu.addAction("Delete", lambda: self.deleteRequested.emit(conversation_id)).setShortcut(
            QKeySequence(QKeySequence.StandardKey.Delete)
        )
        # popup(), never exec(): no nested event loop under qasync.
        menu.popup(self.list.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------ helpers

    def _item(self, conversation_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(_ID_ROLE) == conversation_id:
                return item
        return None

    def _label(self, conversation_id: str, title: str) -> str:
        mark = STREAMING_MARK if conversation_id in self._streaming else ""
        return (title or "New chat") + mark


def _elide(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
