"""The typed events a chat turn yields, from the provider parsers and the session.

Provider parsers (``desktop_app.core.providers``) turn decoded SSE events into
the *content* events below; the session (``desktop_app.core.session``) adds the
*lifecycle* events (status changes, retries, reconnects, keep-alives) and ends
every turn with exactly one ``TurnEnded``. Consumers (the CLI, the Qt layer)
iterate them with ``async for`` and never get callbacks.

This module holds plain frozen data only: no I/O, no clock, no behaviour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# ---------------------------------------------------------------- content events


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A fragment of the answer's visible text, to be appended as is."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A fragment of the model's reasoning ("thinking"), shown apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same ``index`` join in order.

    The first fragment of a call carries ``id`` and ``name``; later ones only
    more ``arguments`` text (a JSON document split anywhere).
    """

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the server (cumulative; later ones replace earlier)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The server's terminator arrived (``[DONE]``, ``message_stop``, ``done``/``stop``/``end``).

    ``reason`` is the provider's finish reason when it gave one (``stop``,
    ``length``, ``tool_calls``, ``end_turn``, ``max_tokens`` ...).
    """

    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FinishReason:
    """A finish reason announced before the terminator (OpenAI ``finish_reason``,
    Anthropic ``message_delta.stop_reason``). The stream is not over yet."""

    reason: str


@dataclass(frozen=True, slots=True)
class ProviderFailed:
    """The server reported an error *inside* the stream (an error event or object).

    ``kind`` is the provider's error type when it gave one (``overloaded_error``,
    ``rate_limit_error``, ``server_error`` ...), ``code`` its code or status.
    """

    message: str
    kind: str | None = None
    code: str | None = None


# ---------------------------------------------------------------- lifecycle events


class TurnState(enum.Enum):
    """Where a turn is. The last four are final."""

    CONNECTING = "connecting"
    WAITING = "waiting"  # connected, no token yet
    STREAMING = "streaming"
    RETRYING = "retrying"  # before the first token only
    RECONNECTING = "reconnecting"  # resuming with Last-Event-ID
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES


_FINAL_STATES = frozenset(
    {TurnState.COMPLETE, TurnState.INTERRUPTED, TurnState.FAILED, TurnState.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The turn moved to ``state``; ``detail`` is a short human sentence when useful."""

    state: TurnState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Retrying:
    """A failed attempt before the first token; the next starts after ``delay`` seconds."""

    attempt: int  # the attempt that comes next, 2 for the first retry
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The stream dropped after event ids; resuming at ``url`` with ``last_event_id``."""

    attempt: int
    delay: float
    url: str
    last_event_id: str


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A keep-alive arrived (an SSE comment or a provider ping); it carries no content."""

    comment: str = ""


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """How a turn went. Times are seconds from the start of the turn; ``None`` = never."""

    time_to_first_byte: float | None = None
    time_to_first_token: float | None = None
    total_time: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_counted: bool = False  # True when output_tokens is our own count, not the server's
    attempts: int = 1
    reconnects: int = 0
    outcome: TurnState = TurnState.COMPLETE
    finish_reason: str | None = None

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens per second of generation (after the first token)."""
        if self.output_tokens is None or self.time_to_first_token is None:
            return None
        elapsed = self.total_time - self.time_to_first_token
        if elapsed <= 0 or self.output_tokens < 2:
            return None
        return (self.output_tokens - 1) / elapsed


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The last event of every turn: how it ended, its metrics, the error if any.

    ``text`` is everything received (never thrown away on an error);
    ``error`` is a ``StreamdeskError`` from ``core.errors`` when the turn failed
    or was interrupted.
    """

    state: TurnState
    text: str
    metrics: TurnMetrics
    reasoning: str = ""
    error: BaseException | None = None
    tool_calls: tuple[ToolCall, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A whole tool call, assembled from its deltas."""

    index: int
    id: str | None
    name: str | None
    arguments: str


ContentEvent = (
    TextDelta | ReasoningDelta | ToolCallDelta | Usage | FinishReason | Finished | ProviderFailed
)
LifecycleEvent = StateChanged | Retrying | Reconnecting | KeepAlive | TurnEnded
StreamEvent = ContentEvent | LifecycleEvent
