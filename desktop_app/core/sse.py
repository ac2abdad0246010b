"""A sans-IO, incremental Server-Sent Events decoder (WHATWG HTML §9.2.5-9.2.6).

It owns the event-stream format only: bytes in, ``ServerSentEvent``s out, with
the stream state a reconnect needs (``last_event_id``, ``retry``), plus the
observability the app wants (comment keep-alives, raw frames for the stream
inspector) and a size guard. It does no I/O, reads no clock and knows no
provider: JSON and terminators are the providers' business.

The rules (research/sse.md §1) in short: UTF-8 decoded as one stream with
U+FFFD for invalid bytes; one BOM stripped at the very start; lines end at
CRLF, LF or CR only (a CR ending one chunk and an LF starting the next are one
ending); ``:`` starts a comment; one space after the colon is dropped; a blank
line dispatches the block if it had data, and always publishes the id buffer
as ``last_event_id``; a block the stream ends inside is discarded.
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

How, and why so (research/performance.md §1; benchmarks/bench_sse.py): lines
are found in the *bytes*, per chunk, with bytes methods, never per byte in
Python, and only complete lines or values are decoded. That is exact: CR and
LF are ASCII, so a line ending is a character boundary, and an invalid UTF-8
sequence never spans an ASCII byte. A run of blocks that are each a single
data line (nearly all of a chat stream) is framed by one split; data-only
multi-line blocks are joined by one replace; the unfinished line is kept as
pieces joined once, so a line or event spread over many chunks costs linear
time (eventsource-parser issue #28).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core.errors import StreamProtocolError

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
MAX_KEPT_COMMENTS = 64
_BOM = b"\xef\xbb\xbf"
_ABANDONED = "This event stream was already abandoned because an earlier event was too large."


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event, with the same meaning as httpx-sse's model.

    ``id`` is the last event id in effect at dispatch; ``retry`` is the valid
    ``retry`` value given in this event's own block, else ``None``.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One block as received, for the stream inspector.

    ``lines`` are the block's decoded lines without their endings (comments
    and unknown fields included); ``event`` is what the block dispatched, or
    ``None`` for a block without data (comment-only, id-only, retry-only...).
    """

    lines: tuple[str, ...]
    event: ServerSentEvent | None


# Events are built through their slot descriptors rather than the frozen
# dataclass __init__ (four object.__setattr__ calls): ~40 % cheaper, and on bulk
# chunks building events is the decoder's largest cost (benchmarks/bench_sse.py).
# The result is an ordinary ServerSentEvent, equal to one built by the class.
_new = object.__new__
_set_type: Callable[[ServerSentEvent, str], None] = ServerSentEvent.__dict__["event"].__set__
_set_data: Callable[[ServerSentEvent, str], None] = ServerSentEvent.__dict__["data"].__set__
_set_id: Callable[[ServerSentEvent, str], None] = ServerSentEvent.__dict__["id"].__set__
_set_retry: Callable[[ServerSentEvent, int | None], None] = ServerSentEvent.__dict__[
    "retry"
].__set__


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class SSEDecoder:
    """Turns a byte stream into ``ServerSentEvent``s, however the bytes are chunked.

    ``feed()`` returns the events completed by a chunk; ``flush()`` ends the
    stream (a block without its blank line is discarded, as the spec says) and
    readies the decoder for a new connection, keeping ``last_event_id`` (it
    goes on as the id of the new stream's events until one sets another) and
    ``retry``. ``retry`` is the current reconnection time in ms (``None`` until
    the server sets one); ``last_event_id`` is what a reconnect sends as
    ``Last-Event-ID``.

    ``max_event_bytes`` bounds a single line and an event's data, in bytes;
    beyond it ``feed()`` raises ``StreamProtocolError`` and refuses the rest of
    that stream (until ``flush()``).
    """

    def __init__(
        self, *, record_frames: bool = False, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        self.retry: int | None = None
        self.last_event_id: str = ""
        self.comment_count: int = 0
        self._max = max_event_bytes
        self._failed = False
        self._comments: deque[str] = deque(maxlen=MAX_KEPT_COMMENTS)
        # None when not recording: the hot paths test it once per chunk.
        self._frames: list[RawFrame] | None = [] if record_frames else None
        self._reset_parse()

    def _reset_parse(self) -> None:
        """Empty every per-stream buffer (a new connection starts a fresh parse)."""
        # Nothing pending, no BOM to await, no LF to skip, not recording: the
        # state in which ``feed`` may take its one-event fast path.
        self._quiet = False
        self._at_start = True  # the BOM may still come...
        self._start = b""  # ...and these are its first bytes, held back
        self._skip_lf = False  # the last line ended with CR: a leading LF is its CRLF
        self._tail: list[bytes] = []  # pieces of the unfinished line
        self._tail_len = 0
        # The block being read. ``_open``: a line arrived since the last blank line.
        self._open = False
        self._data: list[bytes] = []  # values of the block's data lines, undecoded
        self._data_len = 0
        self._event = ""
        # A new connection resumes from the last published id, as Chromium's
        # parser is seeded (the spec's buffer would start empty). Between
        # blocks ``_id_buffer == last_event_id`` always holds: the fast path
        # relies on it.
        self._id_buffer = self.last_event_id
        self._block_retry: int | None = None
        self._frame_lines: list[str] = []

    # ------------------------------------------------------------ public API

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode one chunk; return the events whose blank line it contained."""
        if (
            self._quiet
            and data[-2:] == b"\n\n"
            and data[:6] == b"data: "
            and data.count(b"\n") == 2
            and b"\r" not in data
            and len(data) <= self._max
        ):
            # The chunk is exactly one "data: " line and its blank line, with
            # nothing pending: what a model streaming at its own pace sends.
            event = _new(ServerSentEvent)
            _set_type(event, "message")
            _set_data(event, data[6:-2].decode("utf-8", "replace"))
            _set_id(event, self.last_event_id)
            _set_retry(event, None)
            return [event]
        events = self._feed(data)
        self._quiet = not (
            self._tail or self._open or self._skip_lf or self._at_start or self._failed
        ) and (self._frames is None)
        return events

    def _feed(self, data: bytes) -> list[ServerSentEvent]:
        if self._failed:
            raise StreamProtocolError(_ABANDONED)
        if self._at_start:
            data = self._strip_bom(data)
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
                if not data:
                    return []
        if b"\r" in data:
            # A CR at the very end ends its line now; an LF starting the next
            # chunk must then not end another one.
            self._skip_lf = data[-1] == 0x0D
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(b"\n")
        if end < 0:
            self._tail.append(data)
            self._tail_len += len(data)
            if self._tail_len > self._max:
                self._fail("line")
            return []
        if self._tail:
            head = b"".join(self._tail)
            data = head + data
            end += len(head)
            self._tail = []
        rest_len = len(data) - end - 1
        if rest_len:
            self._tail.append(data[end + 1 :])
            data = data[: end + 1]
        self._tail_len = rest_len
        if rest_len > self._max:
            self._fail("line")
        return self._complete(data)

    def flush(self) -> list[ServerSentEvent]:
        """End the stream: the unfinished line and block are discarded (spec §9.2.6).

        So nothing is ever dispatched here; the list is returned for symmetry
        with ``feed()``. The decoder is then ready for a fresh stream, also
        after the size guard tripped.
        """
        self._failed = False
        self._reset_parse()
        return []

    def take_comments(self) -> list[str]:
        """Comment texts seen since the last call (at most the last 64), oldest first."""
        comments = list(self._comments)
        self._comments.clear()
        return comments

    def take_frames(self) -> list[RawFrame]:
        """Blocks ended since the last call; always empty unless ``record_frames``."""
        frames = self._frames
        if not frames:
            return []
        self._frames = []
        return frames

    # ------------------------------------------------------------ framing

    def _strip_bom(self, data: bytes) -> bytes:
        """Drop one BOM at the stream's start, even if its bytes come in pieces."""
        data = self._start + data
        if len(data) < len(_BOM) and _BOM.startswith(data):
            self._start = data  # too early to tell
            return b""
        self._at_start = False
        self._start = b""
        return data[3:] if data[:3] == _BOM else data

    def _complete(self, data: bytes) -> list[ServerSentEvent]:
        """Process ``data``: whole lines, each ended by LF."""
        if len(data) > self._max and max(map(len, data.split(b"\n"))) > self._max:
            self._fail("line")
        out: list[ServerSentEvent] = []
        if self._frames is None and data[:5] == b"data:":
            first_lf = data.find(b"\n")
            if (
                not self._open
                and data[5] == 0x20  # "data: "
                and data[first_lf + 1 : first_lf + 2] == b"\n"  # the first block is one line
                and self._single_line_events(data, out)
            ):
                return out
            # The whole chunk may be data lines of one block (a large event):
            # one replace then, and no search for blank lines. Tried only if
            # the second line, if any, is a data line too.
            trailing_lf = 2 if data[-2:] == b"\n\n" else 1
            one_line = first_lf >= len(data) - trailing_lf
            if (one_line or data[first_lf + 1 : first_lf + 5] == b"data") and self._data_lines(
                data, trailing_lf
            ):
                if trailing_lf == 2:
                    self._dispatch(out)
                return out
        # General path. Splitting on "\n\n" cuts the data into blocks each
        # ended by a blank line; the last piece holds the lines of a block not
        # yet ended. A piece that starts with LF (or is empty) begins with an
        # extra blank line, which ``_lines`` dispatches as an empty block.
        blocks = data.split(b"\n\n")
        last = blocks.pop()
        for block in blocks:
            self._block(block, out, 0)
            self._dispatch(out)
        if last:
            self._block(last, out, 1)
        return out

    def _single_line_events(self, data: bytes, out: list[ServerSentEvent]) -> bool:
        """Fast path: ``data`` opens with blocks that are each one "data: " line.

        One split frames them and drops the field names. That holds iff the
        values contain no LF, i.e. the only LFs in ``body`` are the two of each
        separator; otherwise nothing is done and False returned.
        """
        cut = data.rfind(b"\n\n")
        body = data[6:cut]
        values = body.split(b"\n\ndata: ")
        if body.count(b"\n") != 2 * len(values) - 2:
            return False
        event_id = self.last_event_id
        append = out.append
        for value in values:
            event = _new(ServerSentEvent)
            _set_type(event, "message")
            _set_data(event, value.decode("utf-8", "replace"))
            _set_id(event, event_id)
            _set_retry(event, None)
            append(event)
        # What follows the last blank line: non-blank lines, each with its LF
        # (a further "\n\n" would have been found by rfind).
        if cut + 2 < len(data):
            self._block(data[cut + 2 :], out, 1)
        return True

    def _block(self, block: bytes, out: list[ServerSentEvent], trailing_lf: int) -> None:
        """Interpret ``block``: lines of one block joined by LF, then ``trailing_lf``
        LFs that are not part of it."""
        if (
            self._frames is not None
            or block[:5] != b"data:"
            or not self._data_lines(block, trailing_lf)
        ):
            end = len(block) - trailing_lf
            self._lines((block[:end] if trailing_lf else block).split(b"\n"), out)

    def _data_lines(self, block: bytes, trailing_lf: int) -> bool:
        """Bulk path: if ``block`` is only data lines, add their values and return True.

        The values joined by LF are the block with the field names removed.
        Each replacement shortens the block by the prefix's length, so the
        lengths tell whether every line was a data line (and so that no blank
        line hides inside).
        """
        n_breaks = block.count(b"\n") - trailing_lf
        end = len(block) - trailing_lf
        if block[5:6] == b" ":
            joined = block.replace(b"\ndata: ", b"\n")
            prefix = 6
        elif b"\ndata: " not in block:
            joined = block.replace(b"\ndata:", b"\n")
            prefix = 5
        else:
            return False
        if len(block) - len(joined) != prefix * n_breaks:
            return False
        self._add_data(joined[prefix : end - prefix * n_breaks])
        return True

    # ------------------------------------------------------------ interpreting

    def _lines(self, lines: list[bytes], out: list[ServerSentEvent]) -> None:
        """Interpret lines one by one (§9.2.6); a blank one dispatches.

        Fields are parsed on bytes: names and the colon are ASCII, so this is
        the same as parsing the decoded line; values are decoded when used.
        """
        frame_lines = self._frame_lines if self._frames is not None else None
        for line in lines:
            if not line:
                self._dispatch(out)
                continue
            self._open = True
            if frame_lines is not None:
                frame_lines.append(_text(line))
            if line[0] == 0x3A:  # ":"
                self.comment_count += 1
                self._comments.append(_text(line[2:] if line[1:2] == b" " else line[1:]))
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._add_data(value)
            elif name == b"event":
                self._event = _text(value)
            elif name == b"id":
                if b"\0" not in value:
                    self._id_buffer = _text(value)
            # bytes.isdigit() is ASCII 0-9 only (WPT format-field-retry-bogus);
            # more digits than int() converts (sys.int_info) is no sensible
            # delay, so such a field is ignored too.
            elif name == b"retry" and value.isdigit():
                with contextlib.suppress(ValueError):
                    self.retry = self._block_retry = int(value)

    def _add_data(self, value: bytes) -> None:
        """Append one or more data lines (already joined by LF) to the block."""
        self._open = True
        self._data.append(value)
        self._data_len += len(value) + 1
        if self._data_len > self._max + 1:
            self._fail("event")

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        """A blank line: publish the id, fire the block if it had data, clear it."""
        self.last_event_id = self._id_buffer
        event: ServerSentEvent | None = None
        if self._data:
            event = _new(ServerSentEvent)
            _set_type(event, self._event or "message")
            # Decoded once, whole: every piece ends at an LF, a character
            # boundary, so this equals decoding the stream.
            _set_data(event, _text(b"\n".join(self._data)))
            _set_id(event, self._id_buffer)
            _set_retry(event, self._block_retry)
            out.append(event)
            self._data = []
            self._data_len = 0
        self._event = ""
        self._block_retry = None
        self._open = False
        if self._frames is not None and self._frame_lines:
            self._frames.append(RawFrame(tuple(self._frame_lines), event))
            self._frame_lines.clear()  # in place: ``_lines`` holds this list

    # ------------------------------------------------------------ size guard

    def _fail(self, what: str) -> None:
        limit = self._max
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
        # Drop what was buffered and refuse more input: the rest of the
        # oversized line would otherwise be read as new lines.
        self._reset_parse()
        self._failed = True
        raise StreamProtocolError(
            f"The server sent a single {what} larger than {size}, "
            "so Streamdesk stopped reading the stream.",
            hint="The server may be misbehaving; try again or check its configuration.",
        )
