"""Stream inspections kept beside their answers (schema version 2), reopening an answer
for Continue, and re-titling a conversation when its first message is edited."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState
from desktop_app.core.storage import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryStore,
    MessageNotFound,
    MessageStatus,
    export_json,
    export_markdown,
)
from tests.core.storage_helpers import FakeClock, sample_metrics


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "history.sqlite3", clock=clock) as opened:
        yield opened


def answered(store: HistoryStore, question: str = "Hello there") -> tuple[int, int, int]:
    """A conversation with a question and a finished answer: (conversation, question, answer)."""
    c = store.create_conversation()
    q = store.add_user_message(c.id, question)
    a = store.start_assistant_message(c.id)
    store.finish_message(a.id, status=MessageStatus.COMPLETE, text="Hi!")
    return c.id, q.id, a.id


# ---------------------------------------------------------------- schema version 2


def test_a_version_1_history_is_upgraded_with_its_data_intact(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path, migrations=MIGRATIONS[:1]) as old:  # what version 1 wrote
        cid, _qid, aid = answered(old)
        old.finish_message(
            aid, status=MessageStatus.INTERRUPTED, text="Hi, par", metrics=sample_metrics()
        )
        before = old.messages(cid)
        tables = {r[0] for r in old._conn.execute("SELECT name FROM sqlite_master")}
        assert "message_inspections" not in tables
    with HistoryStore.open(path) as new:
        assert new.warnings == ()
        assert new.messages(cid) == before
        assert new.get_conversation(cid).title == "Hello there"
        assert new.search("par")[0].message_id == aid
        assert new.inspection(aid) is None  # answers from before have none
        assert new.save_inspection(aid, '{"inspection": 1}')
        assert new.inspection(aid) == '{"inspection": 1}'
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_an_inspection_is_replaced_and_goes_with_its_answer(store: HistoryStore) -> None:
    _cid, qid, aid = answered(store)
    assert store.save_inspection(aid, "first")
    assert store.save_inspection(aid, "second")  # Continue: the newer one wins
    assert store.inspection(aid) == "second"
    assert store.inspection(qid) is None
    # Regenerate / edit-and-resend delete the answer: its inspection goes too.
    store.truncate_after(qid)
    assert store.inspection(aid) is None
    assert store._conn.execute("SELECT COUNT(*) FROM message_inspections").fetchone()[0] == 0
    # A message deleted while its inspection was being prepared: nothing is written.
    assert not store.save_inspection(aid, "late")
    assert store.inspection(aid) is None


def test_purging_a_deleted_conversation_removes_its_inspections(
    store: HistoryStore, clock: FakeClock
) -> None:
    cid, _qid, aid = answered(store)
    store.save_inspection(aid, "data")
    store.delete_conversation(cid)
    assert store.inspection(aid) == "data"  # undo is still possible
    clock.advance(1)
    assert store.purge_deleted() == 1
    assert store._conn.execute("SELECT COUNT(*) FROM message_inspections").fetchone()[0] == 0


def test_inspections_are_not_exported(store: HistoryStore) -> None:
    """Exports carry the conversation; the wire traffic stays (Save recording… exports it)."""
    cid, _qid, aid = answered(store)
    store.save_inspection(aid, '{"inspection": 1, "marker": "WIRE-BYTES"}')
    assert "WIRE-BYTES" not in export_json(store, [cid])
    assert "WIRE-BYTES" not in export_markdown(store, [cid])


def test_an_unbounded_inspection_is_refused(store: HistoryStore) -> None:
    _cid, _qid, aid = answered(store)
    with pytest.raises(ValueError, match="bounded"):
        store.save_inspection(aid, "x" * 8_000_001)


# ---------------------------------------------------------------- reopening for Continue


@pytest.mark.parametrize(
    "status", [MessageStatus.CANCELLED, MessageStatus.ERROR, MessageStatus.INTERRUPTED]
)
def test_reopen_sets_a_finished_answer_streaming_and_keeps_its_text(
    store: HistoryStore, status: MessageStatus
) -> None:
    cid, _qid, aid = answered(store)
    store.finish_message(
        aid,
        status=status,
        text="Half an ans",
        reasoning="thinking",
        error_message="The connection was lost.",
        finish_reason="length",
        metrics=sample_metrics(),
    )
    reopened = store.reopen_message(aid)
    assert reopened.status is MessageStatus.STREAMING
    assert (reopened.text, reopened.reasoning) == ("Half an ans", "thinking")
    assert reopened.error_message is None  # the old ending no longer applies
    assert reopened.finish_reason is None
    assert store.checkpoint(aid, "Half an answer, conti", "thinking")
    done = store.finish_turn(
        aid,
        TurnEnded(
            TurnState.COMPLETE,
            "Half an answer, continued.",
            TurnMetrics(outcome=TurnState.COMPLETE),
            reasoning="thinking",
        ),
    )
    assert done.status is MessageStatus.COMPLETE
    assert [m.text for m in store.messages(cid)] == ["Hello there", "Half an answer, continued."]


def test_a_crash_while_continuing_keeps_the_text_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore.open(path) as store:
        _cid, _qid, aid = answered(store)
        store.finish_turn(
            aid,
            TurnEnded(TurnState.CANCELLED, "Stopped he", TurnMetrics(outcome=TurnState.CANCELLED)),
        )
        store.reopen_message(aid)
        store.checkpoint(aid, "Stopped here, then more")
    with HistoryStore.open(path) as after:  # as if the app had been killed
        message = after.get_message(aid)
        assert message.status is MessageStatus.INTERRUPTED
        assert message.text == "Stopped here, then more"
        assert after.recovered == 1


def test_reopen_refuses_a_question_and_a_missing_message(store: HistoryStore) -> None:
    _cid, qid, aid = answered(store)
    with pytest.raises(ValueError, match="answer"):
        store.reopen_message(qid)
    assert store.get_message(qid).status is MessageStatus.COMPLETE
    with pytest.raises(MessageNotFound):
        store.reopen_message(aid + 100)


# ---------------------------------------------------------------- titles follow the first message


def test_editing_the_first_question_renames_an_automatic_title(store: HistoryStore) -> None:
    cid, qid, _aid = answered(store, "What is a rivr?")
    assert store.get_conversation(cid).title == "What is a rivr?"
    store.edit_message(qid, "What is a river?\nPlease be brief.")
    assert store.get_conversation(cid).title == "What is a river?"
    assert store.get_message(qid).text == "What is a river?\nPlease be brief."


def test_a_title_the_user_chose_is_kept(store: HistoryStore) -> None:
    cid, qid, _aid = answered(store, "What is a rivr?")
    store.rename_conversation(cid, "Geography")
    store.edit_message(qid, "What is a river?")
    assert store.get_conversation(cid).title == "Geography"


def test_editing_a_later_message_or_emptying_one_keeps_the_title(store: HistoryStore) -> None:
    cid, qid, aid = answered(store, "First question")
    later = store.add_user_message(cid, "Second question")
    store.edit_message(later.id, "A different second question")
    assert store.get_conversation(cid).title == "First question"
    store.edit_message(aid, "An edited answer")
    assert store.get_conversation(cid).title == "First question"
    store.edit_message(qid, "   ")  # no words to make a title from
    assert store.get_conversation(cid).title == "First question"
    with pytest.raises(MessageNotFound):
        store.edit_message(aid + 100, "x")
