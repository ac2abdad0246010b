"""How a finished answer reads: its status word and its metrics line.

``metrics_line`` turns a turn's ``TurnMetrics`` into the line under an
answer ("First token 0.21 s · 48 tokens/s · 312 tokens · 6.5 s total ·
complete"); ``StreamOutcome`` bundles a finished turn with the words the
view shows (the error's sentence and hint come from ``qt.errors``).

Plain functions over core data; no Qt, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """How the answer ended, in words for the view (``ended.text`` is the whole answer)."""

    ended: TurnEnded
    error_sentence: str
    error_hint: str
    metrics_line: str

    @property
    def status(self) -> str:
        return message_status(self.ended.state)


def message_status(state: TurnState) -> str:
    """The history/view status of a message for a final turn state."""
    return {
        TurnState.COMPLETE: "complete",
        TurnState.INTERRUPTED: "interrupted",
        TurnState.FAILED: "error",
        TurnState.CANCELLED: "cancelled",
    }.get(state, "streaming")


def metrics_line(metrics: TurnMetrics) -> str:
    """“First token 0.21 s · 48 tokens/s · 312 tokens · complete”."""
    parts: list[str] = []
    if metrics.time_to_first_token is not None:
        parts.append(f"first token {_secs(metrics.time_to_first_token)}")
    rate = metrics.tokens_per_second
    if rate is not None:
        parts.append(f"{rate:.0f} tokens/s" if rate >= 10 else f"{rate:.1f} tokens/s")
    if metrics.output_tokens is not None:
        approx = "~" if metrics.tokens_counted else ""
        unit = "token" if metrics.output_tokens == 1 else "tokens"
        parts.append(f"{approx}{metrics.output_tokens} {unit}")
    parts.append(f"{_secs(metrics.total_time)} total")
    parts.append(ending_words(metrics.outcome, metrics.finish_reason))
    if metrics.attempts > 1:
        parts.append(f"{metrics.attempts} attempts")
    if metrics.reconnects:
        parts.append(f"{metrics.reconnects} reconnects")
    line = " · ".join(parts)
    return line[:1].upper() + line[1:]


def ending_words(state: TurnState, finish_reason: str | None = None) -> str:
    if state is TurnState.COMPLETE:
        if finish_reason in ("length", "max_tokens"):
            return "stopped at the token limit"
        if finish_reason in ("tool_calls", "tool_use"):
            return "asked to use a tool"
        if finish_reason in ("content_filter", "refusal"):
            return "stopped by the server's content filter"
        return "complete"
    return {
        TurnState.INTERRUPTED: "interrupted",
        TurnState.FAILED: "failed",
        TurnState.CANCELLED: "stopped by you",
    }.get(state, state.value)


def _secs(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.0f} s"
