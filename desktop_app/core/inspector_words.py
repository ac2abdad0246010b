"""A typed stream event in a few words, for the stream inspector's frame table.

Must not: do I/O or import Qt.
"""

from __future__ import annotations

import json

from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)


def describe(event: ContentEvent) -> str:
    """A typed event in a few words, for the inspector's table."""
    if isinstance(event, TextDelta):
        return f"text {_quoted(event.text)}"
    if isinstance(event, ReasoningDelta):
        return f"reasoning {_quoted(event.text)}"
    if isinstance(event, ToolCallDelta):
        who = " ".join(p for p in (event.name, event.id) if p)
        return f"tool call #{event.index} {who} {_quoted(event.arguments)}".replace("  ", " ")
    if isinstance(event, Usage):
        return f"usage: {event.input_tokens} in, {event.output_tokens} out"
    if isinstance(event, FinishReason):
        return f"finish reason: {event.reason}"
    if isinstance(event, Finished):
        return "end of stream" + (f" ({event.reason})" if event.reason else "")
    kind = f" [{event.kind}]" if event.kind else ""  # a ProviderFailed: the only one left
    return f"server error{kind}: {event.message}"


def _quoted(text: str, limit: int = 80) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return json.dumps(shown, ensure_ascii=False)
