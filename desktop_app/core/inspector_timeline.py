"""The timeline of one stream, for the inspector's chart and figures (sans-IO).

``TimelineBuilder`` is told when things happened (seconds since the first
request): requests, body bytes, SSE frames (a token, a keep-alive or
neither), reconnects, the end. ``Timeline`` is the result: time to first
byte and to first token, every token's arrival and the gap before it,
stalls (no token for longer than the threshold, after the first token,
including a silence before the end), keep-alives, reconnects with their
``Last-Event-ID``, and how the stream ended.

Must not: read a clock or know about frames' contents.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from desktop_app.core.events import TurnState

MAX_POINTS = 100_000  # token times kept for the chart; beyond, counted only


@dataclass(frozen=True, slots=True)
class Stall:
    """No token from ``start`` for ``length`` seconds."""

    start: float
    length: float
    keepalives: int = 0  # keep-alives that arrived meanwhile (the server was alive)
    at_end: bool = False  # the silence the stream ended in


@dataclass(frozen=True, slots=True)
class Timeline:
    requests: tuple[float, ...] = ()
    first_byte: float | None = None
    first_token: float | None = None
    end: float | None = None
    tokens: tuple[float, ...] = ()  # arrival of each token (a frame carrying content)
    gaps: tuple[float, ...] = ()  # gaps[i]: seconds between tokens[i] and tokens[i + 1]
    tokens_not_kept: int = 0
    stalls: tuple[Stall, ...] = ()
    keepalives: tuple[float, ...] = ()
    reconnects: tuple[tuple[float, str], ...] = ()  # (time, Last-Event-ID)
    end_state: TurnState | None = None
    end_reason: str | None = None
    threshold: float = 2.0

    @property
    def token_count(self) -> int:
        return len(self.tokens) + self.tokens_not_kept

    @property
    def max_gap(self) -> float | None:
        return max(self.gaps) if self.gaps else None

    @property
    def median_gap(self) -> float | None:
        return statistics.median(self.gaps) if self.gaps else None

    @property
    def last_event(self) -> float:
        """The latest time anything happened (the chart's right edge)."""
        times = [
            *self.requests[-1:],
            *self.tokens[-1:],
            *self.keepalives[-1:],
            *(t for t, _ in self.reconnects[-1:]),
        ]
        if self.first_byte is not None:
            times.append(self.first_byte)
        if self.end is not None:
            times.append(self.end)
        return max(times, default=0.0)

    def ending(self) -> str:
        """How the stream ended, in words (empty while it runs)."""
        state = self.end_state
        reason = f": {self.end_reason}" if self.end_reason else ""
        if state is None:
            return ""
        if state is TurnState.COMPLETE:
            return "Complete: the server sent its end-of-stream terminator."
        if state is TurnState.CANCELLED:
            return "Stopped by the user."
        if state is TurnState.INTERRUPTED:
            return "Interrupted" + (reason or ": the stream ended before its terminator.")
        return "Failed" + (reason or ".")


class TimelineBuilder:
    def __init__(self, threshold: float = 2.0) -> None:
        self.threshold = threshold
        self._requests: list[float] = []
        self._first_byte: float | None = None
        self._tokens: list[float] = []
        self._gaps: list[float] = []
        self._not_kept = 0
        self._last_token: float | None = None
        self._stalls: list[Stall] = []
        self._keepalives: list[float] = []
        self._keepalives_since_token = 0
        self._reconnects: list[tuple[float, str]] = []
        self._end: float | None = None

    def request(self, t: float) -> None:
        self._requests.append(t)

    def byte(self, t: float) -> None:
        if self._first_byte is None:
            self._first_byte = t

    def frame(self, t: float, *, content: bool, keepalive: bool) -> None:
        if keepalive:
            if len(self._keepalives) < MAX_POINTS:
                self._keepalives.append(t)
            self._keepalives_since_token += 1
        if not content:
            return
        last = self._last_token
        if last is not None:
            gap = t - last
            if gap > self.threshold:
                self._stalls.append(Stall(last, gap, self._keepalives_since_token))
        if len(self._tokens) < MAX_POINTS:
            if last is not None:
                self._gaps.append(t - last)
            self._tokens.append(t)
        else:
            self._not_kept += 1
        self._last_token = t
        self._keepalives_since_token = 0

    def reconnect(self, t: float, last_event_id: str) -> None:
        self._reconnects.append((t, last_event_id))

    def end(self, t: float) -> None:
        self._end = t

    def result(self, state: TurnState | None = None, reason: str | None = None) -> Timeline:
        stalls = list(self._stalls)
        last, end = self._last_token, self._end
        if last is not None and end is not None and end - last > self.threshold:
            stalls.append(Stall(last, end - last, self._keepalives_since_token, at_end=True))
        return Timeline(
            requests=tuple(self._requests),
            first_byte=self._first_byte,
            first_token=self._tokens[0] if self._tokens else None,
            end=end,
            tokens=tuple(self._tokens),
            gaps=tuple(self._gaps),
            tokens_not_kept=self._not_kept,
            stalls=tuple(stalls),
            keepalives=tuple(self._keepalives),
            reconnects=tuple(self._reconnects),
            end_state=state,
            end_reason=reason,
            threshold=self.threshold,
        )
