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

Speed (research/performance.md §1): work happens per chunk with str methods
(decode, replace, split), never per byte in Python. A block that is a single
``data:`` line, which is nearly every block of a chat stream, takes a fast path
that builds the event straight from the split. The unfinished line is kept as a
list of pieces and joined once, so a line or event spread over many chunks
costs linear time (eventsource-parser issue #28).
"""

from __future__ import annotations

import codecs
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core.errors import StreamProtocolError

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
MAX_KEPT_COMMENTS = 64


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


def _is_retry_value(value: str) -> bool:
    # Only ASCII 0-9, at least one (WPT format-field-retry-bogus): isdigit()
    # alone would also take "²" or Arabic-Indic digits.
    return value.isascii() and value.isdigit()


def _closed(data: bytes, final: bool = False) -> str:
    raise StreamProtocolError(
        "The event stream was already abandoned because an earlier event was too large."
    )


class SSEDecoder:
    """Turns a byte stream into ``ServerSentEvent``s, however the bytes are chunked.

    ``feed()`` returns the events completed by a chunk; ``flush()`` ends the
    stream (a block without its blank line is discarded, as the spec says) and
    readies the decoder for a new connection, keeping ``last_event_id`` (it
    goes on as the id of the new stream's events until one sets another) and
    ``retry``. ``retry`` is the current reconnection time in ms (``None`` until
    the server sets one); ``last_event_id`` is what a reconnect sends as
    ``Last-Event-ID``.

    ``max_event_bytes`` bounds a single line and an event's data, counted in
    decoded characters (equal to bytes for ASCII); beyond it ``feed()`` raises
    ``StreamProtocolError`` and the decoder refuses further input.
    """

    def __init__(
        self, *, record_frames: bool = False, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        self.retry: int | None = None
        self.last_event_id: str = ""
        self.comment_count: int = 0
        self._max = max_event_bytes
        self._comments: deque[str] = deque(maxlen=MAX_KEPT_COMMENTS)
        # None when not recording: the hot paths test it once per chunk.
        self._frames: list[RawFrame] | None = [] if record_frames else None
        self._reset_parse()

    def _reset_parse(self) -> None:
        """Empty every per-stream buffer (a new connection starts a fresh parse)."""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._decode: Callable[[bytes, bool], str] = self._decoder.decode
        self._at_start = True  # a BOM may still come (its bytes may be split)
        self._skip_lf = False  # the last line ended with CR: a leading LF is its CRLF
        self._tail: list[str] = []  # pieces of the unfinished line
        self._tail_len = 0
        # The block being read. ``_open``: a line arrived since the last blank line.
        self._open = False
        self._data: list[str] = []
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
        text = self._decode(data, False)
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            # A CR at the very end ends its line now; an LF starting the next
            # chunk must then not end another one.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        end = text.rfind("\n")
        if end < 0:
            self._tail.append(text)
            self._tail_len += len(text)
            if self._tail_len > self._max:
                self._fail("line")
            return []
        if self._tail:
            head = "".join(self._tail)
            text = head + text
            end += len(head)
            self._tail = []
        rest_len = len(text) - end - 1
        if rest_len:
            self._tail.append(text[end + 1 :])
            text = text[: end + 1]
        self._tail_len = rest_len
        if rest_len > self._max:
            self._fail("line")
        return self._complete(text)

    def flush(self) -> list[ServerSentEvent]:
        """End the stream: the unfinished line and block are discarded (spec §9.2.6).

        So nothing is ever dispatched here; the list is returned for symmetry
        with ``feed()``. The decoder is then ready for a fresh stream.
        """
        self._decode(b"", True)  # may raise if the decoder was abandoned
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

    # ------------------------------------------------------------ internals

    def _complete(self, text: str) -> list[ServerSentEvent]:
        """Process ``text``: whole lines, each ended by ``"\\n"``."""
        if len(text) > self._max and max(map(len, text.split("\n"))) > self._max:
            self._fail("line")
        out: list[ServerSentEvent] = []
        # Splitting on "\n\n" cuts the text into blocks each ended by a blank
        # line; the last piece holds the lines of a block not yet ended. A
        # piece that starts with "\n" (or is "") begins with an extra blank
        # line, which the general path dispatches as an empty block (a no-op).
        blocks = text.split("\n\n")
        last = blocks.pop()
        if self._frames is not None:
            for block in blocks:
                self._lines(block.split("\n"), out)
                self._dispatch(out)
        else:
            first = True
            event_id = self.last_event_id
            for block in blocks:
                if block[:5] == "data:" and "\n" not in block and not (first and self._open):
                    # One data line and nothing pending: the event is the line.
                    out.append(
                        ServerSentEvent(
                            "message", block[6:] if block[5:6] == " " else block[5:], event_id
                        )
                    )
                else:
                    self._lines(block.split("\n"), out)
                    self._dispatch(out)
                    event_id = self.last_event_id
                first = False
        if last:
            self._lines(last[:-1].split("\n"), out)
        return out

    def _lines(self, lines: list[str], out: list[ServerSentEvent]) -> None:
        """Interpret lines one by one (§9.2.6); a blank one dispatches."""
        frame_lines = self._frame_lines if self._frames is not None else None
        for line in lines:
            if not line:
                self._dispatch(out)
                continue
            self._open = True
            if frame_lines is not None:
                frame_lines.append(line)
            if line[0] == ":":
                self.comment_count += 1
                self._comments.append(line[2:] if line[1:2] == " " else line[1:])
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
                self._data_len += len(value) + 1
                if self._data_len > self._max + 1:
                    self._fail("event")
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._id_buffer = value
            elif name == "retry" and _is_retry_value(value):
                # More digits than int() converts (sys.int_info) is no sensible
                # delay: the field is then ignored.
                with contextlib.suppress(ValueError):
                    self.retry = self._block_retry = int(value)

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        """A blank line: publish the id, fire the block if it had data, clear it."""
        self.last_event_id = self._id_buffer
        event: ServerSentEvent | None = None
        if self._data:
            event = ServerSentEvent(
                self._event or "message",
                "\n".join(self._data),
                self._id_buffer,
                self._block_retry,
            )
            out.append(event)
            self._data = []
            self._data_len = 0
        self._event = ""
        self._block_retry = None
        self._open = False
        if self._frames is not None and self._frame_lines:
            self._frames.append(RawFrame(tuple(self._frame_lines), event))
            self._frame_lines = []

    def _fail(self, what: str) -> None:
        limit = self._max
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
        # Drop what was buffered and refuse more input: the rest of the
        # oversized line would otherwise be read as new lines.
        self._reset_parse()
        self._decode = _closed
        raise StreamProtocolError(
            f"The server sent a single {what} larger than {size}, "
            "so Streamdesk stopped reading the stream.",
            hint="The server may be misbehaving; try again or check its configuration.",
        )
