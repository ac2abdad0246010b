"""The scrolling list of messages of one conversation.

Owns: which messages have widgets (the newest page at first, earlier pages as
the user scrolls up, so 10,000 messages open as fast as 25), coalescing of
streamed text (one flush per frame, whatever the token rate), and scrolling:
follow the bottom only while the user is there, a floating "Jump to latest"
button otherwise, and scroll anchoring so nothing the user is reading moves
when a message above or around it changes (a stream ending, reasoning
collapsing, earlier messages loading).

Must not: run streams, talk to the network or storage, or decide what an
error means (the shell passes sentences in ``MessageView``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
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
from desktop_app.qt.message_widget import MessageView, MessageWidget
from desktop_app.qt.scroll_follower import (
    FOLLOW_SLOP,
    NEAR_TOP_MARGIN,
    FollowedColumn,
    JumpToLatestButton,
    ScrollFollower,
)
from desktop_app.qt.theme import Theme, ThemeMode, chat_stylesheet, theme_for, themed_icon

__all__ = ["ChatView", "MessageView"]

# Messages given widgets at a time (the newest page first, then older pages).
PAGE_SIZE = 25
# Flush interval bounds (ms): one frame at least, and at most a lag users notice.
MIN_FRAME_MS = 16
MAX_FRAME_MS = 66
# Characters shown per message per flush: bounds the work of one flush
# (~16 ms of Qt layout for plain text; a real stream brings ~20k characters/s).
FLUSH_BUDGET = 16_000
# A stream that ends with more than this still queued is finished over the
# next frames rather than in one long call.
END_SYNC_BACKLOG = 64_000


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
        self._views: list[MessageView] = []
        self._positions: dict[str, int] = {}
        self._loaded: list[MessageWidget] = []  # widgets of _views[_first_loaded:]
        self._widgets: dict[str, MessageWidget] = {}
        self._first_loaded = 0
        self._streaming: set[str] = set()
        self._frame_ms = MIN_FRAME_MS
        self._loading_scheduled = False
        self._font_points: float | None = None
        self._closing: dict[str, MessageView] = {}  # ended, backlog still being shown

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
            self._scroll, lambda: self._loaded, fine=(MarkdownSegment, MarkdownBody, QLabel)
        )
        self._follower.followingChanged.connect(self.followingChanged)
        self._follower.positionChanged.connect(self._update_jump_button)
        self._follower.nearTop.connect(self._on_near_top)
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

        shortcut = QShortcut(QKeySequence("Ctrl+End"), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.jump_to_latest)

        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self._on_flush_timer)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(400)
        self._tick_timer.timeout.connect(self._tick)
        self.set_theme(self._theme)
        warm_up_in_background()

    # ------------------------------------------------------------------ API
    def set_messages(self, messages: Sequence[MessageView]) -> None:
        """Open a conversation: widgets only for the newest page; follow the bottom."""
        self._clear()
        self._views = [dataclasses.replace(m) for m in messages]
        self._positions = {m.id: i for i, m in enumerate(self._views)}
        self._first_loaded = max(0, len(self._views) - PAGE_SIZE)
        widgets = [self._make_widget(v) for v in self._views[self._first_loaded :]]
        for offset, widget in enumerate(widgets):
            self._column.insertWidget(1 + offset, widget)
        self._loaded = widgets
        for widget in widgets:
            if widget.streaming:
                self._streaming.add(widget.message_id)
        self._after_structure_change()
        self._follower.set_following(True)
        self._follower.scroll_to_bottom()

    def append_message(self, message: MessageView) -> None:
        view = dataclasses.replace(message)
        if view.id in self._positions:
            self.update_message(view)
            return
        self._positions[view.id] = len(self._views)
        self._views.append(view)
        widget = self._make_widget(view)
        self._column.insertWidget(1 + len(self._loaded), widget)
        self._loaded.append(widget)
        if view.status == "streaming":
            self._streaming.add(view.id)
            self._tick_timer.start()
        self._after_structure_change()
        if view.role == "user":
            # The user just sent something: show it (and what follows).
            self.jump_to_latest()

    def begin_stream(self, message_id: str) -> None:
        widget = self._widgets.get(message_id)
        self._set_status(message_id, "streaming")
        if widget is not None:
            widget.begin_stream()
            self._streaming.add(message_id)
            self._tick_timer.start()
            self._update_last_flags()

    def append_text(self, message_id: str, text: str) -> None:
        widget = self._widgets.get(message_id)
        if widget is not None:
            if message_id not in self._streaming:
                self.begin_stream(message_id)  # text without begin_stream still shows
            widget.append_text(text)
            self._schedule_flush()
        elif message_id in self._positions:
            self._views[self._positions[message_id]].text += text

    def append_reasoning(self, message_id: str, text: str) -> None:
        widget = self._widgets.get(message_id)
        if widget is not None:
            if message_id not in self._streaming:
                self.begin_stream(message_id)
            widget.append_reasoning(text)
            self._schedule_flush()
        elif message_id in self._positions:
            self._views[self._positions[message_id]].reasoning += text

    def set_status_line(self, message_id: str, text: str) -> None:
        widget = self._widgets.get(message_id)
        if widget is not None:
            widget.set_status_line(text)

    def end_stream(self, message_id: str, view: MessageView) -> None:
        """Final state of a streamed answer; pending text is shown first, nothing jumps.

        A huge backlog (a hostile burst) is shown over the next frames first,
        then the final state is applied: no single call does unbounded work.
        """
        widget = self._widgets.get(message_id)
        if widget is not None and widget.backlog > END_SYNC_BACKLOG:
            self._closing[message_id] = dataclasses.replace(view)
            self._schedule_flush()
            return
        self._finish_stream(message_id, view)

    def _finish_stream(self, message_id: str, view: MessageView) -> None:
        self._closing.pop(message_id, None)
        widget = self._widgets.get(message_id)
        self._streaming.discard(message_id)
        if not self._streaming:
            self._tick_timer.stop()
        if widget is not None:
            widget.end_stream(view)
            final = dataclasses.replace(widget.view)
        else:
            final = dataclasses.replace(view)
        if message_id in self._positions:
            self._views[self._positions[message_id]] = final
        self._update_last_flags()

    def update_message(self, view: MessageView) -> None:
        position = self._positions.get(view.id)
        if position is None:
            return
        self._views[position] = dataclasses.replace(view)
        self._closing.pop(view.id, None)
        widget = self._widgets.get(view.id)
        if widget is not None:
            widget.update_view(view)
            if view.status == "streaming":
                self._streaming.add(view.id)
                self._tick_timer.start()
            else:
                self._streaming.discard(view.id)
        self._update_last_flags()

    def remove_messages_after(self, message_id: str) -> None:
        """Drop every message after ``message_id`` (edit-and-resend, regenerate)."""
        position = self._positions.get(message_id)
        if position is None:
            return
        removed = self._views[position + 1 :]
        del self._views[position + 1 :]
        for view in removed:
            self._positions.pop(view.id, None)
            self._streaming.discard(view.id)
            self._closing.pop(view.id, None)
            widget = self._widgets.pop(view.id, None)
            if widget is not None:
                self._loaded.remove(widget)
                self._column.removeWidget(widget)
                widget.deleteLater()
        self._after_structure_change()

    def displayed_text(self, message_id: str) -> str:
        """Plain text currently shown for a message ("" if it has no widget yet)."""
        widget = self._widgets.get(message_id)
        return widget.displayed_text() if widget is not None else ""

    def raw_text(self, message_id: str) -> str:
        """The full text received for a message (the source of truth)."""
        widget = self._widgets.get(message_id)
        if widget is not None:
            return widget.raw_text()
        position = self._positions.get(message_id)
        return self._views[position].text if position is not None else ""

    def message_widget(self, message_id: str) -> MessageWidget | None:
        return self._widgets.get(message_id)

    def loaded_widget_count(self) -> int:
        return len(self._loaded)

    def message_count(self) -> int:
        return len(self._views)

    @property
    def following(self) -> bool:
        return self._follower.following

    @Slot()
    def jump_to_latest(self) -> None:
        self._follower.set_following(True)
        self._follower.scroll_to_bottom()

    def flush(self) -> None:
        """Show all queued streamed text now (tests, self-test, before a switch)."""
        self._flush_timer.stop()
        for message_id in list(self._streaming):
            widget = self._widgets.get(message_id)
            while widget is not None and widget.flush(None):
                pass
        for message_id, view in list(self._closing.items()):
            self._finish_stream(message_id, view)

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
            for widget in self._loaded:
                widget.set_theme(theme)

    @property
    def theme(self) -> Theme:
        return self._theme

    @Slot()
    def load_earlier(self) -> None:
        """Give widgets to the previous page of messages, keeping the view still."""
        if self._first_loaded == 0:
            return
        start = max(0, self._first_loaded - PAGE_SIZE)
        self._follower.keep_still()
        widgets = [self._make_widget(v) for v in self._views[start : self._first_loaded]]
        for offset, widget in enumerate(widgets):
            self._column.insertWidget(1 + offset, widget)
        self._loaded[:0] = widgets
        self._first_loaded = start
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
        self._widgets[view.id] = widget
        return widget

    def _clear(self) -> None:
        self._closing.clear()
        self._flush_timer.stop()
        self._tick_timer.stop()
        self._streaming.clear()
        self._follower.forget()
        for widget in self._loaded:
            self._column.removeWidget(widget)
            widget.deleteLater()
        self._loaded = []
        self._widgets = {}
        self._views = []
        self._positions = {}
        self._first_loaded = 0

    def _after_structure_change(self) -> None:
        self._load_earlier.setVisible(self._first_loaded > 0)
        self._update_last_flags()
        if self._streaming:
            self._tick_timer.start()

    def _update_last_flags(self) -> None:
        last_id = self._views[-1].id if self._views else None
        for widget in self._loaded:
            widget.set_is_last(widget.message_id == last_id and widget.view.role == "assistant")

    def _set_status(self, message_id: str, status: str) -> None:
        position = self._positions.get(message_id)
        if position is not None:
            self._views[position].status = status

    def _on_link_refused(self, url: str) -> None:
        message = "Link not opened: only web links (http, https) open from answers."
        QToolTip.showText(QCursor.pos(), message, self)
        self.noticeShown.emit(message)

    # ------------------------------------------------------------------ streaming
    def _schedule_flush(self) -> None:
        if not self._flush_timer.isActive():
            self._flush_timer.start(self._frame_ms)

    def _on_flush_timer(self) -> None:
        started = time.perf_counter()
        more = False
        for message_id in list(self._streaming):
            widget = self._widgets.get(message_id)
            if widget is not None and widget.backlog:
                more = widget.flush(FLUSH_BUDGET) or more
        for message_id, view in list(self._closing.items()):
            widget = self._widgets.get(message_id)
            if widget is None or widget.backlog <= END_SYNC_BACKLOG:
                self._finish_stream(message_id, view)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Expensive flushes space themselves out (at most ~1/3 of the time rendering).
        self._frame_ms = int(min(MAX_FRAME_MS, max(MIN_FRAME_MS, elapsed_ms * 2)))
        if more:
            self._schedule_flush()

    def _tick(self) -> None:
        for message_id in self._streaming:
            widget = self._widgets.get(message_id)
            if widget is not None:
                widget.tick()

    # ------------------------------------------------------------------ scrolling
    def _on_near_top(self) -> None:
        if self._first_loaded > 0 and not self._loading_scheduled:
            self._loading_scheduled = True
            QTimer.singleShot(0, self._load_earlier_if_near_top)

    def _load_earlier_if_near_top(self) -> None:
        self._loading_scheduled = False
        if self._scroll.verticalScrollBar().value() < NEAR_TOP_MARGIN:
            self.load_earlier()

    def _update_jump_button(self) -> None:
        follower = self._follower
        show = not follower.following and follower.distance_from_bottom > FOLLOW_SLOP
        if show != self._jump.isVisible():
            self._jump.setVisible(show)
            if show:
                self._jump.place()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._jump.place()
        width = self._scroll.viewport().width()
        for widget in self._loaded:
            widget.set_available_width(width)
