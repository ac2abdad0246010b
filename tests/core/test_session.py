"""A turn over real loopback sockets: the happy path, status and content-type errors,
the generic two-step shape, drops, stalls, keep-alives, trickles and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping, Sequence

import pytest

from desktop_app.core.errors import (
    AuthFailed,
    ConfigError,
    FirstTokenTimeout,
    HTTPStatusError,
    IdleTimeout,
    Interrupted,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    StreamProtocolError,
    UnexpectedResponse,
)
from desktop_app.core.events import (
    KeepAlive,
    StateChanged,
    StreamEvent,
    TextDelta,
    TurnEnded,
    TurnState,
)
from desktop_app.core.observer import NullObserver, TurnObserver
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import (
    OPENAI_DONE,
    ByteServer,
    Pause,
    Reply,
    generic_frame,
    openai_delta,
    sse,
)

pytestmark = pytest.mark.asyncio

REQUEST = ChatRequest(messages=(ChatMessage("user", "Say hello"),), model="test-model")
KEY = "sk-test-0123456789abcdef"
NO_RETRY = TurnSettings(max_attempts=1)


async def run(
    server: ByteServer,
    provider: str = "openai",
    settings: TurnSettings = NO_RETRY,
    *,
    path: str = "/v1",
    stream_url: str | None = None,
    observer: TurnObserver | None = None,
) -> list[StreamEvent]:
    endpoint = Endpoint(server.url(path), api_key=KEY, stream_url=stream_url)
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(5):
        return [
            event
            async for event in stream_turn(
                client, get_provider(provider), REQUEST, endpoint, settings, observer
            )
        ]


def end_of(events: Sequence[StreamEvent]) -> TurnEnded:
    ends = [e for e in events if isinstance(e, TurnEnded)]
    assert len(ends) == 1
    assert events[-1] is ends[0]
    return ends[0]


def states(events: Sequence[StreamEvent]) -> list[TurnState]:
    return [e.state for e in events if isinstance(e, StateChanged)]


def text_of(events: Sequence[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ---------------------------------------------------------------- the happy path


async def test_a_stream_completes_with_every_state_in_order() -> None:
    body = sse(openai_delta("Hel"), ": keep-alive\n\n", openai_delta("lo"), OPENAI_DONE)
    async with ByteServer(Reply(body=body)) as server:
        events = await run(server)
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.error is None
    assert end.text == text_of(events) == "Hello"
    assert states(events) == [TurnState.CONNECTING, TurnState.WAITING, TurnState.STREAMING]
    assert KeepAlive("keep-alive") in events
    m = end.metrics
    assert m.outcome is TurnState.COMPLETE
    assert m.time_to_first_byte is not None
    assert m.time_to_first_token is not None
    assert m.time_to_first_byte <= m.time_to_first_token <= m.total_time
    assert (m.output_tokens, m.tokens_counted, m.attempts, m.reconnects) == (2, True, 1, 0)
    request = server.requests[0]
    assert (request.method, request.target) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept-encoding"] == "identity"
    assert json.loads(request.body)["stream"] is True


async def test_one_byte_at_a_time_gives_the_same_text() -> None:
    text = "Grüße, 世界 🎉\u2028 fin"
    frames = (f"id: {i}\ndata: {json.dumps(ch)}\n\n" for i, ch in enumerate(text))
    raw = b"".join(sse(*frames, "event: end\r\ndata:\r\n\r\n"))
    body: list[bytes | Pause] = []
    for i in range(len(raw)):
        body += [raw[i : i + 1], Pause(0.0002)]
    chunks: list[bytes] = []

    class Recorder(NullObserver):
        def on_chunk(self, data: bytes, at: float) -> None:
            chunks.append(data)

    async with ByteServer(Reply(body=body)) as server:
        events = await run(server, "generic", observer=Recorder())
    assert end_of(events).state is TurnState.COMPLETE
    assert end_of(events).text == text
    # The CR of the last blank line already ends the event: the final LF is not needed.
    assert b"".join(chunks) in (raw, raw[:-1])
    assert len(chunks) > len(raw) // 4  # it really arrived in small pieces


async def test_a_server_that_never_closes_after_its_terminator_still_completes_promptly() -> None:
    reply = Reply(body=sse(openai_delta("done"), OPENAI_DONE), ending="hang")
    async with ByteServer(reply) as server:
        started = time.monotonic()
        events = await run(server)
        elapsed = time.monotonic() - started
        await server.wait_disconnect(1.0)  # and the connection was let go
    assert end_of(events).state is TurnState.COMPLETE
    assert elapsed < 1.0


async def test_the_connection_is_reused_after_a_complete_stream() -> None:
    reply = Reply(body=sse(openai_delta("x"), OPENAI_DONE))
    endpoint_path = "/v1"
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:
        endpoint = Endpoint(server.url(endpoint_path))
        for _ in range(2):
            async with asyncio.timeout(5):
                events = [
                    e async for e in stream_turn(client, get_provider("openai"), REQUEST, endpoint)
                ]
            assert end_of(events).state is TurnState.COMPLETE
    assert [r.connection for r in server.requests] == [1, 1]


# ---------------------------------------------------------------- status errors


def json_error(message: str, kind: str = "invalid_request_error", code: str = "") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


JSON = (("Content-Type", "application/json"),)


@pytest.mark.parametrize(
    ("status", "headers", "body", "error_type", "words"),
    [
        (401, JSON, json_error("Incorrect API key provided."), AuthFailed, "refused the API key"),
        (403, JSON, json_error("Not allowed."), AuthFailed, "denied access"),
        (404, JSON, json_error("The model `x` does not exist"), NotFound, "does not exist"),
        (
            429,
            (*JSON, ("Retry-After", "20")),
            json_error("Slow down."),
            RateLimited,
            "rate limiting",
        ),
        (500, JSON, json_error("Boom.", "server_error"), ServerError, "HTTP 500"),
        (
            502,
            (("Content-Type", "text/html"),),
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            ServerError,
            "502 Bad Gateway",
        ),
        (529, JSON, json_error("Overloaded", "overloaded_error"), Overloaded, "overloaded"),
        (
            503,
            JSON,
            json_error("The engine is overloaded", "overloaded_error"),
            Overloaded,
            "overloaded",
        ),
        (400, JSON, json_error("max_tokens is too large"), HTTPStatusError, "too large"),
    ],
)
async def test_status_errors_become_typed_errors_with_the_servers_words(
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    error_type: type[HTTPStatusError],
    words: str,
) -> None:
    reply = Reply(status=status, headers=headers, body=[body], framing="length")
    async with ByteServer(reply) as server:
        events = await run(server)
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert type(end.error) is error_type
    assert isinstance(end.error, HTTPStatusError)
    assert end.error.status == status
    assert words in str(end.error)
    assert KEY not in str(end.error)
    assert end.text == ""
    assert len(server.requests) == 1  # NO_RETRY
    if status == 429:
        assert isinstance(end.error, RateLimited)
        assert end.error.retry_after == 20


async def test_a_key_quoted_back_by_the_server_is_masked() -> None:
    body = json_error(f"Incorrect API key provided: {KEY}.")
    reply = Reply(status=401, headers=JSON, body=[body], framing="length")
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert isinstance(end.error, AuthFailed)
    assert KEY not in str(end.error)
    assert KEY not in end.error.body
    assert KEY[:8] not in str(end.error)
    assert "Incorrect API key provided" in str(end.error)


async def test_a_huge_error_body_is_read_only_up_to_the_bound() -> None:
    body = [b"x" * 65536] * 32  # 2 MiB of junk
    reply = Reply(status=500, headers=(("Content-Type", "text/plain"),), body=body)
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert isinstance(end.error, ServerError)
    assert len(end.error.body) <= 64 * 1024


# ---------------------------------------------------------------- content type


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("text/html", b"<html><title>Welcome to nginx!</title></html>", "a web page"),
        ("application/json", json_error("stream is not supported"), "not supported"),
        ("text/x-bogus", b"hello", "text/x-bogus"),
    ],
)
async def test_a_2xx_that_is_not_an_event_stream_is_an_unexpected_response(
    content_type: str, body: bytes, words: str
) -> None:
    reply = Reply(headers=(("Content-Type", content_type),), body=[body], framing="length")
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, UnexpectedResponse)
    assert words in str(end.error)


async def test_events_under_the_wrong_label_say_so() -> None:
    reply = Reply(
        headers=(("Content-Type", "text/plain"),),
        body=sse(openai_delta("hidden"), OPENAI_DONE),
        framing="length",
    )
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert isinstance(end.error, UnexpectedResponse)
    assert "labelled as text/plain" in str(end.error)
    assert "text/event-stream" in end.error.hint
    assert end.text == ""


async def test_an_event_stream_with_a_charset_is_fine() -> None:
    reply = Reply(
        headers=(("Content-Type", "Text/Event-Stream; charset=utf-8"),),
        body=sse(openai_delta("ok"), OPENAI_DONE),
    )
    async with ByteServer(reply) as server:
        assert end_of(await run(server)).state is TurnState.COMPLETE


# ---------------------------------------------------------------- generic two-step


def two_step_server(first: Reply) -> ByteServer:
    stream = Reply(
        body=sse(generic_frame(1, "Two"), generic_frame(2, "-step"), "event: stop\ndata: \n\n")
    )

    def reply(request: object) -> Reply:
        assert hasattr(request, "method")
        return first if request.method == "POST" else stream

    return ByteServer(reply)


@pytest.mark.parametrize(
    "first",
    [
        Reply(status=201, headers=(("Location", "/api/stream/abc"),), framing="length"),
        Reply(
            status=202,
            headers=(("Location", "stream/abc"), ("Content-Type", "application/json")),
            body=[b'{"id": "abc"}'],
            framing="length",
        ),
    ],
)
async def test_generic_two_step_follows_location(first: Reply) -> None:
    async with two_step_server(first) as server:
        events = await run(server, "generic", path="/api/prompts")
        get = server.requests[1]
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.text == "Two-step"
    assert (get.method, get.target) == ("GET", "/api/stream/abc")
    assert get.headers["accept"] == "text/event-stream"
    assert get.headers["authorization"] == f"Bearer {KEY}"
    assert "content-type" not in get.headers


async def test_generic_two_step_uses_the_profile_stream_url_after_204() -> None:
    async with two_step_server(Reply(status=204, headers=(), framing="length")) as server:
        events = await run(server, "generic", path="/api/prompts", stream_url="/api/events")
        assert server.requests[1].target == "/api/events"
    assert end_of(events).text == "Two-step"


async def test_generic_2xx_without_a_stream_url_is_an_unexpected_response() -> None:
    async with two_step_server(Reply(status=202, headers=(), framing="length")) as server:
        end = end_of(await run(server, "generic", path="/api/prompts"))
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, UnexpectedResponse)
    assert "named no stream" in str(end.error)


# ---------------------------------------------------------------- drops and errors in the stream


@pytest.mark.parametrize("ending", ["close", "reset"])
async def test_a_drop_mid_stream_is_interrupted_and_keeps_the_text(ending: str) -> None:
    reply = Reply(body=sse(openai_delta("Partial "), openai_delta("answer")), ending=ending)  # type: ignore[arg-type]
    async with ByteServer(reply) as server:
        events = await run(server)
    end = end_of(events)
    assert end.state is TurnState.INTERRUPTED
    assert isinstance(end.error, Interrupted)
    assert end.text == "Partial answer"
    assert end.metrics.outcome is TurnState.INTERRUPTED


async def test_a_clean_end_without_terminator_is_interrupted_not_complete() -> None:
    reply = Reply(body=sse(openai_delta("Half")), framing="length")
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert end.state is TurnState.INTERRUPTED
    assert "before the answer finished" in str(end.error)
    assert end.text == "Half"


async def test_half_a_character_held_back_when_the_body_ends_becomes_a_replacement() -> None:
    # An emoji's UTF-16 halves as JSON escapes, the second never sent: the first is held back
    # for it; at the end of the body it is shown as U+FFFD, not silently dropped.
    half = 'data: {"choices":[{"index":0,"delta":{"content":"Smile \\ud83d"}}]}\n\n'
    reply = Reply(body=sse(half), framing="length")
    async with ByteServer(reply) as server:
        end = end_of(await run(server))
    assert end.state is TurnState.INTERRUPTED
    assert end.text == "Smile \ufffd"


async def test_an_error_event_mid_stream_fails_the_turn_and_keeps_the_text() -> None:
    error = 'data: {"error": {"message": "The model crashed", "type": "server_error"}}\n\n'
    async with ByteServer(Reply(body=sse(openai_delta("So far"), error))) as server:
        events = await run(server, settings=TurnSettings())
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ProviderError)
    assert "The model crashed" in str(end.error)
    assert end.text == "So far"
    assert len(server.requests) == 1  # never retried after tokens


async def test_malformed_data_is_a_protocol_error_after_the_good_events() -> None:
    # One chunk: the good event before the bad one is still yielded.
    bad = 'data: {"choices": [{"delta": {"content": 5}}]}\n\n'
    body = [(openai_delta("ok ") + bad + openai_delta("never")).encode()]
    async with ByteServer(Reply(body=body)) as server:
        events = await run(server)
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, StreamProtocolError)
    assert end.text == text_of(events) == "ok "


# ---------------------------------------------------------------- timeouts


async def test_a_stall_before_the_first_token_is_a_first_token_timeout() -> None:
    # Headers and keep-alives arrive, but no content: keep-alives do not count.
    body: list[bytes | Pause] = [b": waiting\n\n", Pause(0.1), b": waiting\n\n"]
    settings = TurnSettings(first_token_timeout=0.3, max_attempts=1)
    async with ByteServer(Reply(body=body, ending="hang")) as server:
        started = time.monotonic()
        events = await run(server, settings=settings)
        elapsed = time.monotonic() - started
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, FirstTokenTimeout)
    assert "0.3 s" in str(end.error)
    assert 0.25 <= elapsed < 1.5
    assert sum(isinstance(e, KeepAlive) for e in events) == 2


async def test_a_server_that_never_sends_headers_is_a_first_token_timeout() -> None:
    settings = TurnSettings(first_token_timeout=0.3, max_attempts=1)
    async with ByteServer(Reply(head_delay=5)) as server:
        end = end_of(await run(server, settings=settings))
    assert isinstance(end.error, FirstTokenTimeout)
    assert states([end]) == []


async def test_a_stall_mid_stream_is_an_idle_timeout_and_keeps_the_text() -> None:
    settings = TurnSettings(idle_timeout=0.3, max_attempts=1)
    async with ByteServer(Reply(body=sse(openai_delta("Before stall")), ending="hang")) as server:
        end = end_of(await run(server, settings=settings))
        await server.wait_disconnect(1.0)  # the stalled socket was closed
    assert end.state is TurnState.INTERRUPTED
    assert isinstance(end.error, IdleTimeout)
    assert end.text == "Before stall"


async def test_keep_alives_are_reported_but_do_not_extend_the_idle_deadline() -> None:
    body: list[bytes | Pause] = [openai_delta("tok").encode()]
    for _ in range(10):
        body += [Pause(0.1), b": ping\n\n"]
    settings = TurnSettings(idle_timeout=0.45, max_attempts=1)
    async with ByteServer(Reply(body=body, ending="hang")) as server:
        started = time.monotonic()
        events = await run(server, settings=settings)
        elapsed = time.monotonic() - started
    end = end_of(events)
    assert isinstance(end.error, IdleTimeout)
    assert elapsed < 0.9  # ten keep-alives over 1 s did not keep it alive
    assert sum(isinstance(e, KeepAlive) for e in events) >= 2


async def test_content_does_extend_the_idle_deadline() -> None:
    body: list[bytes | Pause] = []
    for i in range(5):
        body += [openai_delta(str(i)).encode(), Pause(0.15)]
    body.append(OPENAI_DONE.encode())
    settings = TurnSettings(idle_timeout=0.4, first_token_timeout=0.4, max_attempts=1)
    async with ByteServer(Reply(body=body)) as server:
        end = end_of(await run(server, settings=settings))
    assert end.state is TurnState.COMPLETE
    assert end.text == "01234"


async def test_a_slow_consumer_is_not_mistaken_for_a_silent_server() -> None:
    body: list[bytes | Pause] = []
    for i in range(3):
        body += [openai_delta(str(i)).encode(), Pause(0.02)]
    body.append(OPENAI_DONE.encode())
    settings = TurnSettings(idle_timeout=0.1, max_attempts=1)
    events: list[StreamEvent] = []
    async with (
        ByteServer(Reply(body=body)) as server,
        StreamingClient(trust_env=False) as client,
        asyncio.timeout(5),
    ):
        endpoint = Endpoint(server.url("/v1"))
        async for event in stream_turn(client, get_provider("openai"), REQUEST, endpoint, settings):
            events.append(event)
            if isinstance(event, TextDelta):
                await asyncio.sleep(0.15)  # busy rendering, longer than the idle timeout
    assert end_of(events).state is TurnState.COMPLETE
    assert end_of(events).text == "012"


# ---------------------------------------------------------------- cancellation


async def test_cancelling_the_task_closes_the_socket_at_once() -> None:
    got_token = asyncio.Event()
    reply = Reply(body=sse(openai_delta("Hi")), ending="hang")
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:

        async def consume() -> None:
            endpoint = Endpoint(server.url("/v1"))
            async for event in stream_turn(client, get_provider("openai"), REQUEST, endpoint):
                if isinstance(event, TextDelta):
                    got_token.set()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(5):
            await got_token.wait()
        assert not server.client_gone.is_set()
        cancelled_at = asyncio.get_running_loop().time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gone_at = await server.wait_disconnect(1.0)
    assert gone_at - cancelled_at < 1.0


async def test_closing_the_generator_closes_the_socket_and_reports_cancelled() -> None:
    ended: list[TurnState] = []

    class Observer(NullObserver):
        def on_end(self, state: TurnState) -> None:
            ended.append(state)

    reply = Reply(body=sse(openai_delta("Hi")), ending="hang")
    async with (
        ByteServer(reply) as server,
        StreamingClient(trust_env=False) as client,
        asyncio.timeout(5),
    ):
        turn = stream_turn(
            client,
            get_provider("openai"),
            REQUEST,
            Endpoint(server.url("/v1")),
            observer=Observer(),
        )
        async with contextlib.aclosing(turn):
            async for event in turn:
                if isinstance(event, TextDelta):
                    break
        await server.wait_disconnect(1.0)
    assert ended == [TurnState.CANCELLED]


async def test_tool_calls_are_assembled_from_their_fragments() -> None:
    def tool_chunk(delta: dict[str, object], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return "data: " + json.dumps({"choices": [choice]}) + "\n\n"

    first = {"index": 0, "id": "call_1", "type": "function"}
    first["function"] = {"name": "get_weather", "arguments": ""}
    body = sse(
        tool_chunk({"role": "assistant", "tool_calls": [first]}),
        tool_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        tool_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        tool_chunk({}, "tool_calls"),
        OPENAI_DONE,
    )
    async with ByteServer(Reply(body=body)) as server:
        end = end_of(await run(server))
    assert end.state is TurnState.COMPLETE
    assert [(c.index, c.id, c.name, c.arguments) for c in end.tool_calls] == [
        (0, "call_1", "get_weather", '{"city": "Paris"}')
    ]
    assert end.metrics.finish_reason == "tool_calls"
    assert end.metrics.time_to_first_token is not None


async def test_the_observer_sees_the_wire_with_the_key_masked() -> None:
    seen: list[tuple[str, object]] = []

    class Recorder(NullObserver):
        def on_request(
            self, method: str, url: str, headers_masked: Mapping[str, str], body: object
        ) -> None:
            seen.append(("request", (method, url, dict(headers_masked), body)))

        def on_response(self, status: int, headers: Mapping[str, str]) -> None:
            seen.append(("response", (status, headers.get("content-type"))))

        def on_chunk(self, data: bytes, at: float) -> None:
            seen.append(("chunk", data))

        def on_end(self, state: TurnState) -> None:
            seen.append(("end", state))

    body = sse(openai_delta("Hi"), OPENAI_DONE)
    async with ByteServer(Reply(body=body)) as server:
        await run(server, observer=Recorder())
    kinds = [kind for kind, _ in seen]
    assert kinds[:2] == ["request", "response"]
    assert kinds[-1] == "end"
    method, url, headers, sent = seen[0][1]  # type: ignore[misc]
    assert (method, url) == ("POST", server.url("/v1/chat/completions"))
    assert headers["Authorization"] == "Bearer ***"
    assert KEY not in repr(seen)
    assert isinstance(sent, dict)
    assert sent["model"] == "test-model"
    assert seen[1][1] == (200, "text/event-stream")
    assert b"".join(d for k, d in seen if k == "chunk") == b"".join(body)  # type: ignore[misc]
    assert seen[-1][1] is TurnState.COMPLETE


async def test_a_request_that_cannot_be_built_ends_the_turn_instead_of_raising() -> None:
    class BadProvider:
        name = "openai"
        resumable = False

        def build_request(self, request: ChatRequest, endpoint: Endpoint) -> object:
            raise ConfigError("The profile's base URL is empty.")

    async with StreamingClient(trust_env=False) as client:
        events = [
            e
            async for e in stream_turn(
                client,
                BadProvider(),  # type: ignore[arg-type]
                REQUEST,
                Endpoint(""),
            )
        ]
    end = end_of(events)
    assert end.state is TurnState.FAILED
    assert isinstance(end.error, ConfigError)
    assert states(events) == [TurnState.CONNECTING]
