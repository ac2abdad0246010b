"""What a provider format is: how to ask, and how to read the answer.

A provider is sans-IO: ``build_request`` returns a description of the HTTP
request, and a ``StreamParser`` turns decoded SSE events into content events.
Neither awaits, opens sockets or reads a clock; ``core.transport`` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from desktop_app.core.events import ContentEvent
from desktop_app.core.sse import ServerSentEvent

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One turn to send: the conversation so far and the generation settings.

    ``prefill`` is the partial answer to continue from (Continue after an
    interruption): Anthropic takes it as a trailing assistant message; the
    others get it as an assistant message followed by a short user request to
    go on exactly where it stopped.
    """

    messages: tuple[ChatMessage, ...]
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    prefill: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach a server. ``api_key`` is never stored or logged."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # Generic two-step servers: where to GET the stream if the POST gives no Location.
    stream_url: str | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    # Not in repr: the headers carry the API key, and requests end up in logs.
    headers: Mapping[str, str] = field(repr=False)
    json: object | None = field(default=None, repr=False)


class StreamParser(Protocol):
    """Turns the SSE events of one response into content events."""

    @property
    def finished(self) -> bool:
        """True once the format's terminator was seen."""
        ...

    def parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        """Raises ``StreamProtocolError`` (and nothing else) on data it cannot read."""
        ...

    def flush(self) -> list[ContentEvent]:
        """The body ended before the terminator: what the parser still holds (half a
        character), or ``StreamProtocolError`` if nothing in it looked like this format."""
        ...


class Provider(Protocol):
    name: str
    # True when the format carries event ids and may offer a resume URL.
    resumable: bool

    def build_request(self, request: ChatRequest, endpoint: Endpoint) -> HttpRequest: ...

    def new_parser(self) -> StreamParser: ...

    def error_message(self, body: str) -> str:
        """The server's own words from an error body (JSON or not); ``""`` if none."""
        ...

    def models_url(self, endpoint: Endpoint) -> str | None:
        """Where the server lists its models, if this format has such an endpoint."""
        ...

    def continues_after(self, prefill: str) -> str:
        """The partial answer as the server sees it when asked to go on from ``prefill``:
        the continuation is joined to this, so nothing the server never saw is doubled."""
        ...
