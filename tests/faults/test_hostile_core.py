"""Hostile server data through the core: huge, numerous, deep or strange, it ends cleanly.

Every test runs ``stream_turn`` through the real transport against a byte
server on loopback. Memory is measured, never timed: a million tiny events
in a clean process (peak resident growth), and a smaller run under
tracemalloc (peak traced memory), both against the bytes on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tracemalloc
from pathlib import Path

import pytest

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import TextDelta, TurnEnded, TurnState
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.sse import DEFAULT_MAX_EVENT_BYTES
from desktop_app.core.storage import HistoryStore
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import OPENAI_DONE, ByteServer, Reply, openai_delta, sse
from tests.faults.hostile import BIDI, CONTROLS, ESCAPES, answer_reply, openai_frame, pieces_of
from tests.faults.million_events import body
from tests.faults.million_events import run as run_generic

REPO = Path(__file__).resolve().parents[2]
MEMORY_FACTOR = 5  # peak memory may be at most this many times the bytes on the wire


async def end_of_turn(url: str, provider: str = "openai") -> tuple[TurnEnded, str]:
    """The turn's end and the text it yielded."""
    request = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")
    settings = TurnSettings(first_token_timeout=30, idle_timeout=30, max_attempts=1)
    yielded: list[str] = []
    async with StreamingClient(NetworkSettings(trust_env=False), trust_env=False) as client:
        turn = stream_turn(client, get_provider(provider), request, Endpoint(url), settings)
        async with contextlib.aclosing(turn):
            async for event in turn:
                if isinstance(event, TextDelta):
                    yielded.append(event.text)
                elif isinstance(event, TurnEnded):
                    return event, "".join(yielded)
    raise AssertionError("no TurnEnded")


@pytest.mark.asyncio
async def test_a_million_tiny_events_complete_with_memory_bounded_by_the_payload() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.million_events",
        "1000000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["state"] == "complete"
    assert result["deltas"] == 1_000_000
    assert result["chars"] == result["text_length"] == 2_000_000
    assert result["peak_growth"] < MEMORY_FACTOR * result["payload"]


@pytest.mark.asyncio
async def test_tiny_events_under_tracemalloc_stay_within_the_bound() -> None:
    parts, payload = body(50_000)
    warm_up, _ = body(1000)
    async with (
        ByteServer([Reply(body=warm_up), Reply(body=parts)]) as server,
        StreamingClient(NetworkSettings(trust_env=False), trust_env=False) as client,
    ):
        await run_generic(server.url("/chat"), client)  # lazy imports and the pool: not the turn
        tracemalloc.start()
        try:
            deltas, _chars, end = await run_generic(server.url("/chat"), client)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (end.state, deltas) == (TurnState.COMPLETE, 50_000)
    assert peak < MEMORY_FACTOR * payload


@pytest.mark.asyncio
async def test_one_20_mb_event_is_read_whole() -> None:
    line = "x" * 20_000_000
    async with ByteServer(answer_reply([line])) as server:
        end, yielded = await end_of_turn(server.url("/v1"))
    assert end.state is TurnState.COMPLETE
    assert len(end.text) == 20_000_000
    assert end.text == yielded == line


@pytest.mark.asyncio
async def test_an_event_beyond_the_size_guard_ends_the_turn_keeping_the_text_before() -> None:
    huge = openai_frame("y" * (DEFAULT_MAX_EVENT_BYTES + 1024))
    reply = Reply(body=[openai_frame("Before. "), huge, OPENAI_DONE.encode()])
    async with ByteServer(reply) as server:
        end, _ = await end_of_turn(server.url("/v1"))
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, StreamProtocolError)
    assert end.text == "Before. "


@pytest.mark.parametrize(
    "data",
    [
        "[" * 100_000,  # nesting deeper than json's recursion allows
        '{"choices": [{"delta": {"content": ' + "[" * 50_000 + "]" * 50_000 + "}}]}",
        '{"choices": [{"delta": {"content": "\\ud800"}}]}',  # a lone surrogate
        '{"choices": [{"delta": {"content": 1e999}}]}',
        "\x00\x00\x00",
    ],
    ids=["deep-array", "deep-content", "lone-surrogate", "huge-number", "nuls"],
)
@pytest.mark.asyncio
async def test_strange_event_data_ends_in_text_or_a_typed_error_never_a_crash(data: str) -> None:
    reply = Reply(body=sse(openai_delta("Start. "), f"data: {data}\n\n", OPENAI_DONE))
    async with ByteServer(reply) as server:
        end, yielded = await end_of_turn(server.url("/v1"))
    assert end.text == yielded
    assert end.text.startswith("Start. ")
    end.text.encode("utf-8")  # storable and printable: no lone surrogate survives
    if end.state is not TurnState.COMPLETE:
        assert end.state is TurnState.FAILED
        assert isinstance(end.error, StreamProtocolError)


@pytest.mark.asyncio
async def test_hostile_text_is_saved_exactly_as_sent() -> None:
    answer = ESCAPES + "\n" + CONTROLS + "\n" + BIDI + "\n<script>alert(1)</script> 🙂"
    async with ByteServer(answer_reply(pieces_of(answer, 2))) as server:
        end, _ = await end_of_turn(server.url("/v1"))
    assert end.text == answer
    history = HistoryStore.in_memory()
    try:
        conversation = history.create_conversation()
        message = history.start_assistant_message(conversation.id)
        history.finish_turn(message.id, end)
        assert history.get_message(message.id).text == answer
    finally:
        history.close()
