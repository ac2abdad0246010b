"""The message composer: a multi-line box and one Send/Stop button that never moves.

Enter (or Ctrl+Enter) sends, Shift+Enter starts a new line, Esc stops the
stream (or leaves edit mode). While the shown conversation streams, sending is
disabled but typing is not, so the next question can be written meanwhile;
the button turns into Stop in the same place (users.md T3: a stop button that
moves with the text or hides is the complaint).

It owns no conversation state beyond the text being typed and which message
is being edited; the main window decides what a send means. It never awaits.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

SEND_TEXT = "Send"
STOP_TEXT = "Stop"
_MAX_VISIBLE_LINES = 8


class _MessageEdit(QPlainTextEdit):
    """A plain-text box that grows with its content up to a few lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def _fit_height(self, *_args: object) -> None:
        lines = max(1, min(_MAX_VISIBLE_LINES, int(self.document().size().height())))
        line_height = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins()
        frame = int(self.document().documentMargin() * 2) + margins.top() + margins.bottom()
        self.setFixedHeight(lines * line_height + frame + 4)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_height()


class Composer(QWidget):
    """Where the user writes. Signals say what the user asked for."""

    sendRequested = Signal(str)
    editSubmitted = Signal(str, str)  # (message id, new text)
    stopRequested = Signal()
    editCancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._streaming = False
        self._editing_id: str | None = None
        self._send_icon = QIcon()
        self._stop_icon = QIcon()

        self._edit_bar = QWidget(self)
        self._edit_label = QLabel(
            "Editing your message: sending replaces it and every answer after it.", self
        )
        self._edit_label.setObjectName("composerEditNote")
        self._edit_label.setWordWrap(True)
        cancel_edit = QToolButton(self)
        cancel_edit.setText("Cancel edit")
        cancel_edit.setAccessibleName("Cancel editing the message")
        cancel_edit.setToolTip("Cancel editing (Esc)")
        cancel_edit.clicked.connect(self.cancel_edit)
        edit_layout = QHBoxLayout(self._edit_bar)
        edit_layout.setContentsMargins(0, 0, 0, 0)
        edit_layout.addWidget(self._edit_label, 1)
        edit_layout.addWidget(cancel_edit)
        self._edit_bar.hide()

        self.editor = _MessageEdit(self)
        self.editor.setObjectName("composerEdit")
        self.editor.setAccessibleName("Message")
        self.editor.setAccessibleDescription(
            "Write a message. Enter sends, Shift+Enter starts a new line, Escape stops an answer."
        )
        self.editor.setPlaceholderText("Message — Enter to send, Shift+Enter for a new line")
        self.editor.installEventFilter(self)
        self.editor.textChanged.connect(self._update_button)

        self.button = QPushButton(SEND_TEXT, self)
        self.button.setObjectName("sendStopButton")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self._button_clicked)
        self._pin_button_width()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.editor, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self._edit_bar)
        layout.addLayout(row)
        self._update_button()

    # ------------------------------------------------------------ state from the window

    @property
    def streaming(self) -> bool:
        return self._streaming

    @property
    def editing_id(self) -> str | None:
        return self._editing_id

    def set_streaming(self, streaming: bool) -> None:
        """The shown conversation started or stopped streaming."""
        self._streaming = streaming
        self._update_button()

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        cursor = self.editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.editor.setTextCursor(cursor)

    def begin_edit(self, message_id: str, text: str) -> None:
        """Put a sent user message back in the box to change and resend it."""
        self._editing_id = message_id
        self._edit_bar.show()
        self.set_text(text)
        self.editor.setFocus()
        self._update_button()

    def cancel_edit(self) -> None:
        if self._editing_id is None:
            return
        self._editing_id = None
        self._edit_bar.hide()
        self.editor.clear()
        self._update_button()
        self.editCancelled.emit()

    def focus_editor(self) -> None:
        self.editor.setFocus()

    def set_icons(self, *, send: QIcon, stop: QIcon) -> None:
        self._send_icon = send
        self._stop_icon = stop
        self._pin_button_width()
        self._update_button()

    # ------------------------------------------------------------ user actions

    def submit(self) -> bool:
        """Send what is typed, if sending is possible now. True when it was sent."""
        text = self.text().strip()
        if self._streaming or not text:
            return False
        editing = self._editing_id
        self._editing_id = None
        self._edit_bar.hide()
        self.editor.clear()
        if editing is not None:
            self.editSubmitted.emit(editing, text)
        else:
            self.sendRequested.emit(text)
        return True

    def request_stop(self) -> bool:
        if not self._streaming:
            return False
        self.stopRequested.emit()
        return True

    def _button_clicked(self) -> None:
        if self._streaming:
            self.request_stop()
        else:
            self.submit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if self._handle_key(event):
                return True
        return super().eventFilter(watched, event)

    def _handle_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        mods = event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if mods & Qt.KeyboardModifier.ShiftModifier:
                return False  # the editor inserts the new line
            if mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier):
                return False
            # Enter and Ctrl+Enter send; while streaming they do nothing rather
            # than inserting a stray new line.
            self.submit()
            return True
        if key == Qt.Key.Key_Escape and mods == Qt.KeyboardModifier.NoModifier:
            if self.request_stop():
                return True
            if self._editing_id is not None:
                self.cancel_edit()
                return True
        return False

    # ------------------------------------------------------------ looks

    def _pin_button_width(self) -> None:
        # The button keeps one size whatever it says, so Stop is exactly where
        # Send was (and where the pointer already is).
        metrics = self.button.fontMetrics()
        widest = max(metrics.horizontalAdvance(t) for t in (SEND_TEXT, STOP_TEXT))
        icon = self.button.iconSize().width() + 8 if not self._send_icon.isNull() else 0
        self.button.setFixedWidth(widest + icon + 40)

    def _update_button(self) -> None:
        if self.button.property("stop") != self._streaming:
            self.button.setProperty("stop", self._streaming)
            # A dynamic property changed: re-polish so the stylesheet sees it.
            self.button.style().unpolish(self.button)
            self.button.style().polish(self.button)
        if self._streaming:
            self.button.setIcon(self._stop_icon)
            self.button.setText(STOP_TEXT)
            self.button.setEnabled(True)
            self.button.setAccessibleName("Stop the answer")
            self.button.setToolTip("Stop the answer (Esc)")
        else:
            self.button.setIcon(self._send_icon)
            self.button.setText(SEND_TEXT)
            self.button.setEnabled(bool(self.text().strip()))
            self.button.setAccessibleName(
                "Send the edited message" if self._editing_id is not None else "Send the message"
            )
            self.button.setToolTip("Send (Enter)")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._pin_button_width()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), 320), hint.height())
