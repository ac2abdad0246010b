"""The app's generic format pointed at the stub's OpenAI endpoint, as a tester might by mistake.

The whole turn runs over real loopback sockets (``core.session`` and the real transport): the
mistake must end in a sentence naming the profile's format, not in an empty "complete" answer.
"""

from __future__ import annotations

import asyncio

import pytest

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import TurnEnded, TurnState
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.generic import NOT_GENERIC
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from server_stub.embedded import RunningStub

pytestmark = pytest.mark.asyncio

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),), model="stub")


async def _generic_turn(url: str) -> TurnEnded:
    settings = TurnSettings(max_attempts=1)
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
        events = [
            event
            async for event in stream_turn(
                client, get_provider("generic"), REQUEST, Endpoint(url), settings
            )
        ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    return end


async def test_an_openai_stream_read_as_generic_fails_and_names_the_format(
    stub: RunningStub,
) -> None:
    end = await _generic_turn(f"{stub.url}/v1/chat/completions")
    assert end.state is TurnState.FAILED
    assert end.text == ""
    assert isinstance(end.error, StreamProtocolError)
    assert str(end.error) == NOT_GENERIC
    assert "OpenAI, Anthropic or generic" in end.error.hint


async def test_an_anthropic_stream_read_as_generic_fails_and_names_the_format(
    stub: RunningStub,
) -> None:
    # No [DONE]: the mistake shows only when the body ends, which is not a drop.
    end = await _generic_turn(f"{stub.url}/v1/messages")
    assert end.state is TurnState.FAILED
    assert end.text == ""
    assert isinstance(end.error, StreamProtocolError)
    assert str(end.error) == NOT_GENERIC


async def test_the_stubs_own_generic_stream_still_completes(stub: RunningStub) -> None:
    end = await _generic_turn(f"{stub.url}/api/chat")
    assert end.state is TurnState.COMPLETE
    assert end.text
