"""The typed records the history store hands out: conversations, messages, search hits.

Owns: ``Conversation``, ``StoredMessage``, ``MessageStatus``, ``SearchHit``,
``ImportReport``, and the JSON form of a turn's metrics (shared by the
database column and the JSON export, so both read the same way).

Must not: touch SQLite or files. Timestamps are Unix seconds (UTC) as floats.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from desktop_app.core.events import TurnMetrics, TurnState

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


class MessageStatus(enum.Enum):
    """How a stored message ended. Only an assistant answer is ever not COMPLETE."""

    COMPLETE = "complete"
    STREAMING = "streaming"  # being written right now (or the app died: see INTERRUPTED)
    INTERRUPTED = "interrupted"  # cut off: a dropped stream, or Streamdesk was killed
    ERROR = "error"
    CANCELLED = "cancelled"

    @classmethod
    def from_turn_state(cls, state: TurnState) -> MessageStatus:
        """The status to store for a finished turn."""
        return _FROM_TURN_STATE.get(state, cls.INTERRUPTED)


_FROM_TURN_STATE = {
    TurnState.COMPLETE: MessageStatus.COMPLETE,
    TurnState.INTERRUPTED: MessageStatus.INTERRUPTED,
    TurnState.FAILED: MessageStatus.ERROR,
    TurnState.CANCELLED: MessageStatus.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's header. ``uid`` is global (kept by export/import); ``id`` is local."""

    id: int
    uid: str
    title: str
    created_at: float
    updated_at: float
    profile: str | None = None
    model: str | None = None
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as saved. ``position`` orders a conversation's messages from 0."""

    id: int
    conversation_id: int
    position: int
    role: Role
    text: str
    created_at: float
    updated_at: float
    reasoning: str = ""
    status: MessageStatus = MessageStatus.COMPLETE
    error_message: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    profile: str | None = None
    metrics: TurnMetrics | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search result. ``message_id`` is None when the conversation's title matched.

    ``snippet`` is plain text around the match; ``spans`` are the (start, end)
    offsets of the matched words inside it, for highlighting.
    """

    conversation_id: int
    title: str
    message_id: int | None
    snippet: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did. Conversations already present (same ``uid``) are skipped."""

    imported: int
    skipped: int
    messages: int


# ---------------------------------------------------------------- metrics as JSON


def metrics_to_dict(metrics: TurnMetrics) -> dict[str, object]:
    """The JSON form of a turn's metrics (``tokens_per_second`` is informative only)."""
    return {
        "time_to_first_byte": metrics.time_to_first_byte,
        "time_to_first_token": metrics.time_to_first_token,
        "total_time": metrics.total_time,
        "input_tokens": metrics.input_tokens,
        "output_tokens": metrics.output_tokens,
        "tokens_counted": metrics.tokens_counted,
        "tokens_per_second": metrics.tokens_per_second,
        "attempts": metrics.attempts,
        "reconnects": metrics.reconnects,
        "outcome": metrics.outcome.value,
        "finish_reason": metrics.finish_reason,
    }


def metrics_from_dict(data: Mapping[str, object]) -> TurnMetrics:
    """Rebuild metrics from their JSON form; unknown keys and wrong types are ignored."""
    outcome = TurnState.COMPLETE
    raw_outcome = data.get("outcome")
    if isinstance(raw_outcome, str):
        try:
            outcome = TurnState(raw_outcome)
        except ValueError:
            outcome = TurnState.COMPLETE
    reason = data.get("finish_reason")
    return TurnMetrics(
        time_to_first_byte=_float_or_none(data.get("time_to_first_byte")),
        time_to_first_token=_float_or_none(data.get("time_to_first_token")),
        total_time=_float_or_none(data.get("total_time")) or 0.0,
        input_tokens=_int_or_none(data.get("input_tokens")),
        output_tokens=_int_or_none(data.get("output_tokens")),
        tokens_counted=data.get("tokens_counted") is True,
        attempts=_int_or_none(data.get("attempts")) or 1,
        reconnects=_int_or_none(data.get("reconnects")) or 0,
        outcome=outcome,
        finish_reason=reason if isinstance(reason, str) else None,
    )


def metrics_to_json(metrics: TurnMetrics | None) -> str | None:
    if metrics is None:
        return None
    return json.dumps(metrics_to_dict(metrics), separators=(",", ":"))


def metrics_from_json(text: str | None) -> TurnMetrics | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None  # a damaged metrics cell must not hide the message itself
    return metrics_from_dict(data) if isinstance(data, dict) else None


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
