"""Nothing lost on a crash: the checkpoint policy, recovery on open, and a real SIGKILL mid-stream."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.core.storage import Checkpointer, HistoryStore, MessageStatus
from desktop_app.core.storage.history import INTERRUPTED_BY_EXIT
from tests.core.storage_helpers import FakeClock, integrity


def test_checkpointer_writes_at_most_once_per_interval_while_text_changes() -> None:
    clock = FakeClock(100.0)
    policy = Checkpointer(clock, interval=1.0)
    assert not policy.pending
    assert policy.deadline() is None
    assert not policy.due()
    clock.advance(0.2)
    assert not policy.changed()  # the row was written at start, 0.2 s ago
    assert policy.pending
    assert policy.deadline() == pytest.approx(101.0)
    clock.advance(0.5)
    assert not policy.changed()
    clock.advance(0.3)
    assert policy.due()  # a timer's check writes it even if no delta comes
    policy.written()
    assert not policy.pending
    assert not policy.due()
    clock.advance(5)
    assert not policy.due()  # nothing new: nothing to write
    assert policy.changed()  # a first change after a long pause is written at once
    policy.written()
    assert policy.writes == 2


def test_checkpointer_over_a_simulated_stream() -> None:
    """Deltas every 30 ms for 10 s: about one write per second, never two within one."""
    clock = FakeClock(0.0)
    policy = Checkpointer(clock, interval=1.0)
    writes: list[float] = []
    for _ in range(333):
        clock.advance(0.03)
        if policy.changed():
            policy.written()
            writes.append(clock.now)
    assert 9 <= len(writes) <= 10
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(writes))
    with pytest.raises(ValueError, match="positive"):
        Checkpointer(clock, interval=0)


def test_answers_left_streaming_are_interrupted_on_open(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        c = store.create_conversation()
        store.add_user_message(c.id, "question")
        answer = store.start_assistant_message(c.id)
        store.checkpoint(answer.id, "half an ans", "some reasoning")
        done = store.start_assistant_message(c.id)
        store.finish_message(done.id, status=MessageStatus.COMPLETE, text="fine")
        # The app "crashes" here: nobody finishes the first answer.
    with HistoryStore.open(path) as store:
        assert store.recovered == 1
        recovered = store.get_message(answer.id)
        assert recovered.status is MessageStatus.INTERRUPTED
        assert recovered.text == "half an ans"
        assert recovered.reasoning == "some reasoning"
        assert recovered.error_message == INTERRUPTED_BY_EXIT
        assert store.get_message(done.id).status is MessageStatus.COMPLETE
    with HistoryStore.open(path) as store:
        assert store.recovered == 0


def test_a_second_process_opening_does_not_lose_a_live_stream(tmp_path: Path) -> None:
    """`streamdesk ask` opening the history while the GUI streams marks the GUI's
    answer interrupted; the GUI's next checkpoint takes it back."""
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as gui:
        c = gui.create_conversation()
        answer = gui.start_assistant_message(c.id)
        gui.checkpoint(answer.id, "streaming")
        with HistoryStore.open(path) as cli:
            assert cli.get_message(answer.id).status is MessageStatus.INTERRUPTED
        assert gui.checkpoint(answer.id, "streaming on")
        assert gui.get_message(answer.id).status is MessageStatus.STREAMING
        gui.finish_message(answer.id, status=MessageStatus.COMPLETE, text="streaming on, done")
        assert gui.get_message(answer.id).status is MessageStatus.COMPLETE


_WRITER = textwrap.dedent(
    """
    import sys, time
    from desktop_app.core.storage import Checkpointer, HistoryStore

    store = HistoryStore.open(sys.argv[1])
    c = store.create_conversation("killed")
    store.add_user_message(c.id, "tell me a long story")
    answer = store.start_assistant_message(c.id, model="stub")
    policy = Checkpointer(time.monotonic, interval=0.02)
    text = ""
    i = 0
    while True:  # an endless stream: the parent kills us
        text += f"token{i} "
        i += 1
        if policy.changed():
            store.checkpoint(answer.id, text, "")
            policy.written()
            print(len(text), flush=True)
        time.sleep(0.001)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_stream_keeps_the_partial_answer(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert child.stdout is not None
        saved = [int(child.stdout.readline()) for _ in range(5)]
    finally:
        child.kill()  # SIGKILL: no cleanup, no atexit, the WAL left as it is
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -9
    assert saved == sorted(saved)

    with HistoryStore.open(path) as store:
        assert store.warnings == ()
        assert store.recovered == 1
        [conversation] = store.list_conversations()
        question, answer = store.messages(conversation.id)
        assert question.text == "tell me a long story"
        assert answer.status is MessageStatus.INTERRUPTED
        # At least what the child reported saved, and only whole checkpoints of the stream.
        assert len(answer.text) >= saved[-1]
        expected = "".join(f"token{i} " for i in range(len(answer.text)))
        assert expected.startswith(answer.text)
    assert integrity(path) == [("ok",)]


def test_a_second_connection_without_maintenance_leaves_streams_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as gui:
        c = gui.create_conversation()
        answer = gui.start_assistant_message(c.id)
        with HistoryStore.open(path, maintenance=False) as export_thread:
            assert export_thread.recovered == 0
            assert export_thread.get_message(answer.id).status is MessageStatus.STREAMING
