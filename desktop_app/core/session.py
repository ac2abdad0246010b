"""One chat turn as a state machine: request, retries, stream, resumption, end.

``stream_turn`` is an async generator of ``StreamEvent``s. It starts with
``StateChanged(CONNECTING)``, passes on the provider parser's content events,
adds lifecycle events (WAITING, STREAMING, RETRYING, RECONNECTING, keep-alives)
and always ends with exactly one ``TurnEnded`` that keeps every piece of text
received. Network, protocol and server failures end the turn (FAILED or
INTERRUPTED with a typed error from ``core.errors``); they are never raised.
Cancelling the consumer's task, or closing the generator, closes the HTTP
response at once and lets ``CancelledError`` through (``on_end(CANCELLED)``
is reported to the observer; no ``TurnEnded`` follows a cancel).

The rules it enforces (research/ecosystem.md §8, sse.md §2):
- status first, then content type, then bytes into the SSE decoder;
- a first-token deadline from each attempt's start and, after the first token,
  an idle deadline that only content resets (keep-alives are reported but do
  not count), both checked around every socket read so a stalled socket is
  noticed;
- retries only before the first token (``core.retry`` decides which);
- resumption with ``Last-Event-ID`` where the provider and server allow it, so
  no token is lost or repeated; otherwise a drop ends the turn INTERRUPTED.

This module owns the order of things; ``core.turn`` performs each step. It
must not import httpx and never yields from inside a timeout scope (a timeout
armed across a ``yield`` would cancel the consumer's code instead of a read).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from desktop_app.core.errors import Interrupted, StreamdeskError
from desktop_app.core.events import (
    Reconnecting,
    Retrying,
    StateChanged,
    StreamEvent,
    TurnEnded,
    TurnMetrics,
    TurnState,
)
from desktop_app.core.observer import NullObserver, TurnObserver
from desktop_app.core.providers.base import ChatRequest, Endpoint, Provider
from desktop_app.core.transport import HttpStream, StreamingClient
from desktop_app.core.turn import AttemptFailed, Turn, TurnOver, TurnSettings

__all__ = ["TurnSettings", "stream_turn"]

DEFAULT_SETTINGS = TurnSettings()  # frozen, so one shared default is safe


async def stream_turn(
    client: StreamingClient,
    provider: Provider,
    request: ChatRequest,
    endpoint: Endpoint,
    settings: TurnSettings = DEFAULT_SETTINGS,
    observer: TurnObserver | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> AsyncGenerator[StreamEvent, None]:
    """Run one turn, yielding its events; the last is always one ``TurnEnded``.

    An async generator: close it (``aclose()``, or ``contextlib.aclosing``) if
    you stop iterating early, so the response is closed at once.
    """
    observer = observer or NullObserver()
    try:
        turn = Turn(client, provider, request, endpoint, settings, observer, clock, sleep, rng)
    except StreamdeskError as exc:  # a request that cannot even be built
        yield StateChanged(TurnState.CONNECTING)
        observer.on_end(TurnState.FAILED)
        yield TurnEnded(TurnState.FAILED, "", TurnMetrics(outcome=TurnState.FAILED), error=exc)
        return
    stream: HttpStream | None = None
    over = False  # TurnEnded was yielded (or is being)
    try:
        yield StateChanged(TurnState.CONNECTING)
        attempt = 1
        try:
            while True:  # attempts: only before the first token
                turn.start_attempt()
                try:
                    stream = current = await turn.connect()
                    yield StateChanged(TurnState.WAITING)
                    while not turn.parser.finished:
                        for event in await turn.read(current):
                            yield event
                        if turn.broken is not None:
                            raise turn.broken
                        if turn.failure is not None:
                            if not turn.got_content:  # e.g. overloaded_error: maybe retry
                                failure, turn.failure = turn.failure, None
                                raise AttemptFailed(turn.provider_error(failure), event=failure)
                            break
                        if turn.dropped is not None:
                            stream = None
                            await current.aclose()
                            async with contextlib.aclosing(_resume(turn)) as events:
                                async for event in events:
                                    yield event
                            stream = current = turn.take_resumed()
                    break
                except AttemptFailed as failed:
                    if stream is not None:
                        old, stream = stream, None
                        await old.aclose()
                    delay = turn.retry_delay(failed, attempt)
                    if delay is None:
                        if failed.event is not None:
                            yield failed.event
                        raise TurnOver(TurnState.FAILED, failed.error) from None
                    attempt += 1
                    turn.metrics.attempts = attempt
                    yield Retrying(attempt=attempt, delay=delay, reason=str(failed.error))
                    yield StateChanged(TurnState.RETRYING, f"retrying in {_seconds(delay)}")
                    await turn.sleep(delay)
                    yield StateChanged(TurnState.CONNECTING)
        except TurnOver as end:
            over = True
            yield turn.ended(end.state, end.error)
            return
        over = True
        if turn.failure is not None:
            yield turn.failure
            yield turn.ended(TurnState.FAILED, turn.provider_error(turn.failure))
        else:
            yield turn.ended(TurnState.COMPLETE, None)
            if stream is not None:
                await turn.drain(stream)
    except BaseException:
        if not over:  # cancelled, closed by the consumer, or a bug
            turn.observer.on_end(TurnState.CANCELLED)
        raise
    finally:
        if stream is not None:
            await stream.aclose()


async def _resume(turn: Turn) -> AsyncGenerator[StreamEvent, None]:
    """Reconnect after a drop, or raise ``TurnOver(INTERRUPTED)``; sets ``turn.resumed``."""
    error: StreamdeskError | None = turn.dropped
    turn.dropped = None
    failures = 0
    while True:
        if not turn.can_resume() or turn.resume_url is None:
            raise TurnOver(TurnState.INTERRUPTED, error)
        url = turn.resume_url
        last_id = turn.decoder.last_event_id
        turn.metrics.reconnects += 1
        delay = turn.reconnect_delay(failures)
        yield Reconnecting(
            attempt=turn.metrics.reconnects, delay=delay, url=url, last_event_id=last_id
        )
        yield StateChanged(TurnState.RECONNECTING, f"reconnecting in {_seconds(delay)}")
        turn.observer.on_reconnect(url, last_id)
        await turn.sleep(delay)
        try:
            turn.resumed = await turn.resume(url)
        except AttemptFailed as failed:
            failures += 1
            error = Interrupted(
                f"The connection dropped and could not be re-established: {failed.error}"
            )
            continue
        yield StateChanged(TurnState.STREAMING, "resumed")
        return


def _seconds(delay: float) -> str:
    return f"{delay:.0f} s" if delay >= 1 else f"{delay:.1f} s"
