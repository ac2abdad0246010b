"""The metrics accumulator: times from injected timestamps, and which token count wins."""

from __future__ import annotations

import pytest

from desktop_app.core.events import (
    Finished,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    TurnState,
    Usage,
)
from desktop_app.core.metrics import MetricsAccumulator


def test_times_are_relative_to_the_start() -> None:
    acc = MetricsAccumulator(100.0)
    acc.first_byte(100.2)
    acc.first_byte(100.9)  # only the first counts
    acc.content(TextDelta(""), 100.3)  # an empty delta is no token
    acc.content(TextDelta("a"), 100.5)
    acc.content(TextDelta("b"), 101.5)
    acc.content(TextDelta("c"), 102.5)
    m = acc.result(102.5, TurnState.COMPLETE)
    assert m.time_to_first_byte == pytest.approx(0.2)
    assert m.time_to_first_token == pytest.approx(0.5)
    assert m.total_time == pytest.approx(2.5)
    assert (m.output_tokens, m.tokens_counted) == (3, True)
    assert m.tokens_per_second == pytest.approx(1.0)
    assert m.outcome is TurnState.COMPLETE


def test_server_usage_wins_when_it_comes_last() -> None:
    acc = MetricsAccumulator(0.0)
    for t in ("a", "b", "c"):
        acc.content(TextDelta(t), 1.0)
    acc.content(Usage(input_tokens=9, output_tokens=2), 2.0)  # fewer than our count: still wins
    m = acc.result(2.0, TurnState.COMPLETE)
    assert (m.input_tokens, m.output_tokens, m.tokens_counted) == (9, 2, False)


def test_placeholder_usage_before_the_text_loses_to_our_count() -> None:
    # Anthropic's message_start says output_tokens=1; the stream then breaks.
    acc = MetricsAccumulator(0.0)
    acc.content(Usage(input_tokens=21, output_tokens=1), 0.1)
    for t in ("a", "b", "c", "d"):
        acc.content(ReasoningDelta(t), 1.0)
    acc.content(Usage(output_tokens=None), 1.1)  # a field left out keeps the old value
    m = acc.result(2.0, TurnState.INTERRUPTED)
    assert (m.input_tokens, m.output_tokens, m.tokens_counted) == (21, 4, True)


def test_finish_reason_and_tool_call_first_token() -> None:
    acc = MetricsAccumulator(0.0)
    acc.content(ToolCallDelta(index=0, id="c1", name="f"), 0.4)
    acc.content(FinishReason("tool_calls"), 0.5)
    acc.content(Finished(), 0.6)  # no reason: keeps the announced one
    m = acc.result(1.0, TurnState.COMPLETE)
    assert m.time_to_first_token == pytest.approx(0.4)
    assert m.finish_reason == "tool_calls"
    assert m.output_tokens is None
    assert m.tokens_per_second is None


def test_attempts_and_reconnects_are_reported() -> None:
    acc = MetricsAccumulator(0.0)
    acc.attempts = 3
    acc.reconnects = 2
    m = acc.result(-1.0, TurnState.FAILED)  # a clock that went back gives 0, not negative
    assert (m.attempts, m.reconnects, m.total_time, m.time_to_first_byte) == (3, 2, 0.0, None)
