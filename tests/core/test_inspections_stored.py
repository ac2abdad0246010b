"""What the history keeps of a stream inspection (``core.inspections.stored_json``), and
bodies that are not event streams (error pages) in the inspector's model."""

from __future__ import annotations

import asyncio
import json

import pytest

from desktop_app.core.events import TurnEnded, TurnState
from desktop_app.core.inspections import MAX_REQUEST_BODY_CHARS, stored_json
from desktop_app.core.inspector_model import MAX_BODY_BYTES, InspectorModel
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import OPENAI_DONE, ByteServer, Reply, openai_delta, sse

KEY = "sk-stored-0123456789abcdef"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5.0

    def __call__(self) -> float:
        return self.now


def long_stream(frames: int, *, prompt: str = "hi", split: bool = True) -> InspectorModel:
    """A finished OpenAI stream of ``frames`` text frames, each cut in two chunks."""
    clock = FakeClock()
    model = InspectorModel(provider=get_provider("openai"), clock=clock)
    model.on_request(
        "POST",
        "http://h/v1/chat/completions",
        {"Authorization": "Bearer ***"},
        {"messages": [{"role": "user", "content": prompt}]},
    )
    model.on_response(200, {"content-type": "text/event-stream"})
    for i in range(frames):
        frame = openai_delta(f"token {i:06d} ").encode()
        parts = (frame[:17], frame[17:]) if split else (frame,)
        for part in parts:
            clock.now += 0.001
            model.on_chunk(part, clock.now)
    clock.now += 0.001
    model.on_chunk(OPENAI_DONE.encode(), clock.now)
    model.on_end(TurnState.COMPLETE)
    return model


def test_a_small_inspection_is_stored_whole() -> None:
    model = long_stream(20)
    assert stored_json(model) == model.to_json()
    again = InspectorModel.from_json(stored_json(model))
    assert again.frames == model.frames
    assert again.note == ""


def test_a_big_one_loses_its_middle_at_frame_ends_and_says_so() -> None:
    model = long_stream(3000, prompt="x" * (MAX_REQUEST_BODY_CHARS + 5000))
    whole = model.to_json()
    limit = 150_000
    assert len(whole) > 4 * limit
    stored = stored_json(model, limit)
    assert 0 < len(stored) <= limit
    again = InspectorModel.from_json(stored)
    # The first and the latest frames are kept, each whole: no frame was spliced at the cut.
    typed = [f.typed for f in again.frames]
    assert typed[0] == ('text "token 000000 "',)
    assert typed[-2:] == [('text "token 002999 "',), ("end of stream",)]
    assert all(t and (t[0].startswith("text ") or t == ("end of stream",)) for t in typed)
    numbers = [int(t[0][12:18]) for t in typed[:-1]]
    assert numbers == sorted(numbers)
    kept = len(numbers)
    assert 100 < kept < 3000
    assert "To keep the history small" in again.note
    assert "1 long request body was cut" in again.note
    assert f"{3000 * 2 - 2 * kept:,} chunks" in again.note  # two chunks per left-out frame
    body = again.exchanges[0].request.body
    assert isinstance(body, str)
    assert body.endswith("more characters)")
    assert again.end_state is TurnState.COMPLETE
    # Saved again as a recording, the note says what is missing.
    assert "To keep the history small" in again.recording().dumps()


def test_a_skeleton_over_the_limit_is_not_stored() -> None:
    assert stored_json(long_stream(50), 200) == ""


def test_an_error_page_is_a_body_not_frames_and_the_key_is_masked() -> None:
    model = InspectorModel(provider=get_provider("openai"), secret=KEY)
    model.on_request("POST", "http://h/v1/chat/completions", {}, {})
    model.on_response(502, {"Content-Type": "text/html; charset=utf-8"})
    page = f"<html>\n\n<body>Bad gateway for {KEY}</body>\n\n</html>\n".encode()
    model.on_chunk(page[:20], 5.1)
    model.on_chunk(page[20:], 5.2)
    assert model.frames == []  # an HTML page is not parsed as SSE
    assert model.exchanges[0].body == "<html>\n\n<body>Bad gateway for ***</body>\n\n</html>\n"
    assert model.timeline().first_byte is None  # no byte of an answer came
    model.on_chunk(b"x" * (MAX_BODY_BYTES * 2), 5.3)
    # Bounded like the session's read (the masked key is shorter than the key).
    assert len(model.exchanges[0].body) == MAX_BODY_BYTES - len(KEY) + len("***")
    # The recording keeps the bytes (scrubbed), so a replay serves the page again.
    assert KEY.encode() not in model.recording().body()
    assert model.recording().body().startswith(b"<html>")


@pytest.mark.asyncio
async def test_a_retry_after_an_error_body_reads_the_next_stream_as_frames() -> None:
    limited = Reply(
        status=429,
        headers=(("Content-Type", "application/json"), ("Retry-After", "0")),
        body=[b'{"error": {"message": "slow down\\n\\ndata: not a frame"}}'],
    )
    ok = Reply(body=sse(openai_delta("Hello"), OPENAI_DONE))
    model = InspectorModel(provider=get_provider("openai"))
    request = ChatRequest((ChatMessage("user", "hi"),), "m")
    async with ByteServer([limited, ok]) as server, StreamingClient(trust_env=False) as client:
        async with asyncio.timeout(10):
            events = [
                e
                async for e in stream_turn(
                    client,
                    get_provider("openai"),
                    request,
                    Endpoint(server.url("/v1")),
                    TurnSettings(max_attempts=2),
                    model,
                )
            ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    assert end.text == "Hello"
    assert "slow down" in model.exchanges[0].body
    assert [f.typed for f in model.frames] == [('text "Hello"',), ("end of stream",)]
    stored = json.loads(stored_json(model))
    assert [r["type"] for r in stored["recording"]].count("chunk") == 3
