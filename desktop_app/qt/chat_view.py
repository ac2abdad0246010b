"""The scrolling list of messages of one conversation.

Owns: which messages have widgets (through ``MessagePages``: the newest
page at first, other pages as the user scrolls, so 10,000 messages open as
fast as 25), streamed text (through ``StreamFlusher``: one flush per frame,
whatever the token rate), and scrolling: follow the bottom only while the user is there,
a floating "Jump to latest" button otherwise, scroll anchoring so nothing the
user is reading moves when a message above or around it changes (a stream
ending, reasoning collapsing, earlier messages loading), and
``scroll_to_message`` (a search hit: shown at the top, briefly highlighted).

Every change that resizes text boxes ends with ``_settle_layout``: the new
heights reach the column before anything is painted, so no frame shows a
box clipped by a parent that has not grown yet.

Must not: run streams, talk to the network or storage, or decide what an
error means (the shell passes sentences in ``MessageView``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCursor, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qt.markdown_body import MarkdownBody, MarkdownSegment, warm_up_in_background
from desktop_app.qt.message_pages import PAGE_SIZE, MessagePages
from desktop_app.qt.message_widget import MessageView, MessageWidget
from desktop_app.qt.scroll_follower import (
    FOLLOW_SLOP,
    NEAR_TOP_MARGIN,
    FollowedColumn,
    JumpToLatestButton,
    ScrollFollower,
)
from desktop_app.qt.stream_flusher import END_SYNC_BACKLOG, FLUSH_BUDGET, StreamFlusher
from desktop_app.qt.theme import Theme, ThemeMode, chat_stylesheet, theme_for, themed_icon

__all__ = ["END_SYNC_BACKLOG", "FLUSH_BUDGET", "PAGE_SIZE", "ChatView", "MessageView"]

# A message scrolled to is shown this far below the top, highlighted this long.
SCROLL_TO_MARGIN = 8
HIGHLIGHT_MS = 1_500
# Rounds of posted layout requests handled by ``_settle_layout``: one per level
# from a text box up to the column (segment, body, bubble, message, column).
_LAYOUT_ROUNDS = 8


class ChatView(QWidget):
    """Shows one conversation; the shell feeds it messages and streamed text."""

    retryRequested = Signal(str)
    continueRequested = Signal(str)
    regenerateRequested = Signal(str)
    editRequested = Signal(str)
    linkActivated = Signal(QUrl)
    noticeShown = Signal(str)  # short feedback: "Copied", "Link not opened: ..."
    followingChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, theme: Theme | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self._theme = theme or theme_for(ThemeMode.SYSTEM)
        self._loading_scheduled = False
        self._font_points: float | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._scroll = QScrollArea(self)
        self._scroll.setObjectName("chatScroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setAccessibleName("Conversation")
        outer.addWidget(self._scroll)
        self._jump = JumpToLatestButton(self)
        self._jump.clicked.connect(self.jump_to_latest)
        self._follower = ScrollFollower(
            self._scroll,
            lambda: self._pages.loaded,
            fine=(MarkdownSegment, MarkdownBody, QLabel),
            at_latest=lambda: self._pages.at_end,
        )
        self._follower.followingChanged.connect(self.followingChanged)
        self._follower.positionChanged.connect(self._update_jump_button)
        self._follower.nearTop.connect(self._on_near_top)
        self._follower.nearBottom.connect(self._on_near_bottom)
        self._container = QWidget()
        self._container.setObjectName("chatContainer")
        self._column = FollowedColumn(self._container, lambda: self._follower.placed())
        self._column.setContentsMargins(0, 8, 0, 8)
        self._column.setSpacing(4)
        self._load_earlier = QPushButton("Show earlier messages", self._container)
        self._load_earlier.setObjectName("loadEarlier")
        self._load_earlier.setAccessibleName("Show earlier messages")
        self._load_earlier.setToolTip("Load the previous messages of this conversation")
        self._load_earlier.clicked.connect(self.load_earlier)
        self._load_earlier.setVisible(False)
        self._column.addWidget(self._load_earlier, 0, Qt.AlignmentFlag.AlignHCenter)
        self._column.addStretch(1)
        self._scroll.setWidget(self._container)
        self._pages = MessagePages(self._column, self._make_widget, leading_items=1)
        self._highlighted: MessageWidget | None = None
        self._highlight_timer = QTimer(self)
        self._highlight_timer.setSingleShot(True)
        self._highlight_timer.setInterval(HIGHLIGHT_MS)
        self._highlight_timer.timeout.connect(self._end_highlight)

        shortcut = QShortcut(QKeySequence("Ctrl+End"), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.jump_to_latest)

        self._flusher = StreamFlusher(
            self, self._pages.widget, self._finish_stream, self._settle_layout
        )
        self.set_theme(self._theme)
        warm_up_in_background()

    # ------------------------------------------------------------------ API
    def set_messages(self, messages: Sequence[MessageView]) -> None:
        """Open a conversation: widgets only for the newest page; follow the bottom."""
        self._clear()
        self._adopt(self._pages.open(messages))
        self._after_structure_change()
        self._follower.set_following(True)
        self._follower.scroll_to_bottom()

    def append_message(self, message: MessageView) -> None:
        view = dataclasses.replace(message)
        if self._pages.position(view.id) is not None:
            self.update_message(view)
            return
        widget = self._pages.append(view)
        if view.status == "streaming" and widget is not None:
            self._flusher.add(view.id)
        self._after_structure_change()
        if view.role == "user":
            # The user just sent something: show it (and what follows).
            self.jump_to_latest()

    def begin_stream(self, message_id: str) -> None:
        widget = self._pages.widget(message_id)
        self._set_status(message_id, "streaming")
        if widget is not None:
            widget.begin_stream()
            self._flusher.add(message_id)
            self._update_last_flags()
            self._settle_layout()

    def append_text(self, message_id: str, text: str) -> None:
        widget = self._pages.widget(message_id)
        if widget is not None:
            if message_id not in self._flusher.streaming:
                self.begin_stream(message_id)  # text without begin_stream still shows
            widget.append_text(text)
            self._flusher.schedule()
        elif (view := self._pages.view(message_id)) is not None:
            view.text += text

    def append_reasoning(self, message_id: str, text: str) -> None:
        widget = self._pages.widget(message_id)
        if widget is not None:
            if message_id not in self._flusher.streaming:
                self.begin_stream(message_id)
            widget.append_reasoning(text)
            self._flusher.schedule()
        elif (view := self._pages.view(message_id)) is not None:
            view.reasoning += text

    def set_status_line(self, message_id: str, text: str) -> None:
        widget = self._pages.widget(message_id)
        if widget is not None:
            widget.set_status_line(text)

    def end_stream(self, message_id: str, view: MessageView) -> None:
        """Final state of a streamed answer; pending text is shown first, nothing jumps.

        A huge backlog (a hostile burst) is shown over the next frames first,
        then the final state is applied: no single call does unbounded work.
        """
        if not self._flusher.defer_end(message_id, view):
            self._finish_stream(message_id, view)

    def _finish_stream(self, message_id: str, view: MessageView) -> None:
        self._flusher.discard(message_id)
        widget = self._pages.widget(message_id)
        stored = self._pages.view(message_id)
        if widget is not None:
            widget.end_stream(view)
            final = dataclasses.replace(widget.view)
        elif stored is not None:
            # No widget (scrolled out of the window): keep the text it streamed
            # unless the shell has the final one, as MessageWidget.end_stream does.
            final = dataclasses.replace(
                view,
                text=view.text or stored.text,
                reasoning=view.reasoning or stored.reasoning,
            )
        else:
            final = dataclasses.replace(view)
        position = self._pages.position(message_id)
        if position is not None:
            self._pages.views[position] = final
        self._update_last_flags()
        self._settle_layout()

    def update_message(self, view: MessageView) -> None:
        position = self._pages.position(view.id)
        if position is None:
            return
        self._pages.views[position] = dataclasses.replace(view)
        widget = self._pages.widget(view.id)
        if widget is None or view.status != "streaming":
            self._flusher.discard(view.id)
        if widget is not None:
            widget.update_view(view)
            if view.status == "streaming":
                self._flusher.add(view.id)
        self._update_last_flags()
        self._settle_layout()

    def remove_messages_after(self, message_id: str) -> None:
        """Drop every message after ``message_id`` (edit-and-resend, regenerate)."""
        position = self._pages.position(message_id)
        if position is None:
            return
        for view in self._pages.remove_after(position):
            self._flusher.discard(view.id)
        self._after_structure_change()

    def displayed_text(self, message_id: str) -> str:
        """Plain text currently shown for a message ("" if it has no widget yet)."""
        widget = self._pages.widget(message_id)
        return widget.displayed_text() if widget is not None else ""

    def raw_text(self, message_id: str) -> str:
        """The full text received for a message (the source of truth)."""
        widget = self._pages.widget(message_id)
        if widget is not None:
            return widget.raw_text()
        view = self._pages.view(message_id)
        return view.text if view is not None else ""

    def message_widget(self, message_id: str) -> MessageWidget | None:
        return self._pages.widget(message_id)

    def loaded_widget_count(self) -> int:
        return len(self._pages.loaded)

    def message_count(self) -> int:
        return len(self._pages.views)

    @property
    def following(self) -> bool:
        return self._follower.following

    @Slot()
    def jump_to_latest(self) -> None:
        if not self._pages.at_end:
            self._adopt(self._pages.show_latest())
            self._after_structure_change()
        self._follower.set_following(True)
        self._settle_layout()
        self._follower.scroll_to_bottom()

    def scroll_to_message(self, message_id: str, highlight: bool = True) -> bool:
        """Show message ``message_id`` at the top of the view (a search hit).

        Gives it a widget if it has none (loading the pages between, or moving
        the window of widgets there when it is far), stops following, keeps it
        in place while things around it change, and highlights it briefly.
        False if the conversation has no such message.
        """
        position = self._pages.position(message_id)
        if position is None:
            return False
        created = self._pages.reach(position)
        if created:
            self._adopt(created)
            self._after_structure_change()
        widget = self._pages.widget(message_id)
        if widget is None:  # pragma: no cover - reach() always gives it one
            return False
        self._settle_layout()
        self._follower.anchor_to(widget, SCROLL_TO_MARGIN)
        if highlight:
            self._end_highlight()
            self._highlighted = widget
            widget.set_highlighted(True)
            self._highlight_timer.start()
        return True

    def flush(self) -> None:
        """Show all queued streamed text now (tests, self-test, before a switch)."""
        self._flusher.flush_all()

    def set_font_point_size(self, points: float) -> None:
        """Text size of the chat (6-48 pt); headings and code scale with it."""
        self._font_points = max(6.0, min(48.0, float(points)))
        self.setStyleSheet(chat_stylesheet(self._theme, self._font_points))

    @property
    def font_point_size(self) -> float:
        return self._font_points or self.font().pointSizeF()

    def set_theme(self, theme: Theme) -> None:
        changed = theme != self._theme
        self._theme = theme
        self.setStyleSheet(chat_stylesheet(theme, self._font_points))
        self._jump.setIcon(
            themed_icon("jump-to-latest", dataclasses.replace(theme, muted=theme.on_accent))
        )
        if changed:
            for widget in self._pages.loaded:
                widget.set_theme(theme)

    @property
    def theme(self) -> Theme:
        return self._theme

    @Slot()
    def load_earlier(self) -> None:
        """Give widgets to the previous page of messages, keeping the view still."""
        if self._pages.at_start:
            return
        self._follower.keep_still()
        self._adopt(self._pages.load_earlier())
        self._after_structure_change()

    def load_later(self) -> None:
        """Give widgets to the next page (when the window does not reach the newest)."""
        if self._pages.at_end:
            return
        self._follower.keep_still()
        self._adopt(self._pages.load_later())
        self._after_structure_change()

    # ------------------------------------------------------------------ widgets
    def _make_widget(self, view: MessageView) -> MessageWidget:
        widget = MessageWidget(view, self._theme, self._container)
        widget.retryRequested.connect(self.retryRequested)
        widget.continueRequested.connect(self.continueRequested)
        widget.regenerateRequested.connect(self.regenerateRequested)
        widget.editRequested.connect(self.editRequested)
        widget.linkActivated.connect(self.linkActivated)
        widget.linkRefused.connect(self._on_link_refused)
        widget.copied.connect(lambda _id: self.noticeShown.emit("Message copied"))
        for body in widget.findChildren(MarkdownBody):
            body.codeCopied.connect(lambda _code: self.noticeShown.emit("Code copied"))
        widget.set_available_width(self._scroll.viewport().width())
        return widget

    def _adopt(self, widgets: list[MessageWidget]) -> None:
        """New widgets of streaming messages take part in flushes and ticks."""
        for widget in widgets:
            if widget.streaming:
                self._flusher.add(widget.message_id)

    def _clear(self) -> None:
        self._flusher.clear()
        self._follower.forget()
        self._end_highlight()
        self._pages.clear()

    def _after_structure_change(self) -> None:
        self._load_earlier.setVisible(not self._pages.at_start)
        self._update_last_flags()
        self._settle_layout()

    def _settle_layout(self) -> None:
        """Lay the column out now, bottom-up, instead of over several posted events.

        A text box that grows posts a layout request to its parent, which
        posts one to its own parent once laid out, and so on; a frame painted
        between two of those shows the box clipped or overlapping the next
        one. Handling them here (each round is one level) keeps every frame
        consistent; the work is the same, only done before the paint.
        """
        for _ in range(_LAYOUT_ROUNDS):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def _update_last_flags(self) -> None:
        views = self._pages.views
        last_id = views[-1].id if views else None
        for widget in self._pages.loaded:
            widget.set_is_last(widget.message_id == last_id and widget.view.role == "assistant")

    def _set_status(self, message_id: str, status: str) -> None:
        view = self._pages.view(message_id)
        if view is not None:
            view.status = status

    def _end_highlight(self) -> None:
        self._highlight_timer.stop()
        widget, self._highlighted = self._highlighted, None
        if widget is not None and shiboken6.isValid(widget):
            widget.set_highlighted(False)

    def _on_link_refused(self, url: str) -> None:
        message = "Link not opened: only web links (http, https) open from answers."
        QToolTip.showText(QCursor.pos(), message, self)
        self.noticeShown.emit(message)

    # ------------------------------------------------------------------ scrolling
    def _on_near_top(self) -> None:
        if not self._pages.at_start and not self._loading_scheduled:
            self._loading_scheduled = True
            QTimer.singleShot(0, self._load_near_edges)

    def _on_near_bottom(self) -> None:
        if not self._pages.at_end and not self._loading_scheduled:
            self._loading_scheduled = True
            QTimer.singleShot(0, self._load_near_edges)

    def _load_near_edges(self) -> None:
        self._loading_scheduled = False
        if self._scroll.verticalScrollBar().value() < NEAR_TOP_MARGIN:
            self.load_earlier()
        if self._follower.distance_from_bottom < NEAR_TOP_MARGIN:
            self.load_later()

    def _update_jump_button(self) -> None:
        follower = self._follower
        below = follower.distance_from_bottom > FOLLOW_SLOP or not self._pages.at_end
        show = not follower.following and below
        if show != self._jump.isVisible():
            self._jump.setVisible(show)
            if show:
                self._jump.place()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._jump.place()
        width = self._scroll.viewport().width()
        for widget in self._pages.loaded:
            widget.set_available_width(width)
