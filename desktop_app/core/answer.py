"""The answer a turn has received so far: text, reasoning and whole tool calls.

It joins content deltas in arrival order and assembles tool calls from their
fragments (by ``index``; the first fragment names the call). Plain data, no
I/O: ``core.turn`` feeds it, ``TurnEnded`` carries what it holds, and nothing
received is ever dropped from it.

Deltas are small (a token is a few characters) but a ``str`` object costs
about 50 bytes on its own, so a list of a million deltas would hold ten to
thirty times the text. ``JoinedText`` joins every few hundred pieces into one
string as they arrive, which keeps memory near the size of the text itself
(``streamdesk ask`` keeps what it saves the same way).
"""

from __future__ import annotations

from desktop_app.core.events import ContentEvent, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta

JOIN_EVERY = 256  # pieces kept apart before they are joined into one string


class JoinedText:
    """Text pieces in order, joined in batches so each piece does not stay an object."""

    def __init__(self) -> None:
        self._joined: list[str] = []
        self._pieces: list[str] = []

    def append(self, piece: str) -> None:
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) >= JOIN_EVERY:
            self._joined.append("".join(pieces))
            pieces.clear()

    def __str__(self) -> str:
        return "".join(self._joined) + "".join(self._pieces)


class Answer:
    """Accumulates the content events of one turn."""

    def __init__(self) -> None:
        self._text = JoinedText()
        self._reasoning = JoinedText()
        self._tools: dict[int, tuple[str | None, str | None, list[str]]] = {}

    def add(self, event: ContentEvent) -> bool:
        """Keep ``event``; True when it is content (a token of text, reasoning or a tool call)."""
        if isinstance(event, TextDelta):
            self._text.append(event.text)
            return bool(event.text)
        if isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
            return bool(event.text)
        if isinstance(event, ToolCallDelta):
            call_id, name, arguments = self._tools.get(event.index, (None, None, []))
            arguments.append(event.arguments)
            self._tools[event.index] = (event.id or call_id, event.name or name, arguments)
            return True
        return False

    @property
    def text(self) -> str:
        return str(self._text)

    @property
    def reasoning(self) -> str:
        return str(self._reasoning)

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(index=index, id=call_id, name=name, arguments="".join(arguments))
            for index, (call_id, name, arguments) in sorted(self._tools.items())
        )
