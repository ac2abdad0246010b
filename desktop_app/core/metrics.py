"""Collects one turn's metrics from timestamps the session hands in (sans-IO).

It owns the arithmetic: time to first byte and first token, total time, the
token count (the server's usage when it reported one, else our own count of
content deltas), attempts, reconnects and how the turn ended. It reads no
clock and does no I/O; every method takes the time it happened at.
"""

from __future__ import annotations

from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    TurnMetrics,
    TurnState,
    Usage,
)


class MetricsAccumulator:
    """Feed it what happened during a turn; ``result()`` gives the ``TurnMetrics``."""

    def __init__(self, started_at: float) -> None:
        self._start = started_at
        self._first_byte: float | None = None
        self._first_token: float | None = None
        self._input_tokens: int | None = None
        self._server_output_tokens: int | None = None
        self._counted_tokens = 0
        self._counted_at_usage = 0  # our count when the server last reported usage
        self._finish_reason: str | None = None
        self.attempts = 1
        self.reconnects = 0

    @property
    def has_first_token(self) -> bool:
        return self._first_token is not None

    def first_byte(self, at: float) -> None:
        """A body byte of an event stream arrived (only the first call counts)."""
        if self._first_byte is None:
            self._first_byte = at - self._start

    def content(self, event: ContentEvent, at: float) -> None:
        """A content event came out of the provider parser."""
        if isinstance(event, TextDelta | ReasoningDelta):
            if not event.text:
                return
            # One delta is roughly one token for every server we know; good
            # enough for tokens/s when the server reports no usage.
            self._counted_tokens += 1
            if self._first_token is None:
                self._first_token = at - self._start
        elif isinstance(event, Usage):
            # Usage is cumulative; a later event may leave a field out.
            if event.input_tokens is not None:
                self._input_tokens = event.input_tokens
            if event.output_tokens is not None:
                self._server_output_tokens = event.output_tokens
                self._counted_at_usage = self._counted_tokens
        elif isinstance(event, FinishReason | Finished):
            if event.reason is not None:
                self._finish_reason = event.reason
        elif isinstance(event, ToolCallDelta) and self._first_token is None:
            # A tool call is the answer too: its first fragment is the first token.
            self._first_token = at - self._start

    def result(self, ended_at: float, outcome: TurnState) -> TurnMetrics:
        output, counted = self._output_tokens()
        return TurnMetrics(
            time_to_first_byte=self._first_byte,
            time_to_first_token=self._first_token,
            total_time=max(0.0, ended_at - self._start),
            input_tokens=self._input_tokens,
            output_tokens=output,
            tokens_counted=counted,
            attempts=self.attempts,
            reconnects=self.reconnects,
            outcome=outcome,
            finish_reason=self._finish_reason,
        )

    def _output_tokens(self) -> tuple[int | None, bool]:
        server = self._server_output_tokens
        # The server's figure wins when it came after the last delta (OpenAI's
        # final usage chunk, Anthropic's message_delta). Anthropic's
        # message_start carries a placeholder (1) before any text: when the
        # stream breaks before the final usage, our own count is truer.
        if server is not None and (
            self._counted_at_usage == self._counted_tokens or server >= self._counted_tokens
        ):
            return server, False
        if self._counted_tokens == 0:
            return server, False
        return self._counted_tokens, True
