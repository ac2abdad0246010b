"""The fault matrix, core column: ``stream_turn`` over loopback, saved the way the apps save.

For every row, the turn runs through the real transport against the row's
fault, with the matrix's short watchdogs, and its answer is saved into a
``HistoryStore`` exactly as the window and ``streamdesk ask`` save one
(``start_assistant_message``, checkpoints, ``finish_turn``). Retry and
reconnect waits go through an injected sleep (no jitter), so the row can
state them exactly and the test does not sit through them.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from desktop_app.core.events import TextDelta, TurnEnded
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.storage import Checkpointer, HistoryStore, StoredMessage
from desktop_app.core.transport import StreamingClient
from tests.faults.matrix import MATRIX
from tests.faults.matrix_model import Core, Recovery, Saved
from tests.faults.observe import text_kind
from tests.faults.servers import no_dns
from tests.faults.sources import FIRST_TOKEN_TIMEOUT, IDLE_TIMEOUT, Target, open_fault
from tests.faults.stub import FaultStub

pytestmark = pytest.mark.asyncio

SETTINGS = TurnSettings(
    connect_timeout=FIRST_TOKEN_TIMEOUT,
    first_token_timeout=FIRST_TOKEN_TIMEOUT,
    idle_timeout=IDLE_TIMEOUT,
)


async def run_turn(
    target: Target, history: HistoryStore
) -> tuple[TurnEnded, str, list[float], StoredMessage]:
    """One turn saved into ``history``: its end, the text yielded, the waits, the saved answer."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))

    conversation = history.create_conversation(model=target.model)
    history.add_user_message(conversation.id, target.prompt)
    answer = history.start_assistant_message(conversation.id, model=target.model)
    request = ChatRequest(messages=(ChatMessage("user", target.prompt),), model=target.model)
    yielded: list[str] = []
    checkpointer = Checkpointer(time.monotonic)
    end: TurnEnded | None = None
    dns = no_dns() if target.needs_no_dns else contextlib.nullcontext()
    with dns:
        async with StreamingClient(NetworkSettings(trust_env=False), trust_env=False) as client:
            turn = stream_turn(
                client,
                get_provider(target.provider),
                request,
                Endpoint(target.base_url),
                SETTINGS,
                sleep=sleep,
                rng=lambda: 0.0,
            )
            async with contextlib.aclosing(turn):
                async for event in turn:
                    if isinstance(event, TextDelta):
                        yielded.append(event.text)
                        if checkpointer.changed():  # at most once a second, as the apps do
                            history.checkpoint(answer.id, "".join(yielded))
                            checkpointer.written()
                    elif isinstance(event, TurnEnded):
                        end = event
                        history.finish_turn(answer.id, event)
    assert end is not None, "a turn always ends with TurnEnded"
    return end, "".join(yielded), waits, history.get_message(answer.id)


@pytest.mark.parametrize("key", list(MATRIX))
async def test_core_row(key: str, stub: FaultStub) -> None:
    row = MATRIX[key]
    history = HistoryStore.in_memory()
    try:
        async with open_fault(key, stub) as target:
            end, yielded, waits, stored = await run_turn(target, history)
    finally:
        history.close()

    # Nothing received is lost: the end keeps every delta, and so does the history.
    assert end.text == yielded
    assert stored.text == end.text
    kind = text_kind(end.text, target.full, target.partial)
    assert Core(end.state.value, type(end.error).__name__ if end.error else "", kind) == row.core
    assert Saved(stored.status.value, kind, stored.error_message is not None) == row.saved
    if end.error is not None:
        assert stored.error_message == str(end.error)
    metrics = end.metrics
    assert Recovery(metrics.attempts, metrics.reconnects, tuple(waits)) == row.recovery
