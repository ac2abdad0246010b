"""Keeping lone UTF-16 surrogates out of the content events.

Owns: ``SurrogateMender`` (one per parser) and ``scrub``. JSON's ``\\ud83d``
escapes decode to lone surrogates, and servers that slice UTF-16 strings
(JavaScript ones) split an emoji's pair across two chunks. Left alone, one such
character crashes every UTF-8 consumer downstream (stdout, SQLite, the
clipboard).

Must not: do I/O, or change any text that has no surrogate in it.
"""

from __future__ import annotations

import re

from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    ProviderFailed,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)

_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone(text: str) -> str:
    """Pairs become their character; a lone surrogate becomes U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def scrub(text: str) -> str:
    return text if _SURROGATE.search(text) is None else _replace_lone(text)


class SurrogateMender:
    """Mends the events of one stream.

    A high surrogate at the end of a text or reasoning delta is held back for
    the next delta of the same kind; any other lone surrogate becomes U+FFFD.
    The common case (no surrogate anywhere) costs one regex scan per string.
    """

    __slots__ = ("_reasoning", "_text")

    def __init__(self) -> None:
        self._text = ""  # a held-back high surrogate, or ""
        self._reasoning = ""

    def apply(self, events: list[ContentEvent]) -> list[ContentEvent]:
        if not (self._text or self._reasoning) and not any(map(_has_surrogate, events)):
            return events
        out: list[ContentEvent] = []
        for event in events:
            if isinstance(event, TextDelta):
                self._text, text = _mend(self._text + event.text)
                if text:
                    out.append(TextDelta(text))
            elif isinstance(event, ReasoningDelta):
                self._reasoning, text = _mend(self._reasoning + event.text)
                if text:
                    out.append(ReasoningDelta(text))
            else:
                if isinstance(event, Finished):
                    # Nothing more will come to complete a held-back half.
                    if self._reasoning:
                        out.append(ReasoningDelta("\ufffd"))
                    if self._text:
                        out.append(TextDelta("\ufffd"))
                    self._text = self._reasoning = ""
                out.append(_scrubbed(event))
        return out

    def flush(self) -> list[ContentEvent]:
        """The stream ended without its terminator: a held-back half becomes U+FFFD."""
        out: list[ContentEvent] = []
        if self._reasoning:
            out.append(ReasoningDelta("\ufffd"))
        if self._text:
            out.append(TextDelta("\ufffd"))
        self._text = self._reasoning = ""
        return out


def _mend(text: str) -> tuple[str, str]:
    """``(held, ready)``: a trailing high surrogate waits for its other half."""
    if text and "\ud800" <= text[-1] <= "\udbff":
        return text[-1], scrub(text[:-1])
    return "", scrub(text)


def _has_surrogate(event: ContentEvent) -> bool:
    return any(
        isinstance(value, str) and _SURROGATE.search(value) is not None for value in _strings(event)
    )


def _strings(event: ContentEvent) -> tuple[object, ...]:
    if isinstance(event, TextDelta | ReasoningDelta):
        return (event.text,)
    if isinstance(event, ToolCallDelta):
        return (event.arguments, event.id, event.name)
    if isinstance(event, ProviderFailed):
        return (event.message, event.kind, event.code)
    if isinstance(event, FinishReason | Finished):
        return (event.reason,)
    return ()


def _scrubbed(event: ContentEvent) -> ContentEvent:
    def s(value: str | None) -> str | None:
        return None if value is None else scrub(value)

    if isinstance(event, ToolCallDelta):
        return ToolCallDelta(event.index, scrub(event.arguments), s(event.id), s(event.name))
    if isinstance(event, ProviderFailed):
        return ProviderFailed(scrub(event.message), s(event.kind), s(event.code))
    if isinstance(event, FinishReason):
        return FinishReason(scrub(event.reason))
    if isinstance(event, Finished):
        return Finished(s(event.reason))
    return event
