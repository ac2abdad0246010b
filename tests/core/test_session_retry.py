"""Retries before the first token, never after: over loopback, with a fake sleep and rng."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from desktop_app.core.errors import (
    AuthFailed,
    ConnectionFailed,
    ProviderError,
    RateLimited,
    ServerError,
)
from desktop_app.core.events import (
    ProviderFailed,
    Retrying,
    StateChanged,
    StreamEvent,
    TurnEnded,
    TurnState,
)
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import (
    OPENAI_DONE,
    ByteServer,
    Reply,
    free_port,
    openai_delta,
    sse,
)

pytestmark = pytest.mark.asyncio

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")
JSON = ("Content-Type", "application/json")
OK = Reply(body=sse(openai_delta("fine"), OPENAI_DONE))


class FakeSleep:
    """Records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def run(
    url: str,
    sleep: FakeSleep,
    settings: TurnSettings = TurnSettings(),  # noqa: B008
    provider: str = "openai",
) -> list[StreamEvent]:
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(5):
        return [
            e
            async for e in stream_turn(
                client,
                get_provider(provider),
                REQUEST,
                Endpoint(url),
                settings,
                sleep=sleep,
                rng=lambda: 0.0,
            )
        ]


def end_of(events: Sequence[StreamEvent]) -> TurnEnded:
    assert isinstance(events[-1], TurnEnded)
    assert sum(isinstance(e, TurnEnded) for e in events) == 1
    return events[-1]


def error_reply(status: int, message: str, *headers: tuple[str, str], kind: str = "x") -> Reply:
    body = json.dumps({"error": {"message": message, "type": kind}}).encode()
    return Reply(status=status, headers=(JSON, *headers), body=[body], framing="length")


async def test_429_then_ok_honours_retry_after() -> None:
    sleep = FakeSleep()
    replies = [error_reply(429, "Slow down", ("Retry-After", "3")), OK]
    async with ByteServer(replies) as server:
        events = await run(server.url("/v1"), sleep)
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.text == "fine"
    assert end.metrics.attempts == 2
    assert sleep.delays == [3.0]
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert len(retrying) == 1
    assert (retrying[0].attempt, retrying[0].delay) == (2, 3.0)
    assert "rate limiting" in retrying[0].reason
    assert StateChanged(TurnState.RETRYING, "retrying in 3 s") in events
    assert [e.state for e in events if isinstance(e, StateChanged)] == [
        TurnState.CONNECTING,
        TurnState.RETRYING,
        TurnState.CONNECTING,
        TurnState.WAITING,
        TurnState.STREAMING,
    ]


async def test_retry_after_ms_wins() -> None:
    sleep = FakeSleep()
    replies = [error_reply(529, "Overloaded", ("retry-after-ms", "1500"), ("Retry-After", "9")), OK]
    async with ByteServer(replies) as server:
        end = end_of(await run(server.url("/v1"), sleep))
    assert end.state is TurnState.COMPLETE
    assert sleep.delays == [1.5]


async def test_backoff_grows_and_attempts_are_bounded() -> None:
    sleep = FakeSleep()
    async with ByteServer(error_reply(502, "Bad gateway")) as server:
        end = end_of(await run(server.url("/v1"), sleep, TurnSettings(max_attempts=4)))
        assert len(server.requests) == 4
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ServerError)
    assert sleep.delays == [0.5, 1.0, 2.0]
    assert end.metrics.attempts == 4


async def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    sleep = FakeSleep()
    async with ByteServer(error_reply(429, "Later", ("Retry-After", "600"))) as server:
        end = end_of(await run(server.url("/v1"), sleep))
        assert len(server.requests) == 1
    assert sleep.delays == []
    assert isinstance(end.error, RateLimited)
    assert end.error.retry_after == 600
    assert "10 minutes" in end.error.hint


async def test_a_spend_limit_429_is_not_retried() -> None:
    sleep = FakeSleep()
    reply = error_reply(429, "You exceeded your current quota", kind="insufficient_quota")
    async with ByteServer(reply) as server:
        end = end_of(await run(server.url("/v1"), sleep))
        assert len(server.requests) == 1
    assert isinstance(end.error, RateLimited)
    assert "quota" in str(end.error)
    assert "billing" in end.error.hint


async def test_401_is_never_retried() -> None:
    sleep = FakeSleep()
    async with ByteServer(error_reply(401, "Incorrect API key provided")) as server:
        events = await run(server.url("/v1"), sleep)
        assert len(server.requests) == 1
    assert isinstance(end_of(events).error, AuthFailed)
    assert sleep.delays == []
    assert not any(isinstance(e, Retrying) for e in events)


async def test_x_should_retry_false_stops_a_retry() -> None:
    sleep = FakeSleep()
    reply = error_reply(503, "Maintenance", ("x-should-retry", "false"))
    async with ByteServer(reply) as server:
        end = end_of(await run(server.url("/v1"), sleep))
        assert len(server.requests) == 1
    assert isinstance(end.error, ServerError)


async def test_connection_refused_then_the_server_comes_up() -> None:
    port = free_port()
    started: list[ByteServer] = []

    async def sleep_then_start(delay: float) -> None:
        recorder.delays.append(delay)
        server = ByteServer(OK, port=port)
        await server.__aenter__()
        started.append(server)

    recorder = FakeSleep()
    try:
        async with StreamingClient(trust_env=False) as client, asyncio.timeout(5):
            events = [
                e
                async for e in stream_turn(
                    client,
                    get_provider("openai"),
                    REQUEST,
                    Endpoint(f"http://127.0.0.1:{port}/v1"),
                    sleep=sleep_then_start,
                    rng=lambda: 0.0,
                )
            ]
    finally:
        for server in started:
            await server.__aexit__(None, None, None)
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert recorder.delays == [0.5]
    retrying = next(e for e in events if isinstance(e, Retrying))
    assert "refused" in retrying.reason


async def test_connection_refused_every_time_fails_with_the_host_named() -> None:
    sleep = FakeSleep()
    port = free_port()
    end = end_of(await run(f"http://127.0.0.1:{port}/v1", sleep))
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ConnectionFailed)
    assert f"127.0.0.1:{port}" in str(end.error)
    assert "refused" in str(end.error)
    assert end.metrics.attempts == 3
    assert sleep.delays == [0.5, 1.0]


async def test_an_overloaded_error_event_before_any_token_is_retried() -> None:
    sleep = FakeSleep()
    overloaded = Reply(
        body=sse(
            'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
            'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        )
    )
    good = Reply(
        body=sse(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
            'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        )
    )
    async with ByteServer([overloaded, good]) as server:
        events = await run(server.url("/v1"), sleep, provider="anthropic")
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.text == "Hi"
    assert sleep.delays == [0.5]
    assert "overloaded" in next(e for e in events if isinstance(e, Retrying)).reason.lower()


async def test_an_overloaded_error_after_tokens_is_never_retried() -> None:
    sleep = FakeSleep()
    reply = Reply(
        body=sse(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Half"}}\n\n',
            'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        )
    )
    async with ByteServer(reply) as server:
        end = end_of(await run(server.url("/v1"), sleep, provider="anthropic"))
        assert len(server.requests) == 1
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ProviderError)
    assert end.error.kind == "overloaded_error"
    assert end.text == "Half"
    assert sleep.delays == []


async def test_a_drop_after_tokens_is_never_retried() -> None:
    sleep = FakeSleep()
    async with ByteServer(Reply(body=sse(openai_delta("Half")), ending="close")) as server:
        end = end_of(await run(server.url("/v1"), sleep))
        assert len(server.requests) == 1
    assert end.state is TurnState.INTERRUPTED
    assert end.text == "Half"


async def test_529_then_ok() -> None:
    sleep = FakeSleep()
    async with ByteServer([error_reply(529, "Overloaded", kind="overloaded_error"), OK]) as server:
        events = await run(server.url("/v1"), sleep)
    assert end_of(events).state is TurnState.COMPLETE
    reason = next(e for e in events if isinstance(e, Retrying)).reason
    assert "overloaded" in reason


async def test_an_error_event_before_any_token_that_is_not_overloaded_fails_at_once() -> None:
    sleep = FakeSleep()
    error = 'data: {"error": {"message": "Context too long", "type": "invalid_request_error"}}\n\n'
    async with ByteServer(Reply(body=sse(error))) as server:
        events = await run(server.url("/v1"), sleep)
        assert len(server.requests) == 1
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ProviderError)
    assert "Context too long" in str(end.error)
    failed = [e for e in events if isinstance(e, ProviderFailed)]
    assert len(failed) == 1
    assert events[-2] is failed[0]
