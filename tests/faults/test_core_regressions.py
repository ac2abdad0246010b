"""Regression tests for core problems the fault matrix and the fuzzers found.

Each test names what was wrong; the fix is in the core module it exercises.
"""

from __future__ import annotations

import contextlib

import pytest

from desktop_app.core.errors import UnexpectedResponse
from desktop_app.core.events import TurnEnded
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import ByteServer, Reply

pytestmark = pytest.mark.asyncio


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


async def test_a_web_page_sentence_ends_before_the_hint_follows_it() -> None:
    # Was: "...instead of a stream of events: Sign in Check that the base URL..." in `ask`.
    page = b"<html><head><title>Sign in</title></head><body>Sign in</body></html>"
    reply = Reply(headers=(("Content-Type", "text/html"),), body=[page], framing="length")
    async with ByteServer(reply) as server:
        end = await end_of_turn(server.url("/v1"))
    assert isinstance(end.error, UnexpectedResponse)
    assert str(end.error).endswith("instead of a stream of events: Sign in.")
