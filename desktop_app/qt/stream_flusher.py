"""Coalescing of streamed text: one flush per frame, whatever the token rate.

Owns which messages of the chat are streaming, the frame timer that shows
their queued text (at most ``FLUSH_BUDGET`` characters per message per
flush, spaced out when flushes get expensive), the ticks of their streaming
indicators, and streams that ended with a big backlog: those are shown over
the next frames and only then finished (no single call does unbounded work).

Must not: create widgets, scroll, or know what a message's text means; the
chat view hands it a lookup, a finishing step and a layout step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from desktop_app.qt.message_view import MessageView
from desktop_app.qt.message_widget import MessageWidget

# Flush interval bounds (ms): one frame at least, and at most a lag users notice.
MIN_FRAME_MS = 16
MAX_FRAME_MS = 66
# Characters shown per message per flush: bounds the work of one flush
# (~16 ms of Qt layout for plain text; a real stream brings ~20k characters/s).
FLUSH_BUDGET = 16_000
# A stream that ends with more than this still queued is finished over the
# next frames rather than in one long call.
END_SYNC_BACKLOG = 64_000
TICK_MS = 400


class StreamFlusher(QObject):
    """Shows the queued text of every streaming message of one chat, once per frame."""

    def __init__(
        self,
        parent: QObject,
        widget_for: Callable[[str], MessageWidget | None],
        finish: Callable[[str, MessageView], None],
        settle: Callable[[], None],
    ) -> None:
        super().__init__(parent)
        self._widget_for = widget_for
        self._finish = finish  # applies a stream's final state
        self._settle = settle  # lays the chat out after text changed
        self.streaming: set[str] = set()
        self._closing: dict[str, MessageView] = {}  # ended, backlog still being shown
        self.frame_ms = MIN_FRAME_MS
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.on_timer)
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)

    def add(self, message_id: str) -> None:
        self.streaming.add(message_id)
        self._ticker.start()

    def discard(self, message_id: str) -> None:
        self.streaming.discard(message_id)
        self._closing.pop(message_id, None)
        if not self.streaming:
            self._ticker.stop()

    def clear(self) -> None:
        self.timer.stop()
        self._ticker.stop()
        self.streaming.clear()
        self._closing.clear()

    def schedule(self) -> None:
        if not self.timer.isActive():
            self.timer.start(self.frame_ms)

    def defer_end(self, message_id: str, view: MessageView) -> bool:
        """True if the stream has too much queued to end now: it ends after the frames
        that show it (with ``view``)."""
        widget = self._widget_for(message_id)
        if widget is None or widget.backlog <= END_SYNC_BACKLOG:
            return False
        self._closing[message_id] = dataclasses.replace(view)
        self.schedule()
        return True

    def flush_all(self) -> None:
        """Show everything queued now, and finish the streams waiting for that."""
        self.timer.stop()
        for message_id in list(self.streaming):
            widget = self._widget_for(message_id)
            while widget is not None and widget.flush(None):
                pass
        for message_id, view in list(self._closing.items()):
            self._finish(message_id, view)
        self._settle()

    def on_timer(self) -> None:
        """One frame's flush (what the timer runs)."""
        started = time.perf_counter()
        more = False
        for message_id in list(self.streaming):
            widget = self._widget_for(message_id)
            if widget is not None and widget.backlog:
                more = widget.flush(FLUSH_BUDGET) or more
        for message_id, view in list(self._closing.items()):
            widget = self._widget_for(message_id)
            if widget is None or widget.backlog <= END_SYNC_BACKLOG:
                self._finish(message_id, view)
        self._settle()
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Expensive flushes space themselves out (at most ~1/3 of the time rendering).
        self.frame_ms = int(min(MAX_FRAME_MS, max(MIN_FRAME_MS, elapsed_ms * 2)))
        if more:
            self.schedule()

    def _tick(self) -> None:
        for message_id in self.streaming:
            widget = self._widget_for(message_id)
            if widget is not None:
                widget.tick()
