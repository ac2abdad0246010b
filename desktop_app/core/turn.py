"""The steps and the memory of one chat turn, for ``core.session`` to drive.

``Turn`` holds what a turn accumulates (text, reasoning, tool calls, metrics,
the SSE decoder and provider parser, the resume URL) and performs its awaiting
steps: connect (status, content type, the generic two-step), read one chunk
within the first-token or idle deadline, resume with ``Last-Event-ID``,
drain. Each step returns events or raises ``TurnOver`` / ``AttemptFailed``;
none yields, so no timeout scope ever spans a consumer's code. The order of
steps, retries and the events' order are ``core.session``'s business.

It must not import httpx (``core.transport`` does the network).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

from desktop_app.core.answer import Answer
from desktop_app.core.errors import (
    FirstTokenTimeout,
    IdleTimeout,
    Interrupted,
    ProviderError,
    StreamdeskError,
    StreamProtocolError,
    UnexpectedResponse,
)
from desktop_app.core.events import (
    ContentEvent,
    KeepAlive,
    ProviderFailed,
    StateChanged,
    StreamEvent,
    TurnEnded,
    TurnState,
)
from desktop_app.core.http_errors import host_of
from desktop_app.core.metrics import MetricsAccumulator
from desktop_app.core.observer import TurnObserver, mask_headers, mask_secret
from desktop_app.core.providers.base import ChatRequest, Endpoint, Provider, StreamParser
from desktop_app.core.response_body import read_observed, status_error
from desktop_app.core.retry import RetryPolicy, parse_retry_after, parse_should_retry
from desktop_app.core.sse import SSEDecoder
from desktop_app.core.transport import HttpStream, StreamingClient

# After the terminator, wait this long for the end of the body so the
# connection can go back to the pool; a server that never closes costs no more.
DRAIN_TIMEOUT = 0.1
DRAIN_LIMIT = 64 * 1024
MAX_RECONNECT_DELAY = 30.0

DAMAGED_EVENT_HINT = (
    "The answer up to that point arrived intact and is kept; asking again usually works."
)
_DROP_HEADERS = frozenset({"content-type", "content-length", "accept", "last-event-id"})
_SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """Limits of one turn (seconds unless named otherwise)."""

    connect_timeout: float = 10.0
    first_token_timeout: float = 90.0
    idle_timeout: float = 120.0
    max_attempts: int = 3
    max_retry_after: float = 60.0
    max_reconnects: int = 5
    initial_reconnect_delay: float = 1.0  # when the server gave no ``retry:``


class TurnOver(Exception):
    """The turn is over with ``state`` and ``error``; ``stream_turn`` catches it (never escapes)."""

    def __init__(self, state: TurnState, error: StreamdeskError | None = None) -> None:
        super().__init__(state.value)
        self.state = state
        self.error = error


class AttemptFailed(Exception):
    """The attempt failed before any token with ``error``; ``stream_turn`` may retry."""

    def __init__(
        self,
        error: StreamdeskError,
        headers: Mapping[str, str] | None = None,
        *,
        event: ProviderFailed | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.headers = headers  # of the failed response: Retry-After, x-should-retry
        self.event = event  # the in-stream error it came from, shown if not retried


class Turn:
    """Everything one turn accumulates, and the awaiting steps it takes.

    Methods return lists of events for ``stream_turn`` to yield; none of them
    yields itself, so no timeout scope ever spans a ``yield``.
    """

    def __init__(
        self,
        client: StreamingClient,
        provider: Provider,
        request: ChatRequest,
        endpoint: Endpoint,
        settings: TurnSettings,
        observer: TurnObserver,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: Callable[[], float],
    ) -> None:
        self.client = client
        self.provider = provider
        self.endpoint = endpoint
        self.settings = settings
        self.observer = observer
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.http = provider.build_request(request, endpoint)
        self.secret = endpoint.api_key
        self.metrics = MetricsAccumulator(clock())
        self.policy = RetryPolicy(
            max_attempts=settings.max_attempts, max_retry_after=settings.max_retry_after
        )
        self.parser: StreamParser = provider.new_parser()
        # One decoder for the turn: flush() starts a fresh parse for each
        # connection and keeps last_event_id and retry, as EventSource does.
        self.decoder = SSEDecoder()
        self.answer = Answer()
        self.got_content = False
        self.deadline = 0.0
        self.resume_url: str | None = None
        self.failure: ProviderFailed | None = None
        self.dropped: Interrupted | None = None
        self.broken: TurnOver | None = None  # unreadable data: ends the turn after its events
        self.resumed: HttpStream | None = None
        self._away_since: float | None = None  # when the last read returned

    # ------------------------------------------------------------ connecting

    def start_attempt(self) -> None:
        self.parser = self.provider.new_parser()
        self.decoder.flush()
        self.deadline = self.clock() + self.settings.first_token_timeout
        self._away_since = None

    async def connect(self) -> HttpStream:
        """Send the request; return an open event stream or raise ``AttemptFailed``/``TurnOver``."""
        http = self.http
        stream = await self._open(http.method, http.url, http.headers, http.json)
        try:
            if not stream.is_event_stream and 200 <= stream.status < 300:
                two_step = self._two_step_url(stream)
                if two_step is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(min(self._budget(), 5.0)):
                            await self._read_body(stream)  # so the connection can be reused
                    await stream.aclose()
                    stream = await self._open("GET", two_step, self._get_headers(), None)
                    self.resume_url = two_step  # EventSource semantics: resume where we read
            await self._check(stream)
        except BaseException:
            await stream.aclose()
            raise
        url = stream.header_url("content-location") or stream.header_url("location")
        if url is not None:
            self.resume_url = url
        return stream

    def _two_step_url(self, stream: HttpStream) -> str | None:
        """For a generic server that stores the prompt first: where to GET the stream."""
        if self.provider.name != "generic" or stream.status not in (200, 201, 202, 204):
            return None
        url = stream.header_url("location") or stream.header_url("content-location")
        if url is None and self.endpoint.stream_url:
            url = urljoin(stream.url, self.endpoint.stream_url)
        if url is None:
            raise TurnOver(
                TurnState.FAILED,
                UnexpectedResponse(
                    f"The server {host_of(stream.url)} accepted the prompt (HTTP "
                    f"{stream.status}) but named no stream to read the answer from.",
                    hint="Set the profile's stream URL, or check the server's API.",
                ),
            )
        return url

    async def _open(
        self, method: str, url: str, headers: Mapping[str, str], body: object | None
    ) -> HttpStream:
        self.observer.on_request(method, url, mask_headers(headers), body)
        try:
            async with asyncio.timeout(self._budget()):
                stream = await self.client.open_stream(
                    method,
                    url,
                    headers=headers,
                    json_body=body,
                    connect_timeout=self.settings.connect_timeout,
                    secret=self.secret,
                )
        except TimeoutError:
            raise self._deadline_end(url) from None
        except StreamdeskError as exc:
            raise AttemptFailed(exc) from exc
        self.observer.on_response(stream.status, stream.headers)
        return stream

    async def _check(self, stream: HttpStream) -> None:
        """Status first (typed error with the server's words), then the content type."""
        if not 200 <= stream.status < 300:
            try:
                async with asyncio.timeout(self._budget()):
                    body = await self._read_body(stream)
            except TimeoutError:
                raise self._deadline_end(stream.url) from None
            error = status_error(stream, body, self.provider.error_message, secret=self.secret)
            raise AttemptFailed(error, stream.headers)
        if not stream.is_event_stream:
            raise TurnOver(TurnState.FAILED, await self._not_a_stream(stream))

    async def _not_a_stream(self, stream: HttpStream) -> UnexpectedResponse:
        kind = stream.content_type or "no content type"
        host = host_of(stream.url)
        body = ""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(self._budget(), 5.0)):
                body = (await self._read_body(stream)).decode("utf-8", "replace")
        if body.lstrip().startswith(_SSE_FIELDS):
            # Events under the wrong label: a misconfigured server or a proxy rewrote it.
            return UnexpectedResponse(
                f"The server {host} sent events labelled as {kind} instead of "
                "text/event-stream, so they were not read.",
                hint="The server, or a proxy in between, must send "
                "Content-Type: text/event-stream.",
            )
        said = mask_secret(self.provider.error_message(body), self.secret) if body else ""
        page = "a web page" if kind == "text/html" else kind
        tail = f": {' '.join(said.split())[:300]}" if said else "."
        if tail[-1] not in ".!?":
            tail += "."  # a sentence: the hint follows it on the same line in `ask`
        return UnexpectedResponse(
            f"The server {host} answered with {page} (HTTP {stream.status}) "
            f"instead of a stream of events{tail}"
        )

    async def _read_body(self, stream: HttpStream) -> bytes:
        """A body that is not the event stream (bounded), reported to the observer too."""
        return await read_observed(stream, self.observer, self.clock)

    def _get_headers(self, last_event_id: str = "") -> dict[str, str]:
        headers = {k: v for k, v in self.http.headers.items() if k.lower() not in _DROP_HEADERS}
        headers["Accept"] = "text/event-stream"
        headers["Cache-Control"] = "no-store"
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        return headers

    # ------------------------------------------------------------ reading

    def _budget(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def _deadline_end(self, url: str) -> TurnOver:
        """The end of a turn whose first-token or idle deadline passed."""
        host = host_of(url)
        if self.got_content:
            seconds = self.settings.idle_timeout
            return TurnOver(
                TurnState.INTERRUPTED,
                IdleTimeout(
                    f"The answer stopped arriving: {host} sent nothing new for {seconds:g} s."
                ),
            )
        seconds = self.settings.first_token_timeout
        return TurnOver(
            TurnState.FAILED,
            FirstTokenTimeout(
                f"The server {host} accepted the request but did not start answering "
                f"within {seconds:g} s."
            ),
        )

    async def read(self, stream: HttpStream) -> list[StreamEvent]:
        """Read one chunk and return its events.

        Sets ``failure`` when the server reported an error in the stream and
        ``dropped`` when the body ended or broke before the terminator.
        """
        if self._away_since is not None:
            # Time the consumer spent with our events is not the server's silence:
            # the watchdogs count only time spent waiting for bytes.
            self.deadline += self.clock() - self._away_since
            self._away_since = None
        try:
            async with asyncio.timeout(self._budget()):
                chunk = await stream.next_chunk()
        except TimeoutError:
            raise self._deadline_end(stream.url) from None
        except Interrupted as exc:
            self.decoder.flush()
            self.dropped = exc
            return self._parser_end()
        except StreamdeskError as exc:
            state = TurnState.INTERRUPTED if self.got_content else TurnState.FAILED
            raise TurnOver(state, exc) from exc
        if not chunk:
            self.decoder.flush()  # an unfinished last block is discarded (spec)
            self.dropped = Interrupted(
                f"The server {host_of(stream.url)} ended the stream before the answer finished."
            )
            return self._parser_end()
        now = self._away_since = self.clock()
        self.observer.on_chunk(chunk, now)
        self.metrics.first_byte(now)
        out: list[StreamEvent] = []
        try:
            for sse in self.decoder.feed(chunk):
                try:
                    content = self.parser.parse(sse)
                except StreamProtocolError as exc:
                    if self.got_content:
                        # Earlier events were read, so the format is right and this
                        # one event was damaged: the format hint would mislead.
                        exc.hint = DAMAGED_EVENT_HINT
                    raise
                if not content and sse.event == "ping":
                    out.append(KeepAlive("ping"))  # Anthropic's keep-alive event
                for event in content:
                    self._absorb(event, now, out)
                    if self.failure is not None:
                        return out
                if self.parser.finished:
                    return out
        except StreamdeskError as exc:  # the decoder's size guard, the parser's protocol errors
            # The events before the bad one are yielded first, then the turn ends.
            self.broken = TurnOver(TurnState.FAILED, exc)
            return out
        out.extend(KeepAlive(c) for c in self.decoder.take_comments())
        return out

    def _parser_end(self) -> list[StreamEvent]:
        """The body ended or broke before the terminator: what the parser still holds. A body
        with nothing of the profile's format in it is that, not a drop. Not while the stream
        can resume: the next connection may bring the other half of a held-back character."""
        out: list[StreamEvent] = []
        if self.can_resume():
            return out
        try:
            for event in self.parser.flush():
                self._absorb(event, self.clock(), out)
        except StreamProtocolError as exc:
            self.dropped = None
            self.broken = TurnOver(TurnState.FAILED, exc)
        return out

    def _absorb(self, event: ContentEvent, now: float, out: list[StreamEvent]) -> None:
        if isinstance(event, ProviderFailed):
            self.failure = event  # held back: before any token it may be retried
            return
        self.metrics.content(event, now)
        if self.answer.add(event):
            if not self.got_content:
                self.got_content = True
                out.append(StateChanged(TurnState.STREAMING))
            self.deadline = now + self.settings.idle_timeout
        out.append(event)

    async def drain(self, stream: HttpStream) -> None:
        """Read what follows the terminator briefly, so the connection can be reused."""
        size = 0
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                while size <= DRAIN_LIMIT:
                    chunk = await stream.next_chunk()
                    if not chunk:
                        return
                    size += len(chunk)
        except (TimeoutError, StreamdeskError):
            pass

    # ------------------------------------------------------------ retry and resume

    def retry_delay(self, failed: AttemptFailed, attempt: int) -> float | None:
        if self.got_content:
            return None
        headers = failed.headers or {}
        return self.policy.delay_for(
            failed.error,
            attempt=attempt,
            rng=self.rng,
            retry_after=parse_retry_after(headers, now=time.time()),
            should_retry=parse_should_retry(headers),
        )

    def can_resume(self) -> bool:
        return (
            self.provider.resumable
            and self.resume_url is not None
            and bool(self.decoder.last_event_id)
            and self.metrics.reconnects < self.settings.max_reconnects
        )

    def reconnect_delay(self, failures: int) -> float:
        retry_ms = self.decoder.retry
        base = self.settings.initial_reconnect_delay if retry_ms is None else retry_ms / 1000
        return min(base * 2.0**failures, max(MAX_RECONNECT_DELAY, base))

    async def resume(self, url: str) -> HttpStream:
        """GET the resume URL with Last-Event-ID; raise ``AttemptFailed`` or ``TurnOver``."""
        self._away_since = None
        self.deadline = self.clock() + (
            self.settings.idle_timeout if self.got_content else self.settings.first_token_timeout
        )
        stream = await self._open("GET", url, self._get_headers(self.decoder.last_event_id), None)
        refused: str | None = None
        if stream.status == 204 or stream.status in (404, 410):
            refused = f"HTTP {stream.status}"
        elif 200 <= stream.status < 300 and not stream.is_event_stream:
            refused = f"HTTP {stream.status}, {stream.content_type or 'no content type'}"
        elif 400 <= stream.status < 500 and stream.status not in (408, 429):
            refused = f"HTTP {stream.status}"
        if refused is not None:
            await stream.aclose()
            raise TurnOver(
                TurnState.INTERRUPTED,
                Interrupted(
                    f"The connection to {host_of(url)} dropped and the server could not "
                    f"resume the answer ({refused})."
                ),
            )
        try:
            await self._check(stream)  # 5xx, 408, 429: worth another try
        except BaseException:
            await stream.aclose()
            raise
        new_url = stream.header_url("content-location") or stream.header_url("location")
        if new_url is not None:
            self.resume_url = new_url
        return stream

    def take_resumed(self) -> HttpStream:
        stream, self.resumed = self.resumed, None
        if stream is None:  # pragma: no cover - _resume either sets it or raises
            raise AssertionError("resume ended without a stream")
        return stream

    # ------------------------------------------------------------ the end

    def ended(self, state: TurnState, error: StreamdeskError | None) -> TurnEnded:
        self.observer.on_end(state)
        return TurnEnded(
            state=state,
            text=self.answer.text,
            metrics=self.metrics.result(self.clock(), state),
            reasoning=self.answer.reasoning,
            error=error,
            tool_calls=self.answer.tool_calls(),
        )

    def provider_error(self, failed: ProviderFailed) -> ProviderError:
        message = " ".join(mask_secret(failed.message, self.secret).split())[:300]
        sentence = "The server reported an error while answering"
        sentence += f": {message}" if message else "."
        if sentence[-1] not in ".!?":
            sentence += "."
        return ProviderError(sentence, kind=failed.kind, code=failed.code)
