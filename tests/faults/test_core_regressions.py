"""Regression tests for core problems the fault matrix and the fuzzers found.

Each test names what was wrong; the fix is in the core module it exercises.
"""

from __future__ import annotations

import contextlib
import tracemalloc

import pytest

from desktop_app.core.answer import Answer
from desktop_app.core.errors import StreamProtocolError, UnexpectedResponse
from desktop_app.core.events import ReasoningDelta, TextDelta, TurnEnded, TurnState
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from desktop_app.core.turn import DAMAGED_EVENT_HINT
from tests.core.byte_server import OPENAI_DONE, ByteServer, Reply, openai_delta, sse


async def end_of_turn(url: str) -> TurnEnded:
    request = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")
    async with StreamingClient(NetworkSettings(trust_env=False), trust_env=False) as client:
        turn = stream_turn(
            client, get_provider("openai"), request, Endpoint(url), TurnSettings(max_attempts=1)
        )
        async with contextlib.aclosing(turn):
            async for event in turn:
                if isinstance(event, TurnEnded):
                    return event
    raise AssertionError("no TurnEnded")


@pytest.mark.asyncio
async def test_a_web_page_sentence_ends_before_the_hint_follows_it() -> None:
    # Was: "...instead of a stream of events: Sign in Check that the base URL..." in `ask`.
    page = b"<html><head><title>Sign in</title></head><body>Sign in</body></html>"
    reply = Reply(headers=(("Content-Type", "text/html"),), body=[page], framing="length")
    async with ByteServer(reply) as server:
        end = await end_of_turn(server.url("/v1"))
    assert isinstance(end.error, UnexpectedResponse)
    assert str(end.error).endswith("instead of a stream of events: Sign in.")


@pytest.mark.asyncio
async def test_a_damaged_event_after_good_ones_does_not_blame_the_format() -> None:
    # Was: "Check that this profile's format ... matches what the server speaks." although
    # the events before it were read in that very format.
    broken = 'data: {"choices": [{"delta": {"content": "x"\n\n'
    reply = Reply(body=sse(openai_delta("Good so far. "), broken, OPENAI_DONE))
    async with ByteServer(reply) as server:
        end = await end_of_turn(server.url("/v1"))
    assert end.state is TurnState.FAILED
    assert end.text == "Good so far. "
    assert isinstance(end.error, StreamProtocolError)
    assert end.error.hint == DAMAGED_EVENT_HINT


@pytest.mark.asyncio
async def test_a_damaged_first_event_still_suggests_checking_the_format() -> None:
    reply = Reply(body=sse('data: {"choices": [\n\n', OPENAI_DONE))
    async with ByteServer(reply) as server:
        end = await end_of_turn(server.url("/v1"))
    assert isinstance(end.error, StreamProtocolError)
    assert "format" in end.error.hint
    assert end.error.hint != DAMAGED_EVENT_HINT


def test_many_small_deltas_cost_about_their_text_not_an_object_each() -> None:
    # Was: Answer kept every delta as its own str (~50 bytes each plus a list slot),
    # so a million tiny events held about 20 times their text (found by the
    # million-event test in test_hostile_core.py).
    count = 200_000
    tracemalloc.start()
    try:
        answer = Answer()
        for i in range(count):
            answer.add(TextDelta(f"{i % 1000:03d}"))  # a new small str each time, like a parser's
            answer.add(ReasoningDelta(f"{i % 1000:03d}"))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text_bytes = 2 * 3 * count
    assert peak < 3 * text_bytes
    assert answer.text == "".join(f"{i % 1000:03d}" for i in range(count))
    assert answer.reasoning == answer.text
