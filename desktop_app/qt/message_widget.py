"""One message of the chat: a bubble with its text, reasoning, error, metrics and actions.

Owns how a single message looks and which actions it offers: user messages
(right-aligned, plain text, Edit), assistant answers (Markdown, a collapsible
reasoning section, a streaming indicator and status line, an error box next to
the partial text with Retry, an "interrupted" box with Continue, a metrics
line, Copy and Regenerate). Every button has an accessible name and a
tooltip; a finished answer is announced to screen readers.

Must not: scroll, coalesce or time anything (chat_view.py does), or know how
a stream is run (the shell's stream controller).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qt.answer_notice import NOTICE_STATUSES, AnswerNotice
from desktop_app.qt.elided_label import ElidedLabel
from desktop_app.qt.markdown_body import MarkdownBody
from desktop_app.qt.message_view import STATUSES, MessageView, Role, announce, clip
from desktop_app.qt.reasoning_section import ReasoningSection
from desktop_app.qt.text_hygiene import sanitize_text
from desktop_app.qt.theme import Theme, themed_icon

__all__ = ["STATUSES", "MessageView", "MessageWidget", "Role", "announce"]

# User text is shown as typed; beyond this many characters only the start is shown.
USER_DISPLAY_LIMIT = 20_000
_DOTS = ("   ", ".  ", ".. ", "...")


def _tool_button(parent: QWidget, name: str, text: str, tip: str, theme: Theme) -> QToolButton:
    button = QToolButton(parent)
    button.setObjectName("messageAction")
    button.setIcon(themed_icon(name, theme))
    button.setIconSize(QSize(16, 16))
    button.setToolTip(tip)
    button.setAccessibleName(text)
    button.setText(text)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setProperty("iconName", name)
    return button


class MessageWidget(QFrame):
    """A message bubble. Signals carry the message id."""

    retryRequested = Signal(str)
    continueRequested = Signal(str)
    regenerateRequested = Signal(str)
    editRequested = Signal(str)
    copied = Signal(str)  # the message id, after "Copy message"
    linkActivated = Signal(QUrl)
    linkRefused = Signal(str)

    def __init__(self, view: MessageView, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = dataclasses.replace(view)
        self._theme = theme
        self._is_last = False
        self._available_width = 0
        self._status_text = ""
        self._dots = 0
        self._reasoning: ReasoningSection | None = None
        self._box: AnswerNotice | None = None
        self.setObjectName("message")

        outer = QHBoxLayout(self)
        outer.setContentsMargins(12, 4, 12, 4)
        self._bubble = QFrame(self)
        self._bubble.setObjectName("bubble")
        self._bubble.setProperty("role", view.role)
        self._bubble.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        if view.role == "user":
            outer.addStretch(1)
            outer.addWidget(self._bubble, 0)
        else:
            outer.addWidget(self._bubble, 1)
        column = QVBoxLayout(self._bubble)
        column.setContentsMargins(12, 8, 12, 6)
        column.setSpacing(4)
        self._column = column

        self._role_label = QLabel("You" if view.role == "user" else "Assistant", self._bubble)
        self._role_label.setObjectName("roleLabel")
        column.addWidget(self._role_label)

        self._body: MarkdownBody | None = None
        self._user_label: QLabel | None = None
        if view.role == "user":
            self._user_label = QLabel(self._bubble)
            self._user_label.setObjectName("userText")
            self._user_label.setTextFormat(Qt.TextFormat.PlainText)
            self._user_label.setWordWrap(True)
            self._user_label.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
                | Qt.TextInteractionFlag.TextSelectableByKeyboard
            )
            column.addWidget(self._user_label)
        else:
            self._body = MarkdownBody(theme.html_style(), self._bubble)
            self._body.linkActivated.connect(self.linkActivated)
            self._body.linkRefused.connect(self.linkRefused)
            column.addWidget(self._body)

        self._status_label = ElidedLabel(self._bubble)  # a long status never widens the chat
        self._status_label.setObjectName("statusLine")
        self._status_label.setAccessibleName("Status")
        self._status_label.setVisible(False)
        column.addWidget(self._status_label)

        self._metrics = QLabel(self._bubble)
        self._metrics.setObjectName("metrics")
        self._metrics.setWordWrap(True)
        self._metrics.setVisible(False)
        column.addWidget(self._metrics)

        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(2)
        self._actions = actions
        self._copy_button = _tool_button(
            self._bubble, "copy", "Copy message", "Copy the whole message", theme
        )
        self._copy_button.clicked.connect(self.copy_to_clipboard)
        actions.addWidget(self._copy_button)
        self._edit_button: QToolButton | None = None
        self._regenerate_button: QToolButton | None = None
        if view.role == "user":
            self._edit_button = _tool_button(
                self._bubble, "edit", "Edit message", "Edit this message and send it again", theme
            )
            self._edit_button.clicked.connect(lambda: self.editRequested.emit(self._view.id))
            actions.addWidget(self._edit_button)
        else:
            self._regenerate_button = _tool_button(
                self._bubble, "regenerate", "Regenerate answer", "Ask for a new answer", theme
            )
            self._regenerate_button.clicked.connect(
                lambda: self.regenerateRequested.emit(self._view.id)
            )
            actions.addWidget(self._regenerate_button)
        actions.addStretch(1)
        column.addLayout(actions)
        self._apply(self._view, text_changed=True)

    # ---------------------------------------------------------------- state
    @property
    def view(self) -> MessageView:
        return self._view

    @property
    def message_id(self) -> str:
        return self._view.id

    @property
    def body(self) -> MarkdownBody | None:
        return self._body

    @property
    def reasoning_body(self) -> MarkdownBody | None:
        return self._reasoning.body if self._reasoning is not None else None

    @property
    def streaming(self) -> bool:
        return self._view.status == "streaming"

    def displayed_text(self) -> str:
        if self._user_label is not None:
            return self._user_label.text()
        assert self._body is not None
        return self._body.plain_text()

    def raw_text(self) -> str:
        if self._body is not None:
            return self._body.raw_text()
        return self._view.text

    def raw_reasoning(self) -> str:
        if self._reasoning is not None:
            return self._reasoning.body.raw_text()
        return self._view.reasoning

    def set_is_last(self, is_last: bool) -> None:
        """Regenerate is offered on the last answer only."""
        self._is_last = is_last
        self._update_actions()

    def set_available_width(self, width: int) -> None:
        self._available_width = width
        if self._user_label is not None:
            self._bubble.setMaximumWidth(max(200, int(width * 0.8)))
            self._fit_user_label()

    def _fit_user_label(self) -> None:
        # A word-wrapped QLabel asks for a narrow width; give it its natural
        # width (the longest line) up to what the bubble may use.
        label = self._user_label
        if label is None or self._available_width <= 0:
            return
        metrics = label.fontMetrics()
        lines = label.text().split("\n", 200)[:200]
        natural = max((metrics.horizontalAdvance(line[:500]) for line in lines), default=0)
        room = self._bubble.maximumWidth() - 2 * 12 - 4
        label.setMinimumWidth(max(40, min(natural + 2, room)))

    # ---------------------------------------------------------------- updates
    def update_view(self, view: MessageView) -> None:
        """Show a new state of this message (text re-rendered only if it changed)."""
        old = self._view
        self._view = dataclasses.replace(view)
        self._apply(
            self._view,
            text_changed=view.text != self.raw_text() or old.status == "streaming",
            reasoning_changed=view.reasoning != self.raw_reasoning(),
        )

    def begin_stream(self) -> None:
        self._view.status = "streaming"
        self._status_text = ""
        if self._body is not None:
            self._body.begin(self._view.text)
            self._body.flush()
        self._apply(self._view, text_changed=False)

    def append_text(self, text: str) -> None:
        if self._body is not None:
            self._body.append(text)
        else:
            self._view.text += text

    def append_reasoning(self, text: str) -> None:
        section = self._ensure_reasoning()
        if not section.body.streaming:
            section.body.begin(section.body.raw_text())
        section.body.append(text)
        section.setVisible(True)
        section.set_open(True)  # open while it streams

    def flush(self, budget: int | None = None) -> bool:
        """Show queued text; True if some is still queued (over budget)."""
        more = False
        reasoning = self.reasoning_body
        if reasoning is not None and reasoning.backlog:
            more = reasoning.flush(budget)
        if self._body is not None and self._body.backlog:
            more = self._body.flush(budget) or more
        return more

    @property
    def backlog(self) -> int:
        total = self._body.backlog if self._body is not None else 0
        if self._reasoning is not None:
            total += self._reasoning.body.backlog
        return total

    def set_status_line(self, text: str) -> None:
        self._status_text = sanitize_text(text)[:200]
        self._update_status()

    def tick(self) -> None:
        """Advance the streaming indicator (called a few times a second)."""
        self._dots = (self._dots + 1) % len(_DOTS)
        self._update_status()

    def end_stream(self, view: MessageView) -> None:
        """The stream ended: show the final state; the shown text is kept, not rebuilt."""
        self._view = dataclasses.replace(view, text=self.raw_text())
        if self._body is not None:
            self._body.finish()
        if self._reasoning is not None:
            self._reasoning.body.finish()
            self._reasoning.set_open(False)  # collapsed once the answer is done
        if view.text != self._view.text and view.text:
            # The shell's final text differs from what streamed (e.g. a retry):
            # the shell is the authority.
            self._view.text = view.text
            self._apply(self._view, text_changed=True)
        else:
            self._apply(self._view, text_changed=False)
        announce(self, self._announcement())

    def _announcement(self) -> str:
        status = self._view.status
        if status == "error":
            return f"Answer failed: {clip(self._view.error, 200)}"
        if status == "interrupted":
            return "Answer interrupted."
        if status == "cancelled":
            return "Answer stopped."
        return "Answer finished. " + clip(self.raw_text(), 300)

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        if self._body is not None:
            self._body.set_style(theme.html_style())
        if self._reasoning is not None:
            self._reasoning.set_theme(theme)
        for button in self.findChildren(QToolButton):
            name = button.property("iconName")
            if isinstance(name, str):
                button.setIcon(themed_icon(name, theme))

    def set_highlighted(self, highlighted: bool) -> None:
        """Tint the bubble (a search hit just scrolled to); no size change."""
        self._bubble.setProperty("highlighted", highlighted)
        self._bubble.style().unpolish(self._bubble)
        self._bubble.style().polish(self._bubble)

    @property
    def highlighted(self) -> bool:
        return bool(self._bubble.property("highlighted"))

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.raw_text())
        self.copied.emit(self._view.id)

    # ---------------------------------------------------------------- building
    def _apply(
        self, view: MessageView, *, text_changed: bool, reasoning_changed: bool = False
    ) -> None:
        if text_changed:
            if self._user_label is not None:
                self._user_label.setText(clip(view.text, USER_DISPLAY_LIMIT))
                self._fit_user_label()
            elif self._body is not None:
                if view.status == "streaming":
                    self._body.begin(view.text)
                    self._body.flush()
                else:
                    self._body.set_text(view.text)
        if view.reasoning or self._reasoning is not None:
            section = self._ensure_reasoning()
            body = section.body
            rerender = reasoning_changed or (text_changed and view.status != "streaming")
            if rerender and (view.reasoning != body.raw_text() or body.streaming):
                body.set_text(view.reasoning)
            section.setVisible(bool(view.reasoning) or body.streaming)
        self._update_status()
        self._update_box()
        self._metrics.setText(sanitize_text(view.metrics_line))
        self._metrics.setVisible(bool(view.metrics_line) and view.status != "streaming")
        self._update_actions()
        self.setAccessibleName("Your message" if view.role == "user" else "Answer")

    def _ensure_reasoning(self) -> ReasoningSection:
        if self._reasoning is None:
            section = ReasoningSection(self._theme, self._bubble)
            section.body.linkActivated.connect(self.linkActivated)
            section.body.linkRefused.connect(self.linkRefused)
            section.setVisible(False)
            self._column.insertWidget(1, section)  # between the role label and the answer
            self._reasoning = section
        return self._reasoning

    def _update_status(self) -> None:
        streaming = self._view.status == "streaming"
        self._status_label.setVisible(streaming)
        if streaming:
            label = self._status_text or "Answering"
            self._status_label.set_full_text(f"{label} {_DOTS[self._dots]}")
            self._status_label.setAccessibleDescription(label)

    def _update_box(self) -> None:
        if self._view.role != "assistant" or self._view.status not in NOTICE_STATUSES:
            if self._box is not None:
                self._box.setVisible(False)
            return
        if self._box is None:
            self._box = AnswerNotice(self._bubble)
            self._box.actionClicked.connect(self._on_box_action)
            # Under the partial text, above metrics and actions: never replacing the text.
            self._column.insertWidget(self._column.indexOf(self._metrics), self._box)
        self._box.show_for(self._view, self._theme)

    def _on_box_action(self, action: str) -> None:
        signal = self.retryRequested if action == "retry" else self.continueRequested
        signal.emit(self._view.id)

    def _update_actions(self) -> None:
        done = self._view.status != "streaming"
        self._copy_button.setVisible(done)
        if self._edit_button is not None:
            self._edit_button.setVisible(done)
        if self._regenerate_button is not None:
            self._regenerate_button.setVisible(done and self._is_last)

    def box_button(self) -> QPushButton | None:
        """The Retry/Continue button when shown (for tests and keyboard focus)."""
        if self._box is not None and self._box.isVisibleTo(self):
            return self._box.button
        return None

    def action_buttons(self) -> dict[str, QToolButton]:
        buttons = {"copy": self._copy_button}
        if self._edit_button is not None:
            buttons["edit"] = self._edit_button
        if self._regenerate_button is not None:
            buttons["regenerate"] = self._regenerate_button
        return buttons
