"""The stream inspector's model: frames (raw lines, types, what they became), the
timeline (first byte, first token, gaps, stalls, keep-alives, reconnects, the end),
masking, size bounds, and the stored form for the history."""

from __future__ import annotations

import asyncio
import json

import pytest

from desktop_app.core.errors import Interrupted
from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState
from desktop_app.core.inspector_model import COMMENT, InspectorModel, describe
from desktop_app.core.inspector_timeline import Stall, TimelineBuilder
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.recording import InvalidRecording
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import (
    GENERIC_DONE,
    OPENAI_DONE,
    ByteServer,
    Pause,
    RecordedRequest,
    Reply,
    generic_frame,
    openai_delta,
    sse,
)

KEY = "sk-inspect-0123456789abcdef"
REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),), model="m")


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def run(
    server: ByteServer,
    model: InspectorModel,
    provider: str = "openai",
    path: str = "/v1",
    settings: TurnSettings | None = None,
) -> TurnEnded:
    endpoint = Endpoint(server.url(path), api_key=KEY)
    async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
        events = [
            e
            async for e in stream_turn(
                client,
                get_provider(provider),
                REQUEST,
                endpoint,
                settings or TurnSettings(max_attempts=1),
                model,
            )
        ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    model.finish(end)
    return end


# ---------------------------------------------------------------- a live stream


@pytest.mark.asyncio
async def test_frames_keep_raw_lines_types_and_what_they_became() -> None:
    role = 'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}\n\n'
    body = [
        *sse(": warming up\n\n", role, openai_delta("Hé")),
        Pause(0.25),
        *sse(openai_delta(f"echo {KEY}"), "event: ping\ndata: {}\n\n", OPENAI_DONE),
    ]
    model = InspectorModel(provider=get_provider("openai"), secret=KEY, stall_threshold=0.15)
    changes: list[int] = []
    model.listener = lambda: changes.append(model.frame_count)
    async with ByteServer(Reply(body=body)) as server:
        end = await run(server, model)
    assert end.state is TurnState.COMPLETE
    frames = model.frames
    assert [f.event_type for f in frames] == [
        COMMENT,
        "message",
        "message",
        "message",
        "ping",
        "message",
    ]
    assert model.event_types == [COMMENT, "message", "ping"]
    assert frames[0].lines == (": warming up",)
    assert frames[0].keepalive
    assert frames[0].typed == ("keep-alive",)
    assert frames[1].typed == ()  # the role chunk carries nothing
    assert not frames[1].content
    assert frames[2].typed == ('text "Hé"',)
    assert frames[2].content
    assert KEY not in "".join(frames[3].lines)  # the key echoed back is masked on screen
    assert frames[3].typed == ('text "echo ***"',)
    assert frames[4].typed == ("keep-alive (ping)",)
    assert frames[5].typed == ("end of stream",)
    assert frames[5].raw() == "data: [DONE]\n\n"
    assert [f.index for f in frames] == list(range(6))
    assert {f.connection for f in frames} == {1}
    assert frames[2].t <= frames[3].t - 0.2
    assert changes  # the listener heard every change
    (exchange,) = model.exchanges
    assert exchange.request.headers["Authorization"] == "Bearer ***"
    assert exchange.request.path == "/v1/chat/completions"
    assert exchange.response is not None
    assert exchange.response.status == 200

    timeline = model.timeline()
    assert timeline.first_byte is not None
    assert timeline.first_token is not None
    assert 0 < timeline.first_byte <= timeline.first_token < timeline.tokens[-1]
    assert len(timeline.tokens) == 2
    assert timeline.gaps == (timeline.tokens[1] - timeline.tokens[0],)
    (stall,) = timeline.stalls
    assert stall.length >= 0.2
    assert not stall.at_end
    assert len(timeline.keepalives) == 2
    assert timeline.end_state is TurnState.COMPLETE
    assert timeline.ending().startswith("Complete")
    sent = b"".join(b for b in body if isinstance(b, bytes)).decode()
    assert model.raw_text() == sent.replace(KEY, "*" * len(KEY))


@pytest.mark.asyncio
async def test_a_resume_shows_the_reconnect_its_last_event_id_and_the_second_connection() -> None:
    def reply(request: RecordedRequest) -> Reply:
        if request.method == "GET":
            assert request.headers["last-event-id"] == "2"
            return Reply(body=sse(generic_frame(3, "three"), GENERIC_DONE))
        return Reply(
            body=sse(generic_frame(1, "one "), generic_frame(2, "two ")),
            headers=(("Content-Type", "text/event-stream"), ("Content-Location", "/s/1")),
            ending="close",
        )

    model = InspectorModel(provider=get_provider("generic"))
    settings = TurnSettings(max_attempts=1, initial_reconnect_delay=0.01)
    async with ByteServer(reply) as server:
        end = await run(server, model, "generic", "/api/chat", settings)
    assert end.text == "one two three"
    assert [x.request.method for x in model.exchanges] == ["POST", "GET"]
    assert model.exchanges[1].request.headers["Last-Event-ID"] == "2"
    assert [(f.connection, f.event_id) for f in model.frames] == [
        (1, "1"),
        (1, "2"),
        (2, "3"),
        (2, "3"),
    ]
    ((t, last_id),) = model.timeline().reconnects
    assert last_id == "2"
    assert model.frames[1].t <= t <= model.frames[2].t
    assert [x.ending for x in model.recording().exchanges()] == ["drop", "end"]


@pytest.mark.asyncio
async def test_a_retry_starts_a_fresh_parse_and_the_drop_is_the_ending() -> None:
    limited = Reply(status=429, headers=(("Retry-After", "0"),), body=[b"{}"])
    partial = Reply(body=sse(openai_delta("Par"), openai_delta("tial")), ending="close")
    model = InspectorModel(provider=get_provider("openai"))
    async with ByteServer([limited, partial]) as server:
        end = await run(server, model, settings=TurnSettings(max_attempts=2))
    assert end.state is TurnState.INTERRUPTED
    assert [x.response.status for x in model.exchanges if x.response] == [429, 200]
    assert [f.typed for f in model.frames] == [('text "Par"',), ('text "tial"',)]
    timeline = model.timeline()
    assert len(timeline.requests) == 2
    assert timeline.ending().startswith("Interrupted: The connection to 127.0.0.1")


# ---------------------------------------------------------------- timing, exactly


def fed(clock: FakeClock, model: InspectorModel, script: list[tuple[float, bytes]]) -> None:
    model.on_request("POST", "http://h/v1/chat/completions", {}, {"model": "m"})
    model.on_response(200, {"content-type": "text/event-stream"})
    for at, data in script:
        clock.now = 50.0 + at
        model.on_chunk(data, clock.now)


def test_gaps_stalls_and_a_silent_end_are_measured_from_the_first_request() -> None:
    clock = FakeClock()
    model = InspectorModel(provider=get_provider("openai"), clock=clock, stall_threshold=1.0)
    fed(
        clock,
        model,
        [
            (0.5, openai_delta("a").encode()),
            (0.75, openai_delta("b").encode()),
            (1.0, b": keep-alive\n\n"),
            (3.0, openai_delta("c").encode()),
            (3.5, b": keep-alive\n\n"),
            (4.0, b": keep-alive\n\n"),
        ],
    )
    clock.now = 56.0
    model.on_end(TurnState.INTERRUPTED)
    model.finish(TurnEnded(TurnState.INTERRUPTED, "abc", TurnMetrics(), error=Interrupted("Idle.")))
    timeline = model.timeline()
    assert timeline.first_byte == 0.5
    assert timeline.first_token == 0.5
    assert timeline.tokens == (0.5, 0.75, 3.0)
    assert timeline.gaps == (0.25, 2.25)
    assert timeline.max_gap == 2.25
    assert timeline.median_gap == 1.25
    assert timeline.stalls == (Stall(0.75, 2.25, keepalives=1), Stall(3.0, 3.0, 2, at_end=True))
    assert timeline.keepalives == (1.0, 3.5, 4.0)
    assert timeline.end == 6.0
    assert timeline.last_event == 6.0
    assert timeline.ending() == "Interrupted: Idle."


def test_the_builder_counts_tokens_beyond_what_it_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.core import inspector_timeline

    monkeypatch.setattr(inspector_timeline, "MAX_POINTS", 3)
    builder = TimelineBuilder(threshold=10)
    for t in range(5):
        builder.frame(float(t), content=True, keepalive=False)
    timeline = builder.result()
    assert timeline.tokens == (0.0, 1.0, 2.0)
    assert timeline.token_count == 5
    assert timeline.ending() == ""


# ---------------------------------------------------------------- bounds and storage


def test_frames_lines_and_bytes_are_bounded_with_a_note() -> None:
    clock = FakeClock()
    model = InspectorModel(
        provider=get_provider("openai"), clock=clock, max_frames=10, max_bytes=2000
    )
    script = [(i / 100, openai_delta(f"t{i}").encode()) for i in range(30)]
    script.append((0.5, b"data: " + b"x" * 5000 + b"\n\n"))
    fed(clock, model, script)
    frames = model.frames
    assert model.frame_count == 31
    assert len(frames) == 10
    assert model.dropped_frames == 21
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 26, 27, 28, 29, 30]
    assert frames[-1].lines[0].endswith("more characters)")
    assert len(frames[-1].lines[0]) < 2100
    assert model.truncated_bytes > 0
    assert model.timeline().token_count == 30  # the timeline counts every frame
    recording = model.recording()
    assert len(recording.body()) <= 2000
    assert recording.end is not None
    assert recording.end.truncated_bytes == model.truncated_bytes


def test_the_stored_form_rebuilds_the_same_frames_and_timeline() -> None:
    clock = FakeClock()
    model = InspectorModel(
        provider=get_provider("anthropic"), secret=KEY, clock=clock, stall_threshold=0.3
    )
    model.on_request("POST", "http://h/v1/messages", {"x-api-key": KEY}, {"prompt": KEY})
    model.on_response(200, {"content-type": "text/event-stream"})
    chunks = [
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        'event: ping\ndata: {"type": "ping"}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    for i, chunk in enumerate(chunks):
        clock.now = 50.0 + 0.2 * (i + 1)
        model.on_chunk(chunk.encode(), clock.now)
    model.on_end(TurnState.COMPLETE)
    stored = model.to_json()
    assert KEY not in stored
    again = InspectorModel.from_json(stored)
    assert again.provider is not None
    assert again.provider.name == "anthropic"
    assert again.frames == model.frames
    assert again.timeline() == model.timeline()
    assert again.recording().dumps() == model.recording().dumps()
    assert [f.typed for f in again.frames] == [
        ("usage: 3 in, None out",),
        (),
        ("keep-alive (ping)",),
        ('text "Hi"',),
        ("finish reason: end_turn", "usage: 3 in, 1 out"),
        ("end of stream (end_turn)",),
    ]
    assert model.event_types == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "message_delta",
        "message_stop",
    ]
    with pytest.raises(InvalidRecording):
        InspectorModel.from_json("{not json")
    with pytest.raises(InvalidRecording):
        InspectorModel.from_json(json.dumps({"inspection": 1}))


def test_a_recording_without_a_known_provider_still_counts_tokens() -> None:
    clock = FakeClock()
    source = InspectorModel(clock=clock)
    fed(clock, source, [(0.1, b"data: one\n\n"), (0.2, b"data: [DONE]\n\n")])
    model = InspectorModel.from_recording(source.recording())
    assert model.provider is None
    assert [f.content for f in model.frames] == [True, False]
    assert model.timeline().tokens == (0.1,)


def test_describe_names_every_kind_of_event() -> None:
    from desktop_app.core.events import (
        Finished,
        FinishReason,
        ProviderFailed,
        ReasoningDelta,
        TextDelta,
        ToolCallDelta,
        Usage,
    )

    assert describe(TextDelta("x" * 100)).endswith('…"')
    assert describe(ReasoningDelta("hm")) == 'reasoning "hm"'
    assert describe(ToolCallDelta(0, '{"a"', "call_1", "get_weather")) == (
        'tool call #0 get_weather call_1 "{\\"a\\""'
    )
    assert describe(Usage(1, 2)) == "usage: 1 in, 2 out"
    assert describe(FinishReason("length")) == "finish reason: length"
    assert describe(Finished()) == "end of stream"
    assert (
        describe(ProviderFailed("boom", "overloaded_error"))
        == "server error [overloaded_error]: boom"
    )


# ---------------------------------------------------------------- the log of recent answers


def test_the_log_keeps_recent_answers_and_never_drops_a_live_one() -> None:
    from desktop_app.core.inspections import InspectionLog

    log = InspectionLog(max_answers=2)
    live = log.start("1", provider=get_provider("openai"), secret=KEY)
    live.on_request("POST", "http://h/v1/chat/completions", {}, None)  # streaming, not ended
    done = log.start("2", provider=None)
    done.on_request("POST", "http://h/", {}, None)
    done.on_end(TurnState.COMPLETE)
    log.start("3", provider=None)
    assert log.get("1") is live  # the live one stayed, the finished one went
    assert log.get("2") is None
    assert len(log) == 2
    stored = live.to_json()
    again = log.load("4", stored)
    assert again.exchanges[0].request.path == "/v1/chat/completions"
    assert log.get("4") is again
    log.forget("4")
    assert log.get("4") is None


def test_what_frames_became_is_sorted_into_kinds() -> None:
    from desktop_app.core.inspector_words import kinds_of

    assert kinds_of(('text "a"', "usage: 3 in, 4 out", "finish reason: stop")) == (
        "text",
        "usage",
        "finish reason",
    )
    assert kinds_of(('tool call #0 get_weather call_1 "{}"',)) == ("tool call",)
    assert kinds_of(("keep-alive (ping)",)) == ("keep-alive",)
    assert kinds_of(("protocol error: bad JSON",)) == ("protocol error",)
    assert kinds_of(()) == ()
