"""The box under an unfinished answer: what went wrong, and Retry or Continue.

Owns the wording and look of the three endings that need the user: an error
(red box, the error sentence and the hint, Retry), an interrupted answer
(amber box, "interrupted", Continue) and a stopped one ("You stopped this
answer.", Continue). It sits under the partial text and never replaces it.

Must not: decide what an error means (the shell's sentences arrive in the
``MessageView``) or do the retry itself (it emits ``actionClicked``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from desktop_app.qt.message_view import MessageView, clip
from desktop_app.qt.theme import Theme, themed_icon

NOTICE_STATUSES = ("error", "interrupted", "cancelled")
_DISPLAY_LIMIT = 2_000
_CONTINUE_TIP = "Continue the answer from where it stopped"


class AnswerNotice(QFrame):
    """Shown for answers that ended in error, interrupted or cancelled."""

    actionClicked = Signal(str)  # "retry" or "continue"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._action = "retry"  # or "continue"
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 10, 8)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.label, 1)
        self.button = QPushButton(self)
        self.button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.button.clicked.connect(lambda: self.actionClicked.emit(self._action))
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)

    def show_for(self, view: MessageView, theme: Theme) -> None:
        error = clip(view.error, _DISPLAY_LIMIT)
        hint = clip(view.error_hint, _DISPLAY_LIMIT)
        if view.status == "error":
            self.setObjectName("errorBox")
            lines = [error or "The answer failed."]
            name, tip, self._action = "Retry", "Send the same request again", "retry"
        elif view.status == "interrupted":
            self.setObjectName("noticeBox")
            lines = ["The answer was interrupted before it finished."]
            if error:
                lines.append(error)
            name, tip, self._action = "Continue", _CONTINUE_TIP, "continue"
        else:
            self.setObjectName("noticeBox")
            lines = ["You stopped this answer."]
            name, tip, self._action = "Continue", _CONTINUE_TIP, "continue"
        if hint:
            lines.append(hint)
        self.label.setText("\n".join(lines))
        self.label.setAccessibleName(lines[0])
        self.button.setText(name)
        self.button.setToolTip(tip)
        self.button.setAccessibleName(f"{name} answer")
        self.button.setIcon(themed_icon(self._action, theme))
        self.button.setProperty("iconName", self._action)
        self.setAccessibleName(lines[0])
        # objectName changed: re-polish so the stylesheet's #errorBox/#noticeBox applies.
        self.style().unpolish(self)
        self.style().polish(self)
        self.setVisible(True)
