"""Play timed frames onto the socket: the one place that writes response bodies.

Owns the SSE headers, flushing each frame when it is due, keep-alive comments while idle, the
wire quirks (CR LF line ends, writes cut at odd byte offsets), abrupt drops, and stopping as
soon as the client disconnects or the server shuts down. Frames come from a ``FrameSource``
(today ``turn.timeline``; a recording's replay later), so this module knows no format.

A plain ASGI body of preformatted bytes costs 1.5–3× less CPU per event than sse-starlette
(performance.md §5). uvicorn silently ignores sends after a disconnect, so a task watches
``receive()`` for ``http.disconnect`` and cancels the generation.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterable, Iterator, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server_stub.state import StubState
from server_stub.turn import Frame

FrameSource = Iterable[Frame]

SSE_TYPE = "text/event-stream; charset=utf-8"
KEEPALIVE = b": keep-alive\n\n"
MAX_BATCH = 64  # frames due at once are joined into one write, up to this many
PIECE_PAUSE = 0.001  # between the pieces of a split write, so they leave as separate segments

_BODY = "http.response.body"
_UNFINISHED = "ASGI callable returned without completing response."
# Set in the request's task when a scenario drops the connection on purpose; uvicorn then
# closes the transport mid-body (no chunked terminator) and logs an error we silence.
_dropping: contextvars.ContextVar[bool] = contextvars.ContextVar("stub_dropping", default=False)


class _IntentionalDropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _UNFINISHED and _dropping.get())


_filter = _IntentionalDropFilter()


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _filter not in logger.filters:
        logger.addFilter(_filter)


def _raw_headers(
    content_type: str, headers: Mapping[str, str], sse: bool
) -> list[tuple[bytes, bytes]]:
    raw = [(b"content-type", content_type.encode("latin-1"))]
    if sse:
        raw += [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return raw


def cut_points(data: bytes) -> list[int]:
    """Where to cut one event: early, inside its first multi-byte character, between its last
    CR and LF (a decoder must not end the line twice), and inside its last character."""
    cuts = {min(7, len(data) - 1)}
    leads = [i for i, b in enumerate(data) if b >= 0xC0]
    for i in leads[:1] + leads[-1:]:
        cuts.add(i + 1 + (data[i] >= 0xE0))  # after the lead byte (or the 2nd of 3-4 bytes)
    crlf = data.rfind(b"\r\n")
    if crlf >= 0:
        cuts.add(crlf + 1)
    return sorted(c for c in cuts if 0 < c < len(data))


def _crlf(frames: FrameSource) -> Iterator[Frame]:
    for due, data, eid in frames:
        yield due, data.replace(b"\n", b"\r\n") if data else data, eid


class _Generation:
    """Bookkeeping shared by streamed and delayed bodies: registration and stop requests."""

    def __init__(self, state: StubState) -> None:
        self.state = state
        self.reason: str | None = None
        self.producing = False
        self.task: asyncio.Task[object] | None = None

    def stop(self, reason: str) -> None:
        if self.producing and self.reason is None and self.task is not None:
            self.reason = reason
            self.task.cancel()

    async def watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.stop("disconnect")
                return


class EventStream(Response):
    """A 200 response whose body is played from timed frames."""

    def __init__(
        self,
        frames: FrameSource,
        *,
        state: StubState,
        t0: float,
        keepalive_interval: float,
        headers: Mapping[str, str] | None = None,
        content_type: str = SSE_TYPE,
        crlf: bool = False,
        split_writes: bool = False,
    ) -> None:
        self.status_code = 200
        self.background = None
        self._frames = _crlf(frames) if crlf else iter(frames)
        self._state = state
        self._t0 = t0
        self._keepalive_interval = keepalive_interval
        self._keepalive = KEEPALIVE.replace(b"\n", b"\r\n") if crlf else KEEPALIVE
        self._split = split_writes
        self._raw = _raw_headers(content_type, headers or {}, sse=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gen = _Generation(self._state)
        if self._state.closing:
            await Response(status_code=503)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": self._raw})
        gen.task = asyncio.current_task()
        gen.producing = True
        watcher = asyncio.create_task(gen.watch(receive))
        self._state.generation_started(gen.stop)
        dropped = False
        try:
            dropped = await self._play(send)
        except asyncio.CancelledError:
            if gen.reason is None:
                raise
            gen.task.uncancel()  # type: ignore[union-attr]
        finally:
            gen.producing = False
            watcher.cancel()
            self._state.generation_ended(gen.stop, gen.reason)
        if gen.reason == "disconnect":
            return
        if dropped:
            _dropping.set(True)
            return
        await send({"type": _BODY, "body": b"", "more_body": False})

    async def _play(self, send: Send) -> bool:
        """Send every frame when due; True if the script drops the connection."""
        loop = asyncio.get_running_loop()
        clock = loop.time
        sleep_until = self._state.ticker().sleep_until
        t0 = self._t0
        keepalive = self._keepalive_interval
        split = self._split
        pending: list[bytes] = []
        last_write = clock()
        for due, data, _eid in self._frames:
            if data is None:
                if pending:
                    await send({"type": _BODY, "body": b"".join(pending), "more_body": True})
                return True
            when = t0 + due
            if when > clock():
                if pending:
                    await send({"type": _BODY, "body": b"".join(pending), "more_body": True})
                    pending = []
                    last_write = clock()
                while keepalive > 0 and when - last_write > keepalive:
                    fut = sleep_until(last_write + keepalive)
                    if fut is not None:
                        await fut
                    await send({"type": _BODY, "body": self._keepalive, "more_body": True})
                    last_write = clock()
                fut = sleep_until(when)
                if fut is not None:
                    await fut
            if not data:
                continue
            if split:
                for piece in _pieces(data):
                    await send({"type": _BODY, "body": piece, "more_body": True})
                    await asyncio.sleep(PIECE_PAUSE)
                last_write = clock()
                continue
            pending.append(data)
            if len(pending) >= MAX_BATCH:
                await send({"type": _BODY, "body": b"".join(pending), "more_body": True})
                pending = []
                last_write = clock()
                await asyncio.sleep(0)  # a stream far behind schedule must not starve the rest
        if pending:
            await send({"type": _BODY, "body": b"".join(pending), "more_body": True})
        return False


def _pieces(data: bytes) -> Iterator[bytes]:
    start = 0
    for cut in cut_points(data):
        yield data[start:cut]
        start = cut
    yield data[start:]


class DelayedBody(Response):
    """A non-streamed answer sent after ``delay`` s (the time the whole turn takes).

    ``drop``: send the headers and half the body, then close the connection. ``split``: write the
    body in pieces cut inside UTF-8 characters.
    """

    def __init__(
        self,
        body: bytes,
        *,
        state: StubState,
        delay: float,
        status_code: int = 200,
        media_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        drop: bool = False,
        split_writes: bool = False,
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self._payload = body
        self._state = state
        self._delay = delay
        self._drop = drop
        self._split = split_writes
        self._raw = _raw_headers(media_type, headers or {}, sse=False)
        self._raw.append((b"content-length", str(len(body)).encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gen = _Generation(self._state)
        gen.task = asyncio.current_task()
        gen.producing = True
        self._state.generation_started(gen.stop)
        watcher = asyncio.create_task(gen.watch(receive))
        try:
            if self._delay > 0:
                await asyncio.sleep(self._delay)
        except asyncio.CancelledError:
            if gen.reason is None:
                raise
            gen.task.uncancel()  # type: ignore[union-attr]
        finally:
            gen.producing = False
            watcher.cancel()
            self._state.generation_ended(gen.stop, gen.reason)
        if gen.reason == "disconnect":
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self._raw}
        )
        body = self._payload
        if self._drop or gen.reason == "shutdown":
            await send({"type": _BODY, "body": body[: len(body) // 2], "more_body": True})
            _dropping.set(True)
            return
        if self._split:
            for piece in _pieces(body):
                await send({"type": _BODY, "body": piece, "more_body": True})
                await asyncio.sleep(PIECE_PAUSE)
            body = b""
        await send({"type": _BODY, "body": body, "more_body": False})
