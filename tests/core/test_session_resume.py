"""Resumption: a drop after event ids reconnects to the resume URL with Last-Event-ID,
and the answer comes out whole, with no token lost or repeated."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from desktop_app.core.errors import Interrupted
from desktop_app.core.events import (
    Reconnecting,
    StateChanged,
    StreamEvent,
    TextDelta,
    TurnEnded,
    TurnState,
)
from desktop_app.core.observer import NullObserver
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import (
    GENERIC_DONE,
    ByteServer,
    Ending,
    RecordedRequest,
    Reply,
    generic_frame,
    openai_delta,
    sse,
)

pytestmark = pytest.mark.asyncio

REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")
TOKENS = ["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog."]
RESUME_PATH = "/api/chat/streams/s1"


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class Reconnects(NullObserver):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def on_reconnect(self, url: str, last_event_id: str) -> None:
        self.seen.append((url, last_event_id))


def resumable_server(
    drop_after: Sequence[int],
    *,
    retry_ms: int | None = None,
    resume_reply: Reply | None = None,
    location_header: str = "Content-Location",
    ending: Ending = "close",
) -> ByteServer:
    """Streams TOKENS with ids 1..n; the k-th connection drops after ``drop_after[k]`` events.

    A GET honours Last-Event-ID exactly, as the stub's generic endpoint does.
    """
    connection = 0

    def reply(request: RecordedRequest) -> Reply:
        nonlocal connection
        if request.method == "GET" and resume_reply is not None:
            return resume_reply
        start = 0
        if request.method == "GET":
            start = int(request.headers["last-event-id"])
        stop = drop_after[connection] if connection < len(drop_after) else len(TOKENS)
        connection += 1
        frames = [generic_frame(i + 1, TOKENS[i]) for i in range(start, stop)]
        if retry_ms is not None and request.method == "POST":
            frames.insert(0, f"retry: {retry_ms}\n\n")
        if stop == len(TOKENS):
            frames.append(GENERIC_DONE)
        headers = (("Content-Type", "text/event-stream"), (location_header, RESUME_PATH))
        return Reply(
            headers=headers, body=sse(*frames), ending=ending if stop < len(TOKENS) else "finish"
        )

    return ByteServer(reply)


async def run(
    server: ByteServer,
    sleep: FakeSleep,
    settings: TurnSettings = TurnSettings(),  # noqa: B008
    observer: NullObserver | None = None,
    provider: str = "generic",
) -> list[StreamEvent]:
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(5):
        return [
            e
            async for e in stream_turn(
                client,
                get_provider(provider),
                REQUEST,
                Endpoint(server.url("/api/chat")),
                settings,
                observer,
                sleep=sleep,
            )
        ]


def end_of(events: Sequence[StreamEvent]) -> TurnEnded:
    assert isinstance(events[-1], TurnEnded)
    assert sum(isinstance(e, TurnEnded) for e in events) == 1
    return events[-1]


@pytest.mark.parametrize("ending", ["close", "reset"])
async def test_one_drop_resumes_with_last_event_id_and_loses_nothing(ending: Ending) -> None:
    sleep = FakeSleep()
    observer = Reconnects()
    async with resumable_server([3], ending=ending) as server:
        events = await run(server, sleep, observer=observer)
        get = server.requests[1]
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == TOKENS
    assert end.text == "".join(TOKENS)
    assert (get.method, get.target) == ("GET", RESUME_PATH)
    assert get.headers["last-event-id"] == "3"
    assert get.headers["accept"] == "text/event-stream"
    assert end.metrics.reconnects == 1
    assert end.metrics.attempts == 1
    assert sleep.delays == [1.0]  # initial_reconnect_delay: the server gave no retry:
    assert observer.seen == [(server.url(RESUME_PATH), "3")]
    reconnecting = next(e for e in events if isinstance(e, Reconnecting))
    assert (reconnecting.attempt, reconnecting.last_event_id) == (1, "3")
    changes = [e.state for e in events if isinstance(e, StateChanged)]
    assert changes == [
        TurnState.CONNECTING,
        TurnState.WAITING,
        TurnState.STREAMING,
        TurnState.RECONNECTING,
        TurnState.STREAMING,
    ]


async def test_several_drops_resume_each_time_with_the_servers_retry_time() -> None:
    sleep = FakeSleep()
    async with resumable_server([2, 4, 5, 8], retry_ms=250) as server:
        events = await run(server, sleep)
        last_ids = [r.headers.get("last-event-id") for r in server.requests]
    end = end_of(events)
    assert end.state is TurnState.COMPLETE
    assert end.text == "".join(TOKENS)
    assert [e.text for e in events if isinstance(e, TextDelta)] == TOKENS
    assert last_ids == [None, "2", "4", "5", "8"]
    assert end.metrics.reconnects == 4
    # Each reconnect that succeeded resets the backoff: the server's retry: each time.
    assert sleep.delays == [0.25, 0.25, 0.25, 0.25]


async def test_location_works_as_a_resume_url_too() -> None:
    sleep = FakeSleep()
    async with resumable_server([4], location_header="Location") as server:
        end = end_of(await run(server, sleep))
    assert end.text == "".join(TOKENS)


async def test_reconnects_are_bounded() -> None:
    sleep = FakeSleep()
    async with resumable_server([1, 2, 3, 4, 5, 6]) as server:
        end = end_of(await run(server, sleep, TurnSettings(max_reconnects=2)))
        assert len(server.requests) == 3
    assert end.state is TurnState.INTERRUPTED
    assert isinstance(end.error, Interrupted)
    assert end.text == "".join(TOKENS[:3])
    assert end.metrics.reconnects == 2


@pytest.mark.parametrize(
    ("resume_reply", "words"),
    [
        (Reply(status=404, headers=(), framing="length"), "HTTP 404"),
        (Reply(status=410, headers=(), framing="length"), "HTTP 410"),
        (Reply(status=204, headers=(), framing="length"), "HTTP 204"),
        (
            Reply(headers=(("Content-Type", "application/json"),), body=[b"{}"], framing="length"),
            "application/json",
        ),
    ],
)
async def test_a_resume_url_that_cannot_resume_ends_interrupted_with_the_partial_text(
    resume_reply: Reply, words: str
) -> None:
    sleep = FakeSleep()
    async with resumable_server([3], resume_reply=resume_reply) as server:
        end = end_of(await run(server, sleep))
        assert len(server.requests) == 2
    assert end.state is TurnState.INTERRUPTED
    assert isinstance(end.error, Interrupted)
    assert "could not resume" in str(end.error)
    assert words in str(end.error)
    assert end.text == "".join(TOKENS[:3])


async def test_a_resume_that_fails_to_connect_backs_off_and_tries_again() -> None:
    sleep = FakeSleep()
    busy = Reply(status=503, headers=(), body=[b"busy"], framing="length")
    answers = iter([busy, busy])

    def reply(request: RecordedRequest) -> Reply:
        if request.method == "POST":
            headers = (("Content-Type", "text/event-stream"), ("Content-Location", RESUME_PATH))
            body = sse(*(generic_frame(i + 1, TOKENS[i]) for i in range(2)))
            return Reply(headers=headers, body=body, ending="close")
        rest = [generic_frame(i + 1, TOKENS[i]) for i in range(2, len(TOKENS))]
        return next(answers, Reply(body=sse(*rest, GENERIC_DONE)))

    async with ByteServer(reply) as server:
        end = end_of(await run(server, sleep))
    assert end.state is TurnState.COMPLETE
    assert end.text == "".join(TOKENS)
    assert sleep.delays == [1.0, 2.0, 4.0]
    assert end.metrics.reconnects == 3


async def test_no_resume_without_event_ids() -> None:
    sleep = FakeSleep()
    headers = (("Content-Type", "text/event-stream"), ("Content-Location", RESUME_PATH))
    reply = Reply(headers=headers, body=sse('data: {"content": "no ids"}\n\n'), ending="close")
    async with ByteServer(reply) as server:
        end = end_of(await run(server, sleep))
        assert len(server.requests) == 1
    assert end.state is TurnState.INTERRUPTED
    assert end.text == "no ids"


async def test_no_resume_for_a_provider_that_cannot_resume() -> None:
    sleep = FakeSleep()
    headers = (("Content-Type", "text/event-stream"), ("Content-Location", RESUME_PATH))
    body = sse("id: 1\n" + openai_delta("openai "), "id: 2\n" + openai_delta("half"))
    async with ByteServer(Reply(headers=headers, body=body, ending="reset")) as server:
        end = end_of(await run(server, sleep, provider="openai"))
        assert len(server.requests) == 1
    assert end.state is TurnState.INTERRUPTED
    assert end.text == "openai half"


async def test_a_two_step_stream_resumes_at_its_own_url() -> None:
    sleep = FakeSleep()
    connection = 0

    def reply(request: RecordedRequest) -> Reply:
        nonlocal connection
        if request.method == "POST":
            return Reply(status=201, headers=(("Location", "/api/stream/7"),), framing="length")
        connection += 1
        if connection == 1:
            body = sse(*(generic_frame(i + 1, TOKENS[i]) for i in range(5)))
            return Reply(body=body, ending="close")
        start = int(request.headers["last-event-id"])
        frames = [generic_frame(i + 1, TOKENS[i]) for i in range(start, len(TOKENS))]
        return Reply(body=sse(*frames, "event: stop\ndata: \n\n"))

    async with ByteServer(reply) as server:
        end = end_of(await run(server, sleep))
        targets = [(r.method, r.target, r.headers.get("last-event-id")) for r in server.requests]
    assert end.state is TurnState.COMPLETE
    assert end.text == "".join(TOKENS)
    assert targets == [
        ("POST", "/api/chat", None),
        ("GET", "/api/stream/7", None),
        ("GET", "/api/stream/7", "5"),
    ]


async def test_the_stub_resumes_with_no_token_lost_or_repeated() -> None:
    """Against the bundled stub: the resumed answer equals a full replay of the same stream."""
    from desktop_app.core.sse import SSEDecoder
    from server_stub.embedded import start_stub

    observer = Reconnects()
    request = ChatRequest(messages=(ChatMessage("user", "/scenario drop_then_resume"),), model="m")
    with start_stub(tokens_per_second=2000, first_token_delay=0.0) as stub:
        async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
            events = [
                e
                async for e in stream_turn(
                    client,
                    get_provider("generic"),
                    request,
                    Endpoint(stub.url + "/api/chat"),
                    observer=observer,
                )
            ]
            end = end_of(events)
            assert end.state is TurnState.COMPLETE, end.error
            assert end.metrics.reconnects == 1
            (resume_url, last_id), *_ = observer.seen
            assert last_id
            # Resuming after id 0 replays the whole stream (without its drop) from the stub's store.
            replay = await client.open_stream(
                "GET", resume_url, headers={"Accept": "text/event-stream", "Last-Event-ID": "0"}
            )
            decoder, parser, text = SSEDecoder(), get_provider("generic").new_parser(), []
            try:
                while chunk := await replay.next_chunk():
                    for sse_event in decoder.feed(chunk):
                        text += [
                            e.text for e in parser.parse(sse_event) if isinstance(e, TextDelta)
                        ]
            finally:
                await replay.aclose()
    assert parser.finished
    assert end.text == "".join(text)
    assert [e.text for e in events if isinstance(e, TextDelta)] == text
