"""Property tests: any bytes, any chunking, the same events as a plain reference decoder.

The reference below follows research/sse.md §1 line by line on the whole stream at
once (decode, strip one BOM, split on CRLF/CR/LF, interpret), with none of the
incremental machinery. Example counts stay moderate so the file runs in seconds.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.sse import ServerSentEvent, SSEDecoder

Outcome = tuple[list[ServerSentEvent], str, int | None, list[str]]

# Pieces that make the interesting cases likely: field names, colons, spaces, all
# line endings, BOMs, multi-byte and invalid UTF-8, NUL, digits, other separators.
TOKENS = [
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: e",
    b"id:",
    b"id: 1",
    b"retry:",
    b"retry: 12",
    b":",
    b": c",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\xff",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\x00",
    b"0",
    b"7",
    b"x",
    b"\x0b",
]

# Whole lines (a field-ish start, a value, an ending) make real blocks likely.
STARTS = [
    b"data",
    b"data:",
    b"data: ",
    b"data:  ",
    b"id",
    b"id: ",
    b"event:",
    b"event: ",
    b"retry:",
    b"retry: ",
    b":",
    b": ",
    b"",
    b" ",
    b"Data:",
    b"\xef\xbb\xbfdata: ",
]
VALUES = [b"1", b"0", b"42", b"x", b"e", b" ", b":", b"\x00", b"\xc3\xa9", b"\xf0\x9f\x98\x80"]
VALUES += [b"\xe2\x80\xa8", b"\xc2\x85", b"\xff", b"\xe2\x82", b"\x0c", b"-", b"+"]
ENDINGS = [b"\n", b"\r", b"\r\n", b"\n\n", b"\r\n\r\n", b"\r\r", b"\n\r"]

lines = st.tuples(
    st.sampled_from(STARTS),
    st.lists(st.sampled_from(VALUES), max_size=3).map(b"".join),
    st.sampled_from(ENDINGS),
).map(b"".join)

streams = st.one_of(
    st.tuples(st.lists(lines, max_size=10).map(b"".join), st.sampled_from([b"", *VALUES])).map(
        b"".join
    ),
    st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join),
    st.binary(max_size=120),
)


def reference(stream: bytes) -> Outcome:
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece has no ending
    events: list[ServerSentEvent] = []
    comments: list[str] = []
    data: list[str] = []
    event_type = ""
    id_buffer = ""
    last_event_id = ""
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if line == "":
            last_event_id = id_buffer
            if data:
                events.append(
                    ServerSentEvent(
                        event_type or "message", "\n".join(data), id_buffer, block_retry
                    )
                )
            data, event_type, block_retry = [], "", None
            continue
        if line.startswith(":"):
            comments.append(line[1:].removeprefix(" "))
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id":
            if "\0" not in value:
                id_buffer = value
        elif name == "retry" and value and all("0" <= c <= "9" for c in value):
            retry = block_retry = int(value)
    return events, last_event_id, retry, comments[-64:]


def run(chunks: list[bytes], *, record_frames: bool = False) -> Outcome:
    decoder = SSEDecoder(record_frames=record_frames)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return events, decoder.last_event_id, decoder.retry, decoder.take_comments()


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(stream=streams)
def test_one_chunk_matches_the_reference(stream: bytes) -> None:
    assert run([stream]) == reference(stream)


@SETTINGS
@given(stream=streams)
def test_every_split_in_two_gives_the_same_events(stream: bytes) -> None:
    whole = reference(stream)
    for cut in range(len(stream) + 1):
        assert run([stream[:cut], stream[cut:]]) == whole, f"split at byte {cut}"


@SETTINGS
@given(stream=streams, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_chunking_gives_the_same_events(stream: bytes, cuts: list[int]) -> None:
    assert run(split(stream, cuts)) == run([stream])


@SETTINGS
@given(stream=streams, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=4))
def test_chunks_cut_at_line_ends_give_the_same_events(stream: bytes, cuts: list[int]) -> None:
    # What servers send: chunks ending after a blank line, or after any line,
    # plus a few cuts anywhere. This is the shape the one-event fast path sees.
    whole = reference(stream)
    for pattern in (rb"(?<=\n\n)|(?<=\r\r)|(?<=\r\n\r\n)", rb"(?<=[\r\n])"):
        pieces = re.split(pattern, stream)
        assert run(pieces) == whole
        assert run([part for piece in pieces for part in split(piece, cuts)]) == whole


@settings(max_examples=100, deadline=None)
@given(stream=streams)
def test_byte_at_a_time_with_empty_chunks(stream: bytes) -> None:
    chunks = [b""] + [piece for i in range(len(stream)) for piece in (stream[i : i + 1], b"")]
    assert run(chunks) == reference(stream)


@settings(max_examples=150, deadline=None)
@given(stream=streams, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_recording_frames_changes_nothing(stream: bytes, cuts: list[int]) -> None:
    chunks = split(stream, cuts)
    assert run(chunks, record_frames=True) == run([stream])
    decoder = SSEDecoder(record_frames=True)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    frames = decoder.take_frames()
    assert [frame.event for frame in frames if frame.event is not None] == events
    assert all(frame.lines and all(frame.lines) for frame in frames)
