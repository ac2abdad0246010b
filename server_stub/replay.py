"""Serve recorded streams again: the same status, headers, bytes, chunk boundaries and pacing.

A recording (``replay_file``) is served by ``ReplayMiddleware`` in front of
the stub's routes, in two ways:

- ``streamdesk-stub --replay FILE [--speed X]`` (``ReplayDeck.serve``): every
  request whose method and path match a recorded request gets the recorded
  answer, whatever its body; other requests reach the stub as usual (so
  ``/healthz`` and ``/v1/models`` still work).
- per request (``ReplayDeck.register``): a recording registered at run time
  answers the requests that carry ``X-Stub-Replay: <token>``, e.g. the
  embedded stub answering the window's next prompt with a recording the
  tester chose. A request on another path gets a 404 saying which path the
  recording answers.

A recording with several requests (a retry, the generic two-step, a resume
with ``Last-Event-ID``) is played in order: each request takes the next
recorded exchange that matches it; a request matching only the first starts
over, so a recording can be replayed any number of times.

Each chunk is one write, sent when due: ``t / speed`` after the request
(``speed`` 0: one after the other at once). Every write is one HTTP chunk
of a chunked body, so a client that reads chunks (httpx/h11 yields one read
per chunk) sees the recorded boundaries even when TCP coalesces the writes:
``benchmarks/bench_replay.py`` measured 100 % of boundaries kept at speed 0
with no pause between writes, so ``ZERO_SPEED_GAP`` is 0 (set it to pace
writes apart for clients that read the socket without chunk framing). A body
that was cut off is cut off again (the connection closes without the end of
the chunked body); one the client gave up waiting on goes silent until the
client leaves. ``Content-Length``, ``Transfer-Encoding``, ``Content-Encoding``
(chunks are recorded decoded), ``Date``, ``Server`` and hop-by-hop headers are
not replayed: the server sets its own.

Must not: import ``desktop_app`` (the recording format is the contract).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from server_stub.replay_file import RecordingError, RecordingFile, ReplayExchange, load
from server_stub.state import StubState

if TYPE_CHECKING:
    from server_stub.embedded import RunningStub

H_REPLAY = "x-stub-replay"
ZERO_SPEED_GAP = 0.0  # seconds between writes at --speed 0 (see the module docstring)
MAX_SILENCE = 600.0  # a "silence" ending waits at most this long for the client to leave
_SKIPPED_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "content-encoding",
        "connection",
        "keep-alive",
        "date",
        "server",
        "upgrade",
        "te",
        "trailer",
    }
)
_UNFINISHED = "ASGI callable returned without completing response."
_cutting: contextvars.ContextVar[bool] = contextvars.ContextVar("replay_cutting", default=False)


class _CutFilter(logging.Filter):
    """uvicorn logs an error when a response is left unfinished; here that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _UNFINISHED and _cutting.get())


_filter = _CutFilter()


@dataclass
class Replay:
    """One recording being served, with its place in the sequence of exchanges."""

    recording: RecordingFile
    speed: float = 1.0
    _cursor: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> ReplayExchange | None:
        """The exchange answering this request, or None if none matches."""
        exchanges = self.recording.exchanges
        with self._lock:
            for index in itertools.chain(range(self._cursor, len(exchanges)), range(self._cursor)):
                exchange = exchanges[index]
                if exchange.method == method and exchange.path == path:
                    self._cursor = (index + 1) % len(exchanges)
                    return exchange
        return None


class ReplayDeck:
    """The recordings a stub serves. Thread-safe: the window calls it from its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.always: Replay | None = None
        self._by_token: dict[str, Replay] = {}

    def serve(self, recording: RecordingFile | Path | str, speed: float = 1.0) -> Replay:
        """Answer every matching request with ``recording`` (``--replay``)."""
        replay = Replay(_loaded(recording), _speed(speed))
        with self._lock:
            self.always = replay
        return replay

    def register(self, recording: RecordingFile | Path | str, speed: float = 1.0) -> str:
        """Keep ``recording`` for requests carrying ``X-Stub-Replay: <token>``; returns the token."""
        replay = Replay(_loaded(recording), _speed(speed))
        token = secrets.token_hex(8)
        with self._lock:
            self._by_token[token] = replay
        return token

    def forget(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)

    def by_token(self, token: str) -> Replay | None:
        with self._lock:
            return self._by_token.get(token)


def _loaded(recording: RecordingFile | Path | str) -> RecordingFile:
    return recording if isinstance(recording, RecordingFile) else load(recording)


def _speed(speed: float) -> float:
    if not speed >= 0:
        raise ValueError(f"speed must be a number >= 0, got {speed!r}")
    return float(speed)


def start_replay(recording: RecordingFile | Path | str, speed: float = 1.0) -> RunningStub:
    """An embedded stub (``server_stub.embedded``) serving ``recording``: for tests and tools."""
    from server_stub.embedded import start_stub

    running = start_stub()
    try:  # no request has reached it yet: the middleware can still be added
        enable_replays(running.app).serve(recording, speed)
    except BaseException:
        running.stop()
        raise
    return running


def enable_replays(app: Starlette) -> ReplayDeck:
    """Put ``ReplayMiddleware`` in front of ``app`` (before it serves its first request).

    Idempotent: returns the app's deck (``app.state.replays``).
    """
    deck: ReplayDeck | None = getattr(app.state, "replays", None)
    if deck is not None:
        return deck
    deck = ReplayDeck()
    app.add_middleware(ReplayMiddleware, deck=deck)
    app.state.replays = deck
    logger = logging.getLogger("uvicorn.error")
    if _filter not in logger.filters:
        logger.addFilter(_filter)
    return deck


class ReplayMiddleware:
    def __init__(self, app: ASGIApp, deck: ReplayDeck) -> None:
        self.app = app
        self.deck = deck

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        token = _header(scope, H_REPLAY)
        if token is not None:
            replay = self.deck.by_token(token.strip())
            if replay is None:
                await _error(send, 404, f"No recording is registered as {token!r}.")
                return
            exchange = replay.take(method, path)
            if exchange is None:
                known = ", ".join(f"{x.method} {x.path}" for x in replay.recording.exchanges)
                await _error(send, 404, f"The recording answers {known}, not {method} {path}.")
                return
            await play(exchange, replay.speed, scope, receive, send)
            return
        replay = self.deck.always
        exchange = replay.take(method, path) if replay is not None else None
        if exchange is None or replay is None:
            await self.app(scope, receive, send)
            return
        await play(exchange, replay.speed, scope, receive, send)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            text: str = value.decode("latin-1")
            return text
    return None


async def _error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"message": message, "type": "replay_error"}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def play(
    exchange: ReplayExchange, speed: float, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer one request with ``exchange``, paced by ``speed``; stops if the client leaves."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Read the request body first (so the connection stays usable), then watch for the
    # client leaving: uvicorn ignores sends after a disconnect, so we must notice it.
    while (await receive()).get("more_body", False):
        pass
    task = asyncio.current_task()
    assert task is not None
    state: StubState | None = getattr(getattr(scope.get("app"), "state", None), "stub", None)
    stopped: list[str] = []

    def stop(reason: str) -> None:
        if not stopped:
            stopped.append(reason)
            task.cancel()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        stop("disconnect")

    watcher = asyncio.create_task(watch())
    if state is not None:
        state.generation_started(stop)  # a shutdown ends this replay too
    try:
        await _play(exchange, speed, start, send)
    except asyncio.CancelledError:
        if not stopped:
            raise
        task.uncancel()
    finally:
        watcher.cancel()
        if state is not None:
            state.generation_ended(stop, stopped[0] if stopped else None)


async def _play(exchange: ReplayExchange, speed: float, start: float, send: Send) -> None:
    loop = asyncio.get_running_loop()

    async def until(delay: float) -> None:
        if speed > 0:
            wait = start + delay / speed - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)

    await until(exchange.head_delay)
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in exchange.headers
        if name.lower() not in _SKIPPED_HEADERS
    ]
    await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
    for index, (delay, data) in enumerate(exchange.chunks):
        if speed > 0:
            await until(delay)
        elif index and ZERO_SPEED_GAP > 0:
            await asyncio.sleep(ZERO_SPEED_GAP)
        await send({"type": "http.response.body", "body": data, "more_body": True})
    if exchange.ending == "drop":
        _cutting.set(True)  # return without ending the body: uvicorn closes the connection
        return
    if exchange.ending == "silence":
        await asyncio.sleep(MAX_SILENCE)  # until the client leaves (cancelled) or a shutdown
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---------------------------------------------------------------- the command line


def configure(app: Starlette, args: argparse.Namespace) -> str | None:
    """Apply ``--replay``/``--speed`` to ``app``; returns a problem sentence, or None."""
    if getattr(args, "replay", None) is None:
        return None
    try:
        recording = load(args.replay)
    except RecordingError as exc:
        return f"cannot replay: {exc}"
    enable_replays(app).serve(recording, args.speed)
    return None
