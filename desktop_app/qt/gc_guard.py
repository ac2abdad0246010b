"""Run Python's cyclic garbage collector on the GUI thread only.

Python collects cyclic garbage on whatever thread happens to allocate when a
threshold is crossed, and Streamdesk runs Python on other threads (the
embedded stub's server, keychain calls, the Markdown worker). A Qt object
freed by a collection on such a thread has its timers stopped from the wrong
thread: Qt warns "Timers cannot be stopped from another thread" and later
fires a timer at the freed object, which crashes the process.

``GuiThreadCollector`` turns automatic collection off and runs the same
generational collection from a timer on the GUI thread instead (the recipe
Qt-based Python apps use). It owns nothing else.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """While it lives, garbage is collected on the GUI thread, generation by generation."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        first, second, third = gc.get_count()
        if first > self._thresholds[0]:
            gc.collect(0)
            if second > self._thresholds[1]:
                gc.collect(1)
                if third > self._thresholds[2]:
                    gc.collect(2)

    def stop(self) -> None:
        """Collect everything now (on this thread) and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
