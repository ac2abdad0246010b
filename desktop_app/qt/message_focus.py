"""Bring one message of the open conversation into view and flash it (a search hit).

``reveal_search_hit`` finds the conversation's best match for the sidebar's
query (the history's own search order) and reveals it.

``reveal_message(view, message_id)`` gives the message a widget (loading
earlier pages through ``ChatView.load_earlier``), scrolls it near the top of
the chat once the column is laid out (``_Scroller``), and draws a ``Flash``
around it for a moment so the eye finds it. Built on ChatView's public API only; the
scrolling policy (following stops, the anchor holds the message still) stays
the chat view's. A ``ChatView.scroll_to_message`` (being added with paged
message widgets) does all of this itself and is used when present.

Must not: change the message or its widget's state (the flash is a child
that paints a frame over it and deletes itself).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QScrollArea, QWidget

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.storage import HistoryStore
from desktop_app.qt.chat_view import ChatView

FLASH_MS = 2200
TOP_MARGIN = 24  # pixels left above the revealed message
SCROLL_TRIES = 60  # frames to wait for the column's layout (about a second)


def reveal_message(view: ChatView, message_id: str) -> bool:
    """Scroll ``message_id`` into view and flash it; False if the conversation lacks it."""
    # The chat view's own jump (paged widgets, anchoring, highlight) where it has one.
    scroll_to_message = getattr(view, "scroll_to_message", None)
    if scroll_to_message is not None:
        return bool(scroll_to_message(message_id))
    widget = view.message_widget(message_id)
    for _ in range(view.message_count()):
        if widget is not None:
            break
        loaded = view.loaded_widget_count()
        view.load_earlier()
        widget = view.message_widget(message_id)
        if widget is None and view.loaded_widget_count() == loaded:
            break  # nothing more to load
    if widget is None:
        return False
    _Scroller(view, widget)
    Flash(widget, view.theme.accent)
    return True


class _Scroller(QObject):
    """Scrolls ``widget`` near the top once the column is laid out, then goes away.

    New widgets get their geometry, and the scroll area its range, over the
    next event-loop turns; until the target is in range a scroll would be
    clamped and then undone by following the bottom. So it tries each frame
    (at most ``SCROLL_TRIES``) and scrolls once, like a user would: following
    stops and the chat view's anchor keeps the message still from then on.
    """

    def __init__(self, view: ChatView, widget: QWidget) -> None:
        super().__init__(view)
        self._view = view
        self._widget = widget
        self._tries = 0
        self._timer = QTimer(self)
        self._timer.setInterval(16)
        self._timer.timeout.connect(self._try)
        self._timer.start()

    def _try(self) -> None:
        self._tries += 1
        area = self._view.findChild(QScrollArea, "chatScroll")
        column = area.widget() if area is not None else None
        if area is None or column is None or not shiboken6.isValid(self._widget):
            self._done()
            return
        # Lay the column out now (what the next turns of the loop would do).
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        bar = area.verticalScrollBar()
        top = self._widget.mapTo(column, QPoint(0, 0)).y()
        target = max(0, top - TOP_MARGIN)
        # Placed (below the column's top margin) and reachable: scroll once.
        if (top > 0 and target <= bar.maximum()) or self._tries >= SCROLL_TRIES:
            bar.setValue(min(target, bar.maximum()))
            self._done()

    def _done(self) -> None:
        self._timer.stop()
        self.deleteLater()


def reveal_search_hit(
    view: ChatView, history: HistoryStore, conversation_id: int, query: str
) -> bool:
    """Reveal the open conversation's best message matching ``query`` (the search's order)."""
    try:
        hits = history.search(query)
    except StreamdeskError:
        return False
    for hit in hits:
        if hit.conversation_id == conversation_id and hit.message_id is not None:
            return reveal_message(view, str(hit.message_id))
    return False


class Flash(QWidget):
    """A rounded accent frame over a widget that fades out, then deletes itself."""

    def __init__(self, target: QWidget, color: str) -> None:
        super().__init__(target)
        self.setObjectName("messageFlash")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self._color = QColor(color)
        self._left = FLASH_MS
        self.setGeometry(target.rect())
        target.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._fade)
        self._timer.start()
        self.show()
        self.raise_()

    @property
    def opacity(self) -> float:
        return min(1.0, self._left / (FLASH_MS / 2))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.parent():
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        return False

    def _fade(self) -> None:
        self._left -= self._timer.interval()
        if self._left <= 0:
            self._timer.stop()
            self.hide()
            self.deleteLater()
            return
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(self._color)
        color.setAlphaF(self.opacity)
        painter.setPen(QPen(color, 3))
        fill = QColor(self._color)
        fill.setAlphaF(0.08 * self.opacity)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(2, 2, -2, -2), 10, 10)
        painter.end()
