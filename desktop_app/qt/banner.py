"""A notice across the top of the chat that never blocks: ``Banner``.

Problems the user should know about but that must not stop the app (a
damaged or too-new history, a broken settings file, a key that could not be
saved) are shown here, once each, until dismissed. No modal dialog, so
nothing waits on a click and no nested event loop runs under qasync.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class Banner(QFrame):
    """Shows one or more sentences with what to do next; ✕ dismisses them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAccessibleName("Dismiss this message")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self._messages: list[str] = []
        self.hide()

    def add(self, sentence: str, hint: str = "") -> None:
        text = sentence if not hint else f"{sentence} {hint}"
        if text in self._messages:
            return
        self._messages.append(text)
        self.label.setText("\n".join(self._messages))
        self.setAccessibleName("Notice: " + " ".join(self._messages))
        self.show()

    def text(self) -> str:
        return "\n".join(self._messages)

    def dismiss(self) -> None:
        self._messages.clear()
        self.label.clear()
        self.hide()
