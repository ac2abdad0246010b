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


# What a frame became, by kind, in the words ``describe`` and the inspector model begin with:
# the frame filter offers these, since one SSE event name ("message" in OpenAI's format) can
# carry text, tool calls, usage and the finish alike.
KINDS = (
    "text",
    "reasoning",
    "tool call",
    "usage",
    "finish reason",
    "end of stream",
    "server error",
    "protocol error",
    "keep-alive",
)


def kinds_of(typed: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds (``KINDS``) of a frame's typed events, each once, in ``KINDS`` order."""
    return tuple(kind for kind in KINDS if any(t.startswith(kind) for t in typed))


def _quoted(text: str, limit: int = 80) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return json.dumps(shown, ensure_ascii=False)
