"""Shared helpers for the history storage tests (not a test module)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from desktop_app.core.events import TurnMetrics, TurnState
from desktop_app.core.storage import HistoryStore, MessageStatus


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def integrity(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def sample_metrics() -> TurnMetrics:
    return TurnMetrics(
        time_to_first_byte=0.05,
        time_to_first_token=0.125,
        total_time=2.5,
        input_tokens=12,
        output_tokens=40,
        attempts=2,
        reconnects=1,
        outcome=TurnState.COMPLETE,
        finish_reason="stop",
    )


def fill(store: HistoryStore, conversations: int = 3) -> None:
    """Conversations with every kind of message: complete, interrupted, error, reasoning, metrics."""
    for n in range(conversations):
        c = store.create_conversation(profile="Local", model="llama")
        store.add_message(c.id, "system", "Be brief.")
        store.add_user_message(c.id, f"Question number {n}: how do rivers form?")
        answer = store.start_assistant_message(c.id, model="llama", profile="Local")
        store.checkpoint(answer.id, "Rivers form when", "thinking about water")
        status = [MessageStatus.COMPLETE, MessageStatus.INTERRUPTED, MessageStatus.ERROR][n % 3]
        store.finish_message(
            answer.id,
            status=status,
            text=f"Rivers form when rain gathers ({n}).",
            reasoning="thinking about water",
            error_message=None if status is MessageStatus.COMPLETE else "The stream dropped.",
            finish_reason="stop" if status is MessageStatus.COMPLETE else None,
            metrics=sample_metrics(),
        )
