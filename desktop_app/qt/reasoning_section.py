"""The collapsible "Reasoning" part of an answer: a toggle over a Markdown body.

Owns the toggle's look, words and accessible name ("Show reasoning" /
"Hide reasoning"), and showing the body only while it is open. The message
decides when it opens (while reasoning streams) and closes (when the answer
is done).

Must not: know about the answer's text or status.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QToolButton, QVBoxLayout, QWidget

from desktop_app.qt.markdown_body import MarkdownBody
from desktop_app.qt.theme import Theme, themed_icon


class ReasoningSection(QWidget):
    """A "Reasoning" toggle and the reasoning text under it (collapsed at first)."""

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._theme = theme
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("reasoningToggle")
        self.toggle.setText("Reasoning")
        self.toggle.setToolTip("Show or hide the model's reasoning")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setIconSize(QSize(14, 14))
        self.toggle.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        column.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        self.body = MarkdownBody(theme.html_style(), self)
        self.body.setObjectName("reasoning")
        column.addWidget(self.body)
        self.toggle.toggled.connect(self._on_toggled)
        self._on_toggled(False)

    @property
    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def set_open(self, shown: bool) -> None:
        self.toggle.setChecked(shown)

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.body.set_style(theme.html_style())
        self._on_toggled(self.is_open)

    def _on_toggled(self, shown: bool) -> None:
        self.toggle.setIcon(themed_icon("chevron-down" if shown else "chevron-right", self._theme))
        self.toggle.setAccessibleName("Hide reasoning" if shown else "Show reasoning")
        self.body.setVisible(shown)
