"""What an empty chat says: how to start, and what the offline demo is.

``EmptyState`` is a label laid over the chat view while the conversation on
screen has no messages. It follows the chat view's size (an event filter,
so the chat view needs no change) and hides as soon as a message is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

DEMO_TEXT = (
    "<h3>Ask anything to start</h3>"
    "<p>You are talking to the <b>offline demo server</b>: it runs on this computer and needs "
    "no network and no key. Its answers are samples that show what Streamdesk can do.</p>"
    "<p>Type <code>/scenarios</code> to see the faults it can act out (a slow first token, "
    "a dropped connection…), or add your own server in <b>Settings</b> (Ctrl+,).</p>"
)
SERVER_TEXT = (
    "<h3>Ask anything to start</h3>"
    "<p>Enter sends, Shift+Enter starts a new line, Esc stops an answer.</p>"
    "<p>Press F1 for every keyboard shortcut.</p>"
)


class EmptyState(QLabel):
    """A centred hint over an empty chat view."""

    def __init__(self, view: QWidget) -> None:
        super().__init__(view)
        self.setObjectName("emptyState")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName("Empty conversation")
        self._view = view
        view.installEventFilter(self)
        self.set_demo(True)

    def set_demo(self, demo: bool) -> None:
        self.setText(DEMO_TEXT if demo else SERVER_TEXT)
        self.setAccessibleDescription(self.text())
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._view and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        width = min(520, max(200, self._view.width() - 80))
        height = self.heightForWidth(width)
        x = (self._view.width() - width) // 2
        y = max(20, (self._view.height() - height) // 2 - 40)
        self.setGeometry(x, y, width, max(height, 40))
