"""What came over the wire for one answer, for the stream inspector (Qt-free).

``InspectorModel`` is a ``TurnObserver``: passed to ``stream_turn`` (live)
or fed a ``Recording`` (``from_recording``, for a finished answer kept in
the history or a recording file), it keeps

- every request (method, URL, headers with secrets masked, body) and
  response head (status, headers);
- every SSE frame as received: arrival time, the raw lines (event, id,
  retry, data, comments) and the typed event it became through the
  provider's parser, with keep-alives and connection numbers;
- reconnects with their ``Last-Event-ID`` and how the stream ended;
- the timeline (``core.inspector_timeline``);
- the raw chunks, as a ``Recording`` (``recording()``, "save as recording";
  ``raw_text()``, "copy stream as raw text").

It is size-bounded: at most ``max_frames`` frames are kept (the first half
and the latest half, ``dropped_frames`` counting the rest), each line at most
``MAX_LINE_CHARS``, and the recording at most ``max_bytes`` body bytes. Its
stored form (``to_json``/``from_json``, for the history) is the recording
itself plus the stall threshold: frames and timeline are rebuilt from it.

Must not: block (observer calls decode one chunk and return), do I/O, or
import Qt. ``listener`` (if set) is called after each change; the Qt layer
coalesces those calls.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from desktop_app.core.errors import ConfigError, StreamdeskError
from desktop_app.core.events import (
    ContentEvent,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    TurnEnded,
    TurnState,
)
from desktop_app.core.inspector_timeline import Timeline, TimelineBuilder
from desktop_app.core.inspector_words import describe, kinds_of
from desktop_app.core.observer import mask_secret
from desktop_app.core.providers.base import Provider, StreamParser
from desktop_app.core.recording import (
    RecordedChunk,
    RecordedReconnect,
    RecordedRequest,
    RecordedResponse,
    Recording,
    RecordingEnd,
    loads_recording,
)
from desktop_app.core.recording_observer import RecordingObserver
from desktop_app.core.sse import RawFrame, SSEDecoder

MAX_LINE_CHARS = 2000
MAX_BODY_BYTES = 64 * 1024  # of a body that is not an event stream (the session reads no more)
DEFAULT_MAX_FRAMES = 5000
DEFAULT_MAX_BYTES = 2_000_000
STORED_VERSION = 1
COMMENT = "(comment)"  # the event-type column of a comment-only block


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One SSE block as received and what it became."""

    index: int  # 0-based, over the whole turn (kept frames may skip some)
    t: float  # arrival of the chunk that completed it, seconds since the first request
    connection: int  # which response carried it, from 1
    event_type: str  # the SSE event name, or ``COMMENT``
    event_id: str
    retry: int | None
    lines: tuple[str, ...]
    typed: tuple[str, ...]  # the typed events it became, in words ("" = none)
    content: bool  # carried a token (text, reasoning or a tool call)
    keepalive: bool  # a comment or a ping: liveness only

    def raw(self) -> str:
        """The block as text, ended by its blank line."""
        return "".join(line + "\n" for line in self.lines) + "\n"


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request and its response head, as the inspector shows them.

    ``body`` is a response body that is not an event stream (an error's
    JSON, a proxy's HTML page), as text with the key masked, at most
    ``MAX_BODY_BYTES``; an event stream's bytes become frames instead.
    """

    request: RecordedRequest
    response: RecordedResponse | None = None
    body: str = ""


class InspectorModel:
    def __init__(
        self,
        *,
        provider: Provider | None = None,
        secret: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        stall_threshold: float = 2.0,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.provider = provider
        self._secret = secret if secret and len(secret) >= 4 else None
        self.recorder = RecordingObserver(
            secret=secret,
            provider=provider.name if provider is not None else None,
            clock=clock,
            max_bytes=max_bytes,
        )
        self.stall_threshold = stall_threshold
        self._head_max = max(1, max_frames // 2)
        self._head: list[FrameRecord] = []
        self._tail: deque[FrameRecord] = deque(maxlen=max(1, max_frames - self._head_max))
        self.frame_count = 0
        self.exchanges: list[Exchange] = []
        self.event_types: list[str] = []  # in order of first appearance
        self.kinds: list[str] = []  # what frames became (``inspector_words.KINDS``), as seen
        self.decoder_error: str | None = None
        self.end_state: TurnState | None = None
        self.end_reason: str | None = None
        self.listener: Callable[[], None] | None = None
        self.note = ""  # what the stored form left out, if anything (``core.inspections``)
        self._bodies: dict[int, bytearray] = {}  # exchange index -> a non-stream body
        self._timeline = TimelineBuilder(stall_threshold)
        self._decoder = SSEDecoder(record_frames=True)
        self._parser: StreamParser | None = provider.new_parser() if provider else None
        self._resuming = False

    def set_secret(self, secret: str | None) -> None:
        """The key to mask, when it is known only once the turn has its endpoint."""
        self._secret = secret if secret and len(secret) >= 4 else None
        self.recorder.set_secret(secret)

    def mask(self, text: str) -> str:
        """``text`` with the key masked, for anything shown beside this model."""
        return mask_secret(text, self._secret) if self._secret is not None else text

    # ------------------------------------------------------------ TurnObserver

    def on_request(
        self, method: str, url: str, headers_masked: Mapping[str, str], body: object
    ) -> None:
        self.recorder.on_request(method, url, headers_masked, body)
        request = self.recorder.last_entry
        assert isinstance(request, RecordedRequest)
        self._new_request(request)

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        self.recorder.on_response(status, headers)
        response = self.recorder.last_entry
        assert isinstance(response, RecordedResponse)
        self._new_response(response)

    def on_chunk(self, data: bytes, at: float) -> None:
        self.recorder.on_chunk(data, at)
        self._chunk(self.recorder.time_of(at), data)

    def on_reconnect(self, url: str, last_event_id: str) -> None:
        self.recorder.on_reconnect(url, last_event_id)
        reconnect = self.recorder.last_entry
        assert isinstance(reconnect, RecordedReconnect)
        self._reconnect(reconnect)

    def on_end(self, state: TurnState) -> None:
        self.recorder.on_end(state)
        self._end(self.recorder.time_of(None), state.value)

    def finish(self, ended: TurnEnded | None) -> None:
        """Add the reason the turn ended, from the session's ``TurnEnded``."""
        self.recorder.finish(ended)
        end = self.recorder.recording_end()
        if end is not None:
            self._end(end.t, end.state, end.reason)

    # ------------------------------------------------------------ what the inspector shows

    @property
    def frames(self) -> list[FrameRecord]:
        """The kept frames in order (the first ones, then the latest)."""
        return [*self._head, *self._tail]

    @property
    def dropped_frames(self) -> int:
        return self.frame_count - len(self._head) - len(self._tail)

    @property
    def truncated_bytes(self) -> int:
        return self.recorder.dropped_bytes

    def timeline(self) -> Timeline:
        return self._timeline.result(self.end_state, self.end_reason)

    def recording(self) -> Recording:
        return self.recorder.recording()

    def raw_text(self) -> str:
        """The body as received (every response), decoded as UTF-8."""
        return self.recording().body().decode("utf-8", "replace")

    # ------------------------------------------------------------ storing

    def to_json(self) -> str:
        records = [json.loads(line) for line in self.recording().lines()]
        return json.dumps(
            {
                "inspection": STORED_VERSION,
                "stall_threshold": self.stall_threshold,
                "recording": records,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, *, provider: Provider | None = None) -> InspectorModel:
        """Rebuild a stored model; raises ``InvalidRecording`` if the text is not one."""
        from desktop_app.core.recording import InvalidRecording

        try:
            stored = json.loads(text)
            records = stored["recording"]
            threshold = float(stored.get("stall_threshold", 2.0))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InvalidRecording("The stored stream inspection is damaged.") from None
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        recording = loads_recording(lines, source="the stored inspection")
        return cls.from_recording(recording, provider=provider, stall_threshold=threshold)

    @classmethod
    def from_recording(
        cls,
        recording: Recording,
        *,
        provider: Provider | None = None,
        stall_threshold: float = 2.0,
        max_frames: int = DEFAULT_MAX_FRAMES,
    ) -> InspectorModel:
        """A model of a recorded stream (its provider from the recording if not given)."""
        if provider is None and recording.provider:
            from desktop_app.core.providers.registry import get_provider

            try:
                provider = get_provider(recording.provider)
            except ConfigError:
                provider = None
        model = cls(provider=provider, stall_threshold=stall_threshold, max_frames=max_frames)
        model.recorder.load(recording)
        model.note = recording.note
        for entry in recording.entries:
            if isinstance(entry, RecordedRequest):
                model._new_request(entry)
            elif isinstance(entry, RecordedResponse):
                model._new_response(entry)
            elif isinstance(entry, RecordedChunk):
                model._chunk(entry.t, entry.data)
            else:
                model._reconnect(entry)
        end: RecordingEnd | None = recording.end
        if end is not None:
            model._end(end.t, end.state, end.reason)
        return model

    # ------------------------------------------------------------ building

    def _new_request(self, request: RecordedRequest) -> None:
        previous = self.exchanges[-1] if self.exchanges else None
        # A retry starts a fresh parse; a resume or the generic two-step's GET goes on.
        retry = (
            previous is not None
            and not self._resuming
            and (previous.response is None or not 200 <= previous.response.status < 300)
        )
        if retry and self.provider is not None:
            self._parser = self.provider.new_parser()
        self._resuming = False
        self.exchanges.append(Exchange(request))
        self._timeline.request(request.t)
        self._changed()

    def _new_response(self, response: RecordedResponse) -> None:
        if self.exchanges and self.exchanges[-1].response is None:
            self.exchanges[-1] = Exchange(self.exchanges[-1].request, response)
        if self.decoder_error is None:
            self._decoder.flush()  # a new connection starts a fresh parse (ids carry on)
        self._changed()

    def _reconnect(self, reconnect: RecordedReconnect) -> None:
        self._resuming = True
        self._timeline.reconnect(reconnect.t, reconnect.last_event_id)
        self._changed()

    def _end(self, t: float, state: str, reason: str | None = None) -> None:
        try:
            self.end_state = TurnState(state)
        except ValueError:
            self.end_state = None
        self.end_reason = reason or self.end_reason
        self._timeline.end(t)
        self._changed()

    def _chunk(self, t: float, data: bytes) -> None:
        if self.exchanges and not _is_event_stream(self.exchanges[-1].response):
            self._body(data)
            self._changed()
            return
        self._timeline.byte(t)
        if self.decoder_error is None:
            try:
                self._decoder.feed(data)
            except StreamdeskError as exc:  # an oversized line: the turn stops there too
                self.decoder_error = str(exc)
            for frame in self._decoder.take_frames():
                self._add_frame(t, frame)
        self._changed()

    def _body(self, data: bytes) -> None:
        """Keep a body that is not an event stream as text (an SSE parse would mangle it)."""
        index = len(self.exchanges) - 1
        raw = self._bodies.setdefault(index, bytearray())
        room = MAX_BODY_BYTES - len(raw)
        if room <= 0:
            return
        raw += data[:room]
        text = bytes(raw).decode("utf-8", "replace")
        if self._secret is not None:
            text = mask_secret(text, self._secret)
        exchange = self.exchanges[index]
        self.exchanges[index] = Exchange(exchange.request, exchange.response, text)

    def _add_frame(self, t: float, raw: RawFrame) -> None:
        sse = raw.event
        lines = tuple(self._line(line) for line in raw.lines)
        typed: list[str] = []
        content = keepalive = False
        if sse is None:
            event_type = COMMENT if all(line.startswith(":") for line in raw.lines) else "(no data)"
            keepalive = event_type == COMMENT
            if keepalive:
                typed.append("keep-alive")
        else:
            event_type = sse.event
            events: list[ContentEvent] = []
            if self._parser is not None:
                try:
                    events = self._parser.parse(sse)
                except StreamdeskError as exc:
                    typed.append(f"protocol error: {exc}")
            elif sse.data and sse.data != "[DONE]":
                content = True  # no parser: count every data event as a token
            if not events and sse.event == "ping":
                keepalive = True
                typed.append("keep-alive (ping)")
            for event in events:
                typed.append(self._line(describe(event)))
                content = content or isinstance(event, TextDelta | ReasoningDelta | ToolCallDelta)
        if event_type not in self.event_types:
            self.event_types.append(event_type)
        for kind in kinds_of(tuple(typed)):
            if kind not in self.kinds:
                self.kinds.append(kind)
        connection = max(1, sum(1 for x in self.exchanges if x.response is not None))
        frame = FrameRecord(
            self.frame_count,
            t,
            connection,
            event_type,
            sse.id if sse is not None else "",
            sse.retry if sse is not None else None,
            lines,
            tuple(typed),
            content,
            keepalive,
        )
        self.frame_count += 1
        if len(self._head) < self._head_max:
            self._head.append(frame)
        else:
            self._tail.append(frame)
        self._timeline.frame(t, content=content, keepalive=keepalive)

    def _line(self, text: str) -> str:
        if self._secret is not None:
            text = mask_secret(text, self._secret)
        if len(text) > MAX_LINE_CHARS:
            return text[:MAX_LINE_CHARS] + f"… ({len(text) - MAX_LINE_CHARS:,} more characters)"
        return text

    def _changed(self) -> None:
        if self.listener is not None:
            self.listener()


def _is_event_stream(response: RecordedResponse | None) -> bool:
    """Whether a body is read as SSE: a 2xx ``text/event-stream`` (or no head seen yet)."""
    if response is None:
        return True
    kind = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    essence = kind.split(";", 1)[0].strip().lower()
    return 200 <= response.status < 300 and essence == "text/event-stream"
