"""Recordings: the JSON Lines format round-trips bytes exactly, keys never get in,
exchanges say how each body ended, bad files say what is wrong, and a real turn
over loopback is recorded chunk for chunk."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.errors import IdleTimeout, Interrupted
from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.recording import (
    InvalidRecording,
    RecordedChunk,
    RecordedReconnect,
    RecordedRequest,
    RecordedResponse,
    Recording,
    RecordingEnd,
    load_recording,
    loads_recording,
)
from desktop_app.core.recording_observer import RecordingObserver
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import OPENAI_DONE, ByteServer, Pause, Reply, openai_delta, sse

KEY = "sk-live-0123456789abcdefXYZ"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recorded(entries: list[object], **end: object) -> Recording:
    return Recording(
        entries=tuple(entries),  # type: ignore[arg-type]
        end=RecordingEnd(**end) if end else None,  # type: ignore[arg-type]
    )


REQ = RecordedRequest(0.0, "POST", "http://127.0.0.1:9/v1/chat/completions?x=1", {}, {"a": 1})


# ---------------------------------------------------------------- the format


def test_bytes_round_trip_exactly_with_base64_only_where_needed() -> None:
    euro = "€".encode()  # three bytes: cut it in two chunks
    chunks = [
        b"data: caf\xc3",  # ends inside "é"
        b"\xa9 " + euro[:1],
        euro[1:] + b"\r\n\r\n",
        "data: \u2028 line sep, NEL \u0085\n\n".encode(),
        b"\xff\xfe not utf-8",
    ]
    rec = recorded(
        [REQ, RecordedResponse(0.01, 200, {"content-type": "text/event-stream"})]
        + [RecordedChunk(i / 10, c) for i, c in enumerate(chunks, 1)],
        t=1.0,
        state="complete",
    )
    text = rec.dumps()
    lines = text.split("\n")
    assert lines[-1] == ""  # every record ends with LF
    assert all("\u2028" not in line and "\u0085" not in line for line in lines)
    records = [json.loads(line) for line in lines if line]
    kinds = [r["type"] for r in records]
    assert kinds == ["recording", "request", "response", *["chunk"] * 5, "end"]
    chunk_records = records[3:8]
    assert ["b64" in r for r in chunk_records] == [True, True, True, False, True]
    assert chunk_records[3]["data"] == "data: \u2028 line sep, NEL \u0085\n\n"
    assert records[1]["path"] == "/v1/chat/completions?x=1"

    back = loads_recording(text)
    assert [c.data for c in back.chunks] == chunks
    assert back.body() == b"".join(chunks)
    assert back.entries == rec.entries
    assert back.end == rec.end


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=12))
def test_any_chunking_of_any_bytes_round_trips(chunks: list[bytes]) -> None:
    rec = recorded([REQ, *(RecordedChunk(float(i), c) for i, c in enumerate(chunks))])
    assert [c.data for c in loads_recording(rec.dumps()).chunks] == chunks


def test_a_hand_edited_file_with_crlf_and_blank_lines_is_read(tmp_path: Path) -> None:
    text = (
        '{"type": "recording", "version": 1}\r\n'
        "\r\n"
        '{"type": "request", "method": "post", "url": "http://h/v1/messages"}\r\n'
        '{"type": "response", "t": 0.5, "status": 200}\r\n'
        '{"type": "chunk", "t": 1, "data": "event: ping\\ndata: {}\\n\\n"}\r\n'
        '{"type": "comment", "text": "a note a person added"}\r\n'
    )
    file = tmp_path / "edited.jsonl"
    file.write_bytes(text.encode())
    rec = load_recording(file)
    assert rec.provider is None
    assert rec.end is None
    (exchange,) = rec.exchanges()
    assert exchange.request.method == "POST"
    assert exchange.request.path == "/v1/messages"
    assert exchange.response is not None
    assert exchange.response.status == 200
    assert exchange.chunks[0].data == b"event: ping\ndata: {}\n\n"
    assert exchange.ending == "end"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "does not start with a recording header"),
        ('{"type": "chunk", "data": "x"}\n', "does not start with a recording header"),
        ('{"type": "recording", "version": 1}\nnot json\n', "Line 2 of"),
        ('{"type": "recording", "version": 1}\n[1]\n', "Line 2 of t.jsonl is not a JSON object"),
        ('{"type": "recording", "version": 9}\n', "format 9"),
        ('{"type": "recording", "version": 1}\n{"type": "chunk", "b64": "%%"}\n', "chunk record"),
        ('{"type": "recording", "version": 1}\n{"type": "chunk", "t": -1, "data": ""}\n', "time"),
        ('{"type": "recording", "version": 1}\n{"type": "response", "status": 42}\n', "status"),
        ('{"type": "recording", "version": 1}\n{"type": "request", "url": 5}\n', "request"),
    ],
)
def test_a_bad_file_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(InvalidRecording, match=words.replace("(", r"\(")):
        loads_recording(text, source="t.jsonl")


def test_a_missing_file_is_an_invalid_recording(tmp_path: Path) -> None:
    with pytest.raises(InvalidRecording, match="could not be read"):
        load_recording(tmp_path / "nope.jsonl")


def test_exchanges_say_how_each_body_ended() -> None:
    get = RecordedRequest(2.0, "GET", "http://h/api/streams/7", {})
    entries = [
        REQ,
        RecordedResponse(0.1, 200, {}),
        RecordedChunk(0.2, b"id: 1\ndata: {}\n\n"),
        RecordedReconnect(1.0, "http://h/api/streams/7", "1"),
        get,
        RecordedResponse(2.1, 200, {}),
        RecordedChunk(2.2, b"id: 2\ndata: {}\n\n"),
    ]
    complete = recorded(entries, t=3.0, state="complete")
    assert [x.ending for x in complete.exchanges()] == ["drop", "end"]
    assert complete.exchanges()[1].request.path == "/api/streams/7"
    dropped = recorded(entries, t=3.0, state="interrupted", error="Interrupted")
    assert [x.ending for x in dropped.exchanges()] == ["drop", "drop"]
    silent = recorded(entries, t=3.0, state="interrupted", error="IdleTimeout")
    assert [x.ending for x in silent.exchanges()] == ["drop", "silence"]


# ---------------------------------------------------------------- the observer


def test_the_observer_times_everything_from_the_first_request() -> None:
    clock = FakeClock()
    observer = RecordingObserver(provider="openai", clock=clock, note="bug 12")
    observer.on_request("post", "http://h/v1/chat/completions", {"Accept": "x"}, {"m": 1})
    clock.now += 0.25
    observer.on_response(200, {"content-type": "text/event-stream"})
    observer.on_chunk(b"data: 1\n\n", 100.5)
    observer.on_chunk(b"data: 2\n\n", 100.75)
    clock.now = 101.0
    observer.on_end(TurnState.COMPLETE)
    rec = observer.recording()
    assert [getattr(e, "t", None) for e in rec.entries] == [0.0, 0.25, 0.5, 0.75]
    assert rec.end == RecordingEnd(1.0, "complete")
    assert rec.provider == "openai"
    assert rec.note == "bug 12"
    head = json.loads(rec.dumps().split("\n")[0])
    assert head["type"] == "recording"
    assert head["version"] == 1
    assert head["created"].endswith("Z")
    assert head["streamdesk"]


def test_the_key_never_appears_in_a_recording(tmp_path: Path) -> None:
    clock = FakeClock()
    observer = RecordingObserver(secret=KEY, clock=clock)
    observer.on_request(
        "POST",
        f"http://user:pw@h/v1/chat?key={KEY}&api_key={KEY}&model=m",
        {
            "Authorization": f"Bearer {KEY}",
            "x-api-key": KEY,
            "api-key": KEY,
            "Cookie": "session=abc",
            "X-Custom-Auth": KEY,  # not a secret name: caught by its value
            "X-Quoted": f"key={KEY};",
            "Accept": "text/event-stream",
        },
        {"messages": [{"content": f"my key is {KEY}"}], KEY: "as a name"},
    )
    observer.on_response(200, {"set-cookie": "s=1", "x-echo": KEY, "content-type": "x"})
    half = len(KEY) // 2
    observer.on_chunk(f"data: echo {KEY[:half]}".encode(), 100.1)  # the key split in two
    observer.on_chunk(f"{KEY[half:]} and prefix {KEY[:8]}\n\n".encode(), 100.2)
    observer.on_reconnect(f"http://h/s?token={KEY}", "3")
    observer.on_end(TurnState.FAILED)
    error = Interrupted(f"Incorrect API key provided: {KEY}")
    observer.finish(TurnEnded(TurnState.FAILED, "", TurnMetrics(), error=error))
    rec = observer.recording()
    file = tmp_path / "r.jsonl"
    rec.save(file)
    saved = file.read_text(encoding="utf-8")
    assert KEY not in saved
    assert KEY[:8] not in saved
    assert KEY not in base64.b64decode(base64.b64encode(rec.body())).decode()
    request = rec.entries[0]
    assert isinstance(request, RecordedRequest)
    assert request.headers["Authorization"] == "Bearer ***"
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["X-Custom-Auth"] == request.headers["X-Quoted"] == "***"
    assert "***@h" in request.url
    assert "model=m" in request.url
    # Same-length masking keeps the chunk sizes (and so their boundaries) exact.
    sizes = [len(c.data) for c in rec.chunks]
    assert sizes == [len(f"data: echo {KEY[:half]}"), len(f"{KEY[half:]} and prefix {KEY[:8]}\n\n")]
    assert b"*" * len(KEY) in rec.body()
    assert rec.end is not None
    assert rec.end.error == "Interrupted"


def test_a_size_bound_keeps_the_first_bytes_and_counts_the_rest() -> None:
    observer = RecordingObserver(clock=FakeClock(), max_bytes=10)
    observer.on_request("POST", "http://h/", {}, None)
    for i in range(5):
        observer.on_chunk(b"1234", 100.0 + i)
    rec = observer.recording()
    assert rec.body() == b"12341234"
    assert rec.end is not None
    assert rec.end.state == "streaming"
    assert rec.end.truncated_bytes == 12
    observer.on_end(TurnState.COMPLETE)
    again = loads_recording(observer.recording().dumps())
    assert again.end is not None
    assert again.end.truncated_bytes == 12


def test_an_idle_timeout_is_recorded_as_silence() -> None:
    observer = RecordingObserver(clock=FakeClock())
    observer.on_request("POST", "http://h/v1/chat/completions", {}, None)
    observer.finish(TurnEnded(TurnState.INTERRUPTED, "", TurnMetrics(), error=IdleTimeout("quiet")))
    rec = loads_recording(observer.recording().dumps())
    assert rec.end is not None
    assert rec.end.error == "IdleTimeout"
    assert rec.end.reason == "quiet"
    assert rec.exchanges()[0].ending == "silence"


# ---------------------------------------------------------------- a real turn


@pytest.mark.asyncio
async def test_a_real_turn_is_recorded_chunk_for_chunk() -> None:
    body = [
        *sse(": hello\n\n"),
        Pause(0.05),
        *sse(openai_delta("Hé")),
        b'data: {"choices": [{"index": 0, "delta": {"content": "\xe2\x82',
        Pause(0.05),
        b'\xac"}}]}\n\n',
        *sse(OPENAI_DONE),
    ]
    sent = b"".join(b for b in body if isinstance(b, bytes))
    reply = Reply(body=body, headers=(("Content-Type", "text/event-stream"), ("X-Trace", "t1")))
    request = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")
    async with ByteServer(reply) as server:
        observer = RecordingObserver(secret=KEY, provider="openai")
        endpoint = Endpoint(server.url("/v1"), api_key=KEY)
        async with StreamingClient(trust_env=False) as client, asyncio.timeout(5):
            events = [
                e
                async for e in stream_turn(
                    client,
                    get_provider("openai"),
                    request,
                    endpoint,
                    TurnSettings(max_attempts=1),
                    observer,
                )
            ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    assert end.text == "Hé€"
    observer.finish(end)
    rec = loads_recording(observer.recording().dumps())
    assert rec.body() == sent
    assert len(rec.chunks) >= 3  # the pauses keep these boundaries apart
    (exchange,) = rec.exchanges()
    assert exchange.request.path == "/v1/chat/completions"
    assert exchange.request.headers["Authorization"] == "Bearer ***"
    body = exchange.request.body
    assert isinstance(body, dict)
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert exchange.response is not None
    assert exchange.response.headers["x-trace"] == "t1"
    times = [c.t for c in rec.chunks]
    assert times == sorted(times)
    assert times[-1] - times[0] >= 0.09
    assert rec.end is not None
    assert rec.end.state == "complete"
    assert KEY not in rec.dumps()


@pytest.mark.parametrize(
    ("provider", "url", "expected"),
    [
        ("openai", "http://real/v1/chat/completions?x=1", ("openai", "http://stub:1/v1")),
        (None, "http://real/v1/messages", ("anthropic", "http://stub:1/v1")),
        (None, "http://real/api/chat", ("generic", "http://stub:1/api/chat")),
        ("generic", "http://real/api/prompts", ("generic", "http://stub:1/api/prompts")),
    ],
)
def test_replay_target_sends_the_turn_to_the_recorded_path(
    provider: str | None, url: str, expected: tuple[str, str]
) -> None:
    from desktop_app.core.recording import replay_target

    rec = Recording(entries=(RecordedRequest(0.0, "POST", url, {}),), provider=provider)
    assert replay_target(rec, "http://stub:1/") == expected
    with pytest.raises(InvalidRecording):
        replay_target(Recording(entries=()), "http://stub:1")


def test_the_documented_example_is_a_valid_recording() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "recording-format.md").read_text()
    example = doc.split("### Example\n\n```json\n", 1)[1].split("```", 1)[0]
    rec = loads_recording(example)
    assert rec.provider == "openai"
    assert "€" in rec.body().decode("utf-8")
    assert [c.data[-2:] for c in rec.chunks][1] == "€".encode()[:2]


# ---------------------------------------------------------------- error bodies


async def _record(base_url: str, model: str) -> Recording:
    """One turn to the stub at ``base_url`` (no retry), recorded and read back."""
    request = ChatRequest(messages=(ChatMessage("user", "hi"),), model=model)
    observer = RecordingObserver(secret=KEY, provider="openai")
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
        events = [
            e
            async for e in stream_turn(
                client,
                get_provider("openai"),
                request,
                Endpoint(base_url, api_key=KEY),
                TurnSettings(max_attempts=1),
                observer,
            )
        ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    assert end.state is TurnState.FAILED
    observer.finish(end)
    return loads_recording(observer.recording().dumps())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("scenario", "status", "words"),
    [("http_429_retry_after", 429, b"rate"), ("html_error_page", 502, b"<html")],
)
async def test_an_error_body_is_recorded_and_replayed_with_its_status_and_headers(
    tmp_path: Path, scenario: str, status: int, words: bytes
) -> None:
    from server_stub import replay
    from server_stub.embedded import start_stub

    stub = await asyncio.to_thread(start_stub)
    try:
        first = await _record(stub.url + "/v1", f"stub-{scenario}")
    finally:
        await asyncio.to_thread(stub.stop)
    (exchange,) = first.exchanges()
    assert exchange.response is not None
    assert exchange.response.status == status
    assert words in first.body().lower()  # the body the session read is in the recording
    assert first.end is not None
    assert first.end.error in ("RateLimited", "ServerError")
    file = tmp_path / "first.jsonl"
    first.save(file)
    replaying = await asyncio.to_thread(replay.start_replay, file, 0)
    try:
        second = await _record(replaying.url + "/v1", "anything")
    finally:
        await asyncio.to_thread(replaying.stop)
    assert second.body() == first.body()
    (again,) = second.exchanges()
    assert again.response is not None
    assert again.response.status == status
    not_replayed = {"date", "server", "content-length", "transfer-encoding"}

    def head(response: RecordedResponse) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k not in not_replayed}

    assert head(again.response) == head(exchange.response)
    if status == 429:
        assert again.response.headers["retry-after"] == "2"
