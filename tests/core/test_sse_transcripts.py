"""Every transcript under tests/fixtures/sse/ decodes to its ``.expected.json``, however split.

Each ``NAME.sse`` holds the raw bytes of a stream; ``NAME.expected.json`` the events
(``event``, ``data``, ``id``, ``retry``), the final ``last_event_id`` and ``retry``, and
the comments seen. The bytes are fed whole, split at every offset into two chunks,
and one byte at a time: all must agree (a UTF-8 character split across chunks, a CR
at a chunk end then LF, a BOM split in two...).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.sse import ServerSentEvent, SSEDecoder

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sse"
TRANSCRIPTS = sorted(FIXTURES.glob("*.sse"))

Outcome = tuple[list[ServerSentEvent], str, int | None, list[str]]


def run(chunks: list[bytes]) -> Outcome:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return events, decoder.last_event_id, decoder.retry, decoder.take_comments()


def expected_outcome(path: Path) -> Outcome:
    doc: dict[str, Any] = json.loads(path.with_suffix(".expected.json").read_text("utf-8"))
    events = [ServerSentEvent(**event) for event in doc["events"]]
    return events, doc["last_event_id"], doc["retry"], doc["comments"]


def test_the_fixture_set_is_complete() -> None:
    names = {path.stem for path in TRANSCRIPTS}
    assert names >= {
        "openai_chat",
        "anthropic_ping",
        "generic_ids_stop",
        "crlf_endings",
        "cr_only",
        "bom",
        "u2028_json",
        "multibyte_emoji",
        "id_only_block",
        "keepalive_comments",
        "trailing_block_discarded",
    }
    for path in TRANSCRIPTS:
        assert path.with_suffix(".expected.json").is_file(), path.name


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_transcript_whole(path: Path) -> None:
    assert run([path.read_bytes()]) == expected_outcome(path)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_transcript_split_at_every_offset(path: Path) -> None:
    stream = path.read_bytes()
    expected = expected_outcome(path)
    for cut in range(len(stream) + 1):
        assert run([stream[:cut], stream[cut:]]) == expected, f"split at byte {cut}"


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_transcript_one_byte_at_a_time(path: Path) -> None:
    stream = path.read_bytes()
    assert run([stream[i : i + 1] for i in range(len(stream))]) == expected_outcome(path)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_transcript_frames_match_events(path: Path) -> None:
    stream = path.read_bytes()
    decoder = SSEDecoder(record_frames=True)
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 7):
        events += decoder.feed(stream[i : i + 7])
    frames = decoder.take_frames()
    assert events == expected_outcome(path)[0]
    assert [frame.event for frame in frames if frame.event is not None] == events
    # The frames are the stream's blocks, blank lines and the unfinished last block left out.
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)[:-1]
    blocks = "\n".join(lines).split("\n\n") if lines else []
    finished = blocks if lines and lines[-1] == "" else blocks[:-1]
    expected = [tuple(block.strip("\n").split("\n")) for block in finished if block.strip("\n")]
    assert [frame.lines for frame in frames] == expected
