"""What the chat shows for one message, and how a message's news is spoken.

Owns ``MessageView`` (the plain data the shell hands to ``ChatView``), the
clipping of untrusted text shown in labels, and ``announce`` (telling screen
readers that an answer finished: Qt >= 6.8 announcement events, else a
description change).

Must not: build widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QWidget

from desktop_app.qt.text_hygiene import sanitize_text

Role = Literal["user", "assistant"]
STATUSES = ("complete", "streaming", "interrupted", "error", "cancelled")


@dataclass(slots=True)
class MessageView:
    """What the chat shows for one message (the shell builds these from storage)."""

    id: str
    role: Role
    text: str
    reasoning: str = ""
    status: str = "complete"  # complete | streaming | interrupted | error | cancelled
    error: str = ""
    error_hint: str = ""
    metrics_line: str = ""  # e.g. "0.4 s to first token · 52 tok/s · 812 tokens · complete"


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, made safe (only those are scanned)."""
    if len(text) <= limit:
        return sanitize_text(text)
    return f"{sanitize_text(text[:limit])}… ({len(text) - limit:,} more characters)"


def announce(widget: QWidget, message: str) -> None:
    """Tell assistive technology that ``message`` happened (best effort)."""
    widget.setAccessibleDescription(message)
    try:
        from PySide6.QtGui import QAccessibleAnnouncementEvent  # Qt >= 6.8
    except ImportError:  # pragma: no cover - older Qt
        QAccessible.updateAccessibility(
            QAccessibleEvent(widget, QAccessible.Event.DescriptionChanged)
        )
        return
    event = QAccessibleAnnouncementEvent(widget, message)
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)
