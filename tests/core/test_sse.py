"""The SSE decoder against the WHATWG rules and web-platform-tests cases (research/sse.md §1).

Transcripts split at every byte offset live in ``test_sse_transcripts.py``; random
inputs and chunkings against a reference decoder in ``test_sse_properties.py``.
"""

from __future__ import annotations

import dataclasses

import pytest

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.sse import RawFrame, ServerSentEvent, SSEDecoder

E = ServerSentEvent


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.flush()


def datas(stream: bytes) -> list[str]:
    return [event.data for event in decode(stream)]


# ---------------------------------------------------------------- rule 17: worked examples


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data\n\n", [""]),
        (b"data\ndata\n\n", ["\n"]),
        (b"data: a\ndata:\n\n", ["a\n"]),
        (b"data:\ndata: a\n\n", ["\na"]),
        (b"data:x\n\n", ["x"]),
        (b"data: x\n\n", ["x"]),
        (b"data:  x\n\n", [" x"]),
        (b"data:\tx\n\n", ["\tx"]),
        (b"data: x  \n\n", ["x  "]),
        (b"data: a:b: c\n\n", ["a:b: c"]),
        (b"data: a\x00b\n\n", ["a\x00b"]),
        (b"data: \n\n", [""]),
    ],
)
def test_worked_examples(stream: bytes, expected: list[str]) -> None:
    assert datas(stream) == expected


def test_event_names_are_case_sensitive_and_default_to_message() -> None:
    events = decode(b"event: Message\ndata: a\n\nevent:\ndata: b\n\nevent\ndata: c\n\ndata: d\n\n")
    assert [e.event for e in events] == ["Message", "message", "message", "message"]


def test_last_event_field_in_a_block_wins() -> None:
    assert decode(b"event: a\nevent: b\ndata: x\n\n") == [E("b", "x")]


@pytest.mark.parametrize(
    "line", [b"Data: x", b"DATA: x", b"data : x", b"data\x00: x", b" data: x", b"\tdata: x"]
)
def test_field_names_are_compared_literally(line: bytes) -> None:
    assert decode(line + b"\n\n") == []


def test_unknown_fields_are_ignored() -> None:
    assert decode(b"foo: bar\ndata: x\nbaz\n\n") == [E(data="x")]


# ---------------------------------------------------------------- comments and spaces


def test_comments_are_ignored_and_reported() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b":\n: ping\n:no space\n:  two\ndata: x\n\n: alone\n\n")
    assert events == [E(data="x")]
    assert decoder.take_comments() == ["", "ping", "no space", " two", "alone"]
    assert decoder.comment_count == 5
    assert decoder.take_comments() == []
    assert decoder.comment_count == 5


def test_space_before_colon_is_not_a_comment() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b" :x\ndata: y\n\n") == [E(data="y")]
    assert decoder.comment_count == 0


def test_only_the_last_64_comments_are_kept_but_all_are_counted() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"".join(b": c%d\n\n" % i for i in range(100)))
    assert decoder.take_comments() == [f"c{i}" for i in range(36, 100)]
    assert decoder.comment_count == 100


def test_lines_of_spaces_are_fields_not_blank_lines() -> None:
    # "   " is a field named "   ": the block goes on, so both data lines join.
    assert decode(b"data: a\n   \ndata: b\n\n") == [E(data="a\nb")]
    assert decode(b"data: a\n \n\n") == [E(data="a")]


# ---------------------------------------------------------------- line endings


@pytest.mark.parametrize(
    "stream",
    [
        b"data: a\r\ndata: b\r\n\r\n",
        b"data: a\rdata: b\r\r",
        b"data: a\ndata: b\n\n",
        b"data: a\r\ndata: b\n\r",
        b"data: a\rdata: b\n\r\n",
    ],
)
def test_cr_lf_and_crlf_all_end_lines(stream: bytes) -> None:
    assert decode(stream) == [E(data="a\nb")]


def test_lf_cr_is_two_endings() -> None:
    # LF ends "data: a", then CR ends an empty line: dispatch.
    assert decode(b"data: a\n\rdata: b\n\r") == [E(data="a"), E(data="b")]


def test_cr_at_chunk_end_then_lf_is_one_ending() -> None:
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [E(data="a\nb")]
    # With empty chunks and an incomplete character in between.
    assert decode(b"data: a\r", b"", b"\ndata: \xc3", b"\xa9\r\n\r", b"", b"\n") == [
        E(data="a\n\u00e9")
    ]


def test_cr_as_last_byte_ends_the_line() -> None:
    assert decode(b"data: a\r\r") == [E(data="a")]
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 3\r\r") == []
    assert decoder.last_event_id == "3"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c"])
def test_only_cr_and_lf_end_lines(separator: str) -> None:
    stream = f"data: a{separator}b\n\n".encode()
    assert datas(stream) == [f"a{separator}b"]


# ---------------------------------------------------------------- UTF-8 and BOM


def test_a_character_split_across_chunks_stays_whole() -> None:
    stream = "data: é€😀\n\n".encode()
    for cut in range(len(stream) + 1):
        assert decode(stream[:cut], stream[cut:]) == [E(data="é€😀")]


@pytest.mark.parametrize(
    "raw",
    [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82x", b"\xff", b"\x80\x80"],
)
def test_invalid_bytes_become_replacement_characters_like_python(raw: bytes) -> None:
    expected = raw.decode("utf-8", "replace")
    stream = b"data: " + raw + b"\n\n"
    assert datas(stream) == [expected]
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == [E(data=expected)]


def test_one_leading_bom_is_stripped() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [E(data="x")]
    # Split inside the BOM, and after empty chunks: still the stream start.
    assert decode(b"", b"\xef", b"\xbb", b"", b"\xbfdata: x\n\n") == [E(data="x")]


def test_a_second_bom_is_an_ordinary_character() -> None:
    # WPT format-bom-2: "\ufeffdata" is an unknown field.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [E(data="y")]
    assert decode(b"data: x\n\n", b"\xef\xbb\xbfdata: y\n\n") == [E(data="x")]


def test_bom_is_only_stripped_at_the_very_start() -> None:
    assert decode(b"data: \xef\xbb\xbfx\n\n") == [E(data="\ufeffx")]


# ---------------------------------------------------------------- id


def test_id_persists_to_later_events() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n")
    assert [e.id for e in events] == ["1", "1", "2"]


def test_id_only_block_updates_last_event_id_and_later_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\nid: 7\n\n") == [E(data="a")]
    assert decoder.last_event_id == "7"
    assert decoder.feed(b"data: b\n\n") == [E(data="b", id="7")]


def test_empty_id_resets() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\n\nid:\n\n")
    assert [e.id for e in events] == ["1", ""]
    assert decoder.last_event_id == ""


def test_id_with_nul_is_ignored() -> None:
    # WPT format-field-id-null (current version): the old id stays.
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]
    assert decoder.last_event_id == "1"


def test_id_is_published_at_the_blank_line_not_before() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.last_event_id == "1"
    assert decoder.flush() == []
    assert decoder.last_event_id == "1"  # WPT format-data-before-final-empty-line


# ---------------------------------------------------------------- retry


def test_retry_sets_reconnection_time_and_the_events_own_retry() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 02000\ndata: a\n\ndata: b\n\n")
    assert [e.retry for e in events] == [2000, None]
    assert decoder.retry == 2000


@pytest.mark.parametrize(
    "value",
    [
        "1000x",
        "-5",
        "+7",
        "1.5",
        " 200",
        "300 ",
        "",
        "1e3",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11\uff12",  # fullwidth digits
        "\u00b2",
    ],
)
def test_bogus_retry_values_are_ignored(value: str) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(f"retry: 1000\n\nretry: {value}\ndata: x\n\n".encode())
    assert events == [E(data="x")]
    assert decoder.retry == 1000


def test_retry_only_block_dispatches_nothing_but_takes_effect() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 15000\n\n") == []
    assert decoder.retry == 15000


def test_retry_takes_effect_when_the_line_is_read() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 300\ndata: unfinished")
    assert decoder.retry == 300


def test_retry_too_long_for_int_is_ignored() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: " + b"9" * 5000 + b"\ndata: x\n\n") == [E(data="x")]
    assert decoder.retry is None


# ---------------------------------------------------------------- blocks and end of stream


def test_event_only_block_does_not_leak_into_the_next() -> None:
    assert decode(b"event: end\n\ndata: x\n\n") == [E(data="x")]


def test_comment_only_block_after_an_id_fires_nothing() -> None:
    # httpx-sse 0.4.3 issue #35: phantom empty events once an id was seen.
    assert decode(b"id: 1\ndata: a\n\n: ping\n\n: ping\n\n") == [E(data="a", id="1")]


def test_trailing_block_without_blank_line_is_discarded_at_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: [DONE]\n") == [E(data="a")]
    assert decoder.flush() == []
    # Also an unfinished line, and a block ended by a line without ending.
    assert decode(b"data: a\n\ndata: b") == [E(data="a")]
    assert decode(b"data: a\n\ndata: b\n") == [E(data="a")]


def test_flush_starts_a_fresh_stream_keeping_id_and_retry() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 10\nid: 5\ndata: a\n\nevent: x\ndata: partial\n")
    decoder.flush()
    assert (decoder.last_event_id, decoder.retry) == ("5", 10)
    # Fresh parse: a BOM is stripped again and nothing from the cut block leaks.
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == [E(data="b", id="5")]
    assert decoder.last_event_id == "5"


def test_flush_of_an_incomplete_character_does_not_emit() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: \xe2\x82") == [E(data="a")]
    assert decoder.flush() == []


def test_many_events_in_one_chunk_and_one_event_in_many() -> None:
    stream = b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(50))
    expected = [E(data=str(i), id=str(i)) for i in range(50)]
    assert decode(stream) == expected
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == expected


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: 0\n\n", b"data: a", b"data: b\n\n"],  # an unfinished line, then an event
        [b"data: 0\n\n", b"data: a\n", b"data: b\n\n"],  # an open block
        [b"\xef\xbb", b"data: a\n\n"],  # BOM bytes held back, then not a BOM
        [b"\xef\xbb", b"\xbfdata: a\n\n"],  # BOM bytes held back, then the rest of it
        [b"data: 0\n\n", b"data: a\r\n\n"],
        [b"data: 0\n\n", b"data: a\n\r\n"],
        [b"data: 0\r\r", b"data: a\n\n", b"\ndata: b\n\n"],
    ],
)
def test_whole_event_chunks_respect_pending_state(chunks: list[bytes]) -> None:
    whole = b"".join(chunks)
    assert decode(*chunks) == decode(whole)
    assert decode(*chunks, b"data: c\n\n") == decode(whole + b"data: c\n\n")
    assert decode(*chunks, b"data: c\n\n")[-1] == E(data="c")


def test_events_are_frozen() -> None:
    event = E(data="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


# ---------------------------------------------------------------- raw frames


def test_frames_record_every_block_as_received() -> None:
    decoder = SSEDecoder(record_frames=True)
    events = decoder.feed(
        b": ping\n\nid: 1\n\nretry: 5\n\nevent: e\r\ndata: a\r\n: c\r\ndata:b\r\n\r\nfoo\n\n\n\n"
        b"data: open"
    )
    assert events == [E("e", "a\nb", "1")]
    assert decoder.take_frames() == [
        RawFrame((": ping",), None),
        RawFrame(("id: 1",), None),
        RawFrame(("retry: 5",), None),
        RawFrame(("event: e", "data: a", ": c", "data:b"), E("e", "a\nb", "1")),
        RawFrame(("foo",), None),
    ]
    assert decoder.take_frames() == []
    assert decoder.feed(b"\n\n") == [E(data="open", id="1")]
    assert decoder.take_frames() == [RawFrame(("data: open",), E(data="open", id="1"))]


def test_frames_across_chunks() -> None:
    stream = b"data: a\n\nid: 2\ndata: b\ndata: c\n\n"
    decoder = SSEDecoder(record_frames=True)
    for i in range(len(stream)):
        decoder.feed(stream[i : i + 1])
    assert decoder.take_frames() == [
        RawFrame(("data: a",), E(data="a")),
        RawFrame(("id: 2", "data: b", "data: c"), E(data="b\nc", id="2")),
    ]


def test_frames_when_a_blank_line_starts_a_chunk() -> None:
    decoder = SSEDecoder(record_frames=True)
    decoder.feed(b"data\nfoo\n")
    decoder.feed(b"\ndata: b\n\n")
    assert decoder.take_frames() == [
        RawFrame(("data", "foo"), E(data="")),
        RawFrame(("data: b",), E(data="b")),
    ]


def test_no_frames_unless_asked() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n: c\n\n")
    assert decoder.take_frames() == []


# ---------------------------------------------------------------- size guard


def test_a_line_over_the_limit_raises_within_one_chunk() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    assert decoder.feed(b"data: " + b"x" * 94 + b"\n\n") == [E(data="x" * 94)]
    with pytest.raises(StreamProtocolError, match="larger than 100 bytes"):
        decoder.feed(b"data: " + b"x" * 95 + b"\n\n")


def test_a_line_over_the_limit_raises_across_chunks() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b"data: ")
    for _ in range(9):
        decoder.feed(b"x" * 10)
    with pytest.raises(StreamProtocolError, match="single line larger"):
        decoder.feed(b"x" * 10)
    # The decoder refuses to go on rather than read the rest as new lines...
    with pytest.raises(StreamProtocolError, match="already abandoned"):
        decoder.feed(b"\n\n")
    # ...until the stream ends: a new connection is a fresh stream.
    assert decoder.flush() == []
    assert decoder.feed(b"data: ok\n\n") == [E(data="ok")]


def test_event_data_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    assert decoder.feed(b"data: " + b"x" * 49 + b"\ndata: " + b"y" * 50 + b"\n\n")
    with pytest.raises(StreamProtocolError, match="single event larger"):
        decoder.feed(b"data: " + b"x" * 50 + b"\ndata: " + b"y" * 50 + b"\n")


def test_event_data_over_the_limit_raises_across_chunks_of_data_lines() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    for _ in range(9):
        assert decoder.feed(b"data: " + b"x" * 100 + b"\n") == []
    with pytest.raises(StreamProtocolError, match="single event larger"):
        decoder.feed(b"data: " + b"x" * 100 + b"\n")


def test_default_limit_message_speaks_mib() -> None:
    decoder = SSEDecoder(max_event_bytes=2 * 1024 * 1024)
    with pytest.raises(StreamProtocolError, match="larger than 2 MiB") as info:
        decoder.feed(b"x" * (2 * 1024 * 1024 + 1))
    assert info.value.hint


def test_a_20_mb_line_decodes_with_the_default_limit() -> None:
    decoder = SSEDecoder()
    payload = b"0123456789abcdef" * (20 * 1024 * 1024 // 16)
    stream = b"data: " + payload + b"\n\n"
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 1024):
        events += decoder.feed(stream[i : i + 1024])
    assert len(events) == 1
    assert events[0].data == payload.decode()


def test_one_event_in_thousands_of_tiny_chunks() -> None:
    # eventsource-parser #28 was quadratic here; this checks the result, the
    # benchmark checks the cost.
    lines = [f"data: line {i} é😀".encode() for i in range(3000)]
    stream = b"id: 9\n" + b"\n".join(lines) + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 3):
        events += decoder.feed(stream[i : i + 3])
    data = "\n".join(f"line {i} é😀" for i in range(3000))
    assert events == [E(data=data, id="9")]
