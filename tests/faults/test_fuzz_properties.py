"""Properties the existing decoder and parser properties do not state: the whole turn, and error bodies.

``tests/core/test_sse_properties.py`` proves any chunking of any bytes gives
the reference events (and never raises); each ``test_provider_*.py`` proves
its parser returns events or raises ``StreamProtocolError`` on any event.
What no property said yet:

- the whole turn: whatever bytes a server streams, cut anywhere, and however
  the body ends, ``stream_turn`` yields only its typed events, ends with
  exactly one ``TurnEnded`` whose text is every delta yielded, with an error
  exactly when it did not complete, and raises nothing;
- error bodies: ``Provider.error_message`` reads any body (JSON of any shape,
  HTML, binary garbage) into one short line and never raises.

The turn property runs real sockets: one byte server and one client on one
event loop for all examples (a loop per example would cost more than the
examples).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.events import (
    Finished,
    FinishReason,
    KeepAlive,
    ProviderFailed,
    ReasoningDelta,
    Reconnecting,
    Retrying,
    StateChanged,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    TurnEnded,
    TurnState,
    Usage,
)
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import PROVIDER_NAMES, get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.sse import ServerSentEvent
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import ByteServer, RecordedRequest, Reply
from tests.core.provider_transcripts import json_values, sse_events

EVENT_TYPES = (
    TextDelta,
    ReasoningDelta,
    ToolCallDelta,
    Usage,
    FinishReason,
    Finished,
    ProviderFailed,
    StateChanged,
    Retrying,
    Reconnecting,
    KeepAlive,
    TurnEnded,
)
SETTINGS = TurnSettings(
    connect_timeout=5, first_token_timeout=5, idle_timeout=5, max_attempts=1, max_reconnects=0
)

# Event names and JSON keys of all three formats, so examples look like real streams.
NAMES = ["message_start", "content_block_delta", "message_stop", "completion", "done", "stop"]
KEYS = ["choices", "delta", "content", "type", "text", "index", "error", "usage", "finish_reason"]
TEMPLATES: list[object] = [
    {"choices": [{"index": 0, "delta": {"content": "?"}, "finish_reason": "?"}]},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "?"}},
    {"type": "content", "content": "?"},
    {"type": "done", "usage": "?"},
    {"error": "?"},
]
LINE_ENDS = [b"\n", b"\r\n", b"\r"]


def encode(events: list[ServerSentEvent], end: bytes) -> bytes:
    out: list[bytes] = []
    for event in events:
        if event.event != "message":
            out.append(b"event: " + event.event.encode("utf-8", "surrogatepass") + end)
        for line in event.data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            out.append(b"data: " + line.encode("utf-8", "surrogatepass") + end)
        out.append(end)
    return b"".join(out)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[bytes], str]:
    """A server's body, cut into chunks, and how it ends (finish or an abrupt close)."""
    events = draw(sse_events(NAMES, KEYS, TEMPLATES))
    stream = encode(events, draw(st.sampled_from(LINE_ENDS)))
    stream += draw(st.sampled_from([b"", b"data: [DONE]\n\n", b": ping\n\n"]))
    stream += draw(st.binary(max_size=16))
    cuts = sorted({c % (len(stream) + 1) for c in draw(st.lists(st.integers(0, 4096), max_size=5))})
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return [c for c in chunks if c], draw(st.sampled_from(["finish", "close"]))


@dataclass
class Rig:
    """One loop, one byte server (answering whatever ``reply`` holds), one client."""

    loop: asyncio.AbstractEventLoop
    server: ByteServer
    client: StreamingClient
    reply: list[Reply] = field(default_factory=lambda: [Reply()])

    def run(self, provider: str, chunks: list[bytes], ending: str) -> list[StreamEvent]:
        self.reply[0] = Reply(body=chunks, ending=ending)  # type: ignore[arg-type]
        return self.loop.run_until_complete(asyncio.wait_for(self._turn(provider), 20))

    async def _turn(self, provider: str) -> list[StreamEvent]:
        request = ChatRequest(messages=(ChatMessage("user", "fuzz"),), model="m")
        url = self.server.url("/chat" if provider == "generic" else "/v1")
        turn = stream_turn(self.client, get_provider(provider), request, Endpoint(url), SETTINGS)
        async with contextlib.aclosing(turn):
            return [event async for event in turn]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    holder: list[Reply] = [Reply()]

    def answer(request: RecordedRequest) -> Reply:
        return holder[0]

    server = ByteServer(answer)
    loop.run_until_complete(server.__aenter__())
    client = StreamingClient(NetworkSettings(trust_env=False), trust_env=False)
    try:
        yield Rig(loop, server, client, holder)
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(server.__aexit__(None, None, None))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies())
def test_any_stream_ends_in_exactly_one_turn_ended_that_keeps_every_delta(
    rig: Rig, provider: str, body: tuple[list[bytes], str]
) -> None:
    chunks, ending = body
    events = rig.run(provider, chunks, ending)
    assert all(isinstance(event, EVENT_TYPES) for event in events)
    ends = [event for event in events if isinstance(event, TurnEnded)]
    assert len(ends) == 1
    end = events[-1]
    assert isinstance(end, TurnEnded)
    assert end.state in (TurnState.COMPLETE, TurnState.INTERRUPTED, TurnState.FAILED)
    assert end.text == "".join(e.text for e in events if isinstance(e, TextDelta))
    assert end.reasoning == "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    end.text.encode("utf-8")
    if end.state is TurnState.COMPLETE:
        assert end.error is None
    else:
        assert isinstance(end.error, StreamdeskError)
        assert str(end.error).strip()


error_bodies = st.one_of(
    json_values(["error", "message", "type", "code", "detail", "errors", "title"]).map(json.dumps),
    st.text(max_size=400),
    st.builds(
        lambda title, body: f"<html><head><title>{title}</title></head><body>{body}</body></html>",
        st.text(max_size=80),
        st.text(max_size=200),
    ),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
    st.just("[" * 50_000),
)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@settings(max_examples=150, deadline=None)
@given(body=error_bodies)
def test_an_error_body_of_any_shape_becomes_one_short_line(provider: str, body: str) -> None:
    said = get_provider(provider).error_message(body)
    assert isinstance(said, str)
    assert "\n" not in said
    assert len(said) <= 400
