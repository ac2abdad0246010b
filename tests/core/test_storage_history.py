"""The HistoryStore API: conversations, messages, streaming writes, undo of deletes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core import paths
from desktop_app.core.errors import Interrupted
from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState
from desktop_app.core.storage import (
    ConversationNotFound,
    HistoryStore,
    MessageNotFound,
    MessageStatus,
    make_title,
)
from tests.core.storage_helpers import FakeClock, sample_metrics


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.sqlite3", clock=clock) as opened:
        yield opened


def test_default_location_is_the_platform_data_dir() -> None:
    with HistoryStore.open() as store:
        assert store.path == paths.data_dir() / "history.sqlite3"
        assert store.path.exists()
        assert store.warnings == ()
        assert store.persistent


def test_a_turn_is_stored_in_order_with_status_and_metrics(
    store: HistoryStore, clock: FakeClock
) -> None:
    c = store.create_conversation(profile="Local", model="llama")
    assert c.title == ""
    store.add_message(c.id, "system", "Be brief.")
    question = store.add_user_message(c.id, "  \n  How do   rivers form?\nMore text")
    clock.advance(1)
    answer = store.start_assistant_message(c.id, model="llama", profile="Local")
    assert answer.status is MessageStatus.STREAMING
    assert store.checkpoint(answer.id, "Rivers", "hmm")
    clock.advance(1)
    done = store.finish_message(
        answer.id,
        status=MessageStatus.COMPLETE,
        text="Rivers form from rain.",
        finish_reason="stop",
        metrics=sample_metrics(),
    )
    assert done.text == "Rivers form from rain."
    assert done.reasoning == ""
    assert done.metrics == sample_metrics()
    assert done.finish_reason == "stop"
    messages = store.messages(c.id)
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert [m.position for m in messages] == [0, 1, 2]
    assert messages[1] == question
    assert messages[2] == done
    # The first line of the first user message names the conversation.
    conversation = store.get_conversation(c.id)
    assert conversation.title == "How do rivers form?"
    assert conversation.updated_at == clock.now


def test_finish_turn_maps_a_session_ending(store: HistoryStore) -> None:
    c = store.create_conversation()
    answer = store.start_assistant_message(c.id)
    ended = TurnEnded(
        state=TurnState.INTERRUPTED,
        text="partial",
        reasoning="r",
        metrics=TurnMetrics(total_time=1.0, outcome=TurnState.INTERRUPTED),
        error=Interrupted(),
    )
    stored = store.finish_turn(answer.id, ended)
    assert stored.status is MessageStatus.INTERRUPTED
    assert stored.text == "partial"
    assert stored.error_message == str(Interrupted())
    assert stored.metrics == ended.metrics
    assert MessageStatus.from_turn_state(TurnState.FAILED) is MessageStatus.ERROR
    assert MessageStatus.from_turn_state(TurnState.CANCELLED) is MessageStatus.CANCELLED


def test_finish_needs_a_final_status(store: HistoryStore) -> None:
    c = store.create_conversation()
    answer = store.start_assistant_message(c.id)
    with pytest.raises(ValueError, match="final status"):
        store.finish_message(answer.id, status=MessageStatus.STREAMING, text="")


def test_checkpoint_only_touches_a_streaming_answer(store: HistoryStore) -> None:
    c = store.create_conversation()
    answer = store.start_assistant_message(c.id)
    store.finish_message(answer.id, status=MessageStatus.COMPLETE, text="final")
    assert not store.checkpoint(answer.id, "late")
    assert store.get_message(answer.id).text == "final"
    assert not store.checkpoint(12345, "nothing")


def test_conversations_are_listed_by_last_activity(store: HistoryStore, clock: FakeClock) -> None:
    first = store.create_conversation("first")
    clock.advance(1)
    second = store.create_conversation("second")
    clock.advance(1)
    assert [c.title for c in store.list_conversations()] == ["second", "first"]
    store.add_user_message(first.id, "bump")
    assert [c.id for c in store.list_conversations()] == [first.id, second.id]
    assert store.latest_conversation() == store.get_conversation(first.id)
    assert len(store.list_conversations(limit=1)) == 1
    store.rename_conversation(second.id, "renamed")
    store.set_pinned(second.id, True)
    renamed = store.get_conversation(second.id)
    assert (renamed.title, renamed.pinned) == ("renamed", True)


def test_delete_can_be_undone_until_purged(
    tmp_path: Path, store: HistoryStore, clock: FakeClock
) -> None:
    c = store.create_conversation("to delete")
    store.add_user_message(c.id, "remember the milk")
    store.delete_conversation(c.id)
    assert store.list_conversations() == []
    assert store.search("milk") == []
    with pytest.raises(ConversationNotFound):
        store.get_conversation(c.id)
    store.restore_conversation(c.id)
    assert [x.id for x in store.list_conversations()] == [c.id]
    assert store.search("milk")

    store.delete_conversation(c.id)
    store.close()
    # Reopened soon: still restorable. Reopened later: purged for good.
    clock.advance(60)
    with HistoryStore.open(tmp_path / "history.sqlite3", clock=clock) as again:
        again.restore_conversation(c.id)
        again.delete_conversation(c.id)
    clock.advance(3600)
    with HistoryStore.open(tmp_path / "history.sqlite3", clock=clock) as later:
        with pytest.raises(ConversationNotFound, match="removed for good"):
            later.restore_conversation(c.id)
        assert later.messages(c.id) == []


def test_purge_deleted_now(store: HistoryStore) -> None:
    keep = store.create_conversation("keep")
    gone = store.create_conversation("gone")
    store.add_user_message(gone.id, "bye")
    store.delete_conversation(gone.id)
    assert store.purge_deleted() == 1
    assert [c.id for c in store.list_conversations()] == [keep.id]


def test_truncate_for_regenerate_and_edit(store: HistoryStore) -> None:
    c = store.create_conversation()
    q1 = store.add_user_message(c.id, "one")
    a1 = store.add_message(c.id, "assistant", "answer one")
    q2 = store.add_user_message(c.id, "two")
    store.add_message(c.id, "assistant", "answer two")
    # Regenerate the last answer.
    assert store.truncate_after(q2.id) == 1
    assert [m.text for m in store.messages(c.id)] == ["one", "answer one", "two"]
    # Edit the first question and resend.
    store.edit_message(q1.id, "one, edited")
    assert store.truncate_after(q1.id) == 2
    assert [m.text for m in store.messages(c.id)] == ["one, edited"]
    store.add_message(c.id, "assistant", "new answer")
    assert [m.position for m in store.messages(c.id)] == [0, 1]
    assert store.truncate_after(q1.id, inclusive=True) == 2
    with pytest.raises(MessageNotFound):
        store.truncate_after(a1.id)
    with pytest.raises(MessageNotFound):
        store.edit_message(a1.id, "x")


def test_unknown_ids_give_sentences(store: HistoryStore) -> None:
    with pytest.raises(ConversationNotFound, match="no conversation 99"):
        store.add_user_message(99, "hello")
    with pytest.raises(ConversationNotFound):
        store.rename_conversation(99, "x")
    with pytest.raises(MessageNotFound):
        store.get_message(99)
    with pytest.raises(MessageNotFound):
        store.finish_message(99, status=MessageStatus.COMPLETE, text="")


def test_ten_thousand_messages_load_in_one_query(store: HistoryStore) -> None:
    c = store.create_conversation()
    store._conn.execute("BEGIN")
    store._conn.executemany(  # bulk setup; the API path is covered above
        "INSERT INTO messages (conversation_id, position, role, text, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 0, 0)",
        [(c.id, i, "user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(10_000)],
    )
    store._conn.execute("COMMIT")
    traced: list[str] = []
    store._conn.set_trace_callback(traced.append)
    messages = store.messages(c.id)
    store._conn.set_trace_callback(None)
    assert len(messages) == 10_000
    assert [m.position for m in messages] == list(range(10_000))
    assert len(traced) == 1


def test_make_title() -> None:
    assert make_title("\n\n  Hello   world \nsecond") == "Hello world"
    assert make_title("   ") == ""
    long = make_title("x" * 100)
    assert len(long) == 60
    assert long.endswith("…")


def test_in_memory_store_is_not_persistent() -> None:
    with HistoryStore.in_memory() as store:
        assert not store.persistent
        c = store.create_conversation("t")
        assert store.get_conversation(c.id).title == "t"
