"""Export to Markdown and JSON, import JSON back: a round trip gives the same history."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from desktop_app.core.storage import (
    ConversationNotFound,
    HistoryStore,
    InvalidExport,
    MessageStatus,
    StoredMessage,
    export_data,
    export_json,
    export_markdown,
    import_json,
)
from tests.core.storage_helpers import FakeClock, fill


def _portable(store: HistoryStore) -> list[tuple[object, list[StoredMessage]]]:
    """Every conversation and message with the local ids blanked (ids are per database)."""
    result: list[tuple[object, list[StoredMessage]]] = []
    for c in store.list_conversations():
        messages = [dataclasses.replace(m, id=0, conversation_id=0) for m in store.messages(c.id)]
        result.append((dataclasses.replace(c, id=0), messages))
    return result


def test_json_round_trip_gives_the_same_history(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "a.sqlite3") as source:
        fill(source, 4)
        c = source.list_conversations()[0]
        source.set_pinned(c.id, True)
        source.rename_conversation(c.id, "Renamed “quotes” & ünïcode 🙂")
        exported = export_json(source)
        original = _portable(source)

    with HistoryStore.open(tmp_path / "b.sqlite3") as target:
        report = import_json(target, exported)
        assert (report.imported, report.skipped, report.messages) == (4, 0, 12)
        assert _portable(target) == original
        assert export_json(target) == exported
        statuses = {m.status for _, ms in _portable(target) for m in ms}
        assert statuses == {
            MessageStatus.COMPLETE,
            MessageStatus.INTERRUPTED,
            MessageStatus.ERROR,
        }
        assert all(
            m.metrics is not None
            for _, ms in _portable(target)
            for m in ms
            if m.role == "assistant"
        )


def test_import_never_clobbers_and_skips_what_is_already_there(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "a.sqlite3") as source:
        fill(source, 2)
        exported = export_json(source)
    with HistoryStore.open(tmp_path / "b.sqlite3") as target:
        mine = target.create_conversation("mine")
        target.add_user_message(mine.id, "my own words")
        first = import_json(target, exported)
        again = import_json(target, exported)
        assert (first.imported, first.skipped) == (2, 0)
        assert (again.imported, again.skipped, again.messages) == (0, 2, 0)
        conversations = target.list_conversations()
        assert len(conversations) == 3
        assert len({c.id for c in conversations}) == 3  # new local ids
        assert [m.text for m in target.messages(mine.id)] == ["my own words"]


def test_one_conversation_and_json_shape() -> None:
    with HistoryStore.in_memory() as store:
        fill(store, 2)
        wanted = store.list_conversations()[1]
        data = export_data(store, [wanted.id])
        assert data["format"] == "streamdesk-history"
        assert data["version"] == 1
        [conversation] = data["conversations"]  # type: ignore[misc]
        assert conversation["uid"] == wanted.uid
        assert [m["role"] for m in conversation["messages"]] == ["system", "user", "assistant"]
        assert conversation["messages"][2]["metrics"]["attempts"] == 2
        with pytest.raises(ConversationNotFound):
            export_data(store, [999])


def test_markdown_export_reads_like_a_transcript() -> None:
    with HistoryStore.in_memory() as store:
        fill(store, 2)
        text = export_markdown(store)
    assert text.count("# Question number") == 2
    assert "## You" in text
    assert "## Assistant (llama)" in text
    assert "> **Reasoning**" in text
    assert "> thinking about water" in text
    assert "*Interrupted: The stream dropped.*" in text
    assert "\n---\n" in text
    assert "model llama" in text


def test_a_streaming_answer_comes_in_as_interrupted() -> None:
    with HistoryStore.in_memory() as source:
        c = source.create_conversation()
        answer = source.start_assistant_message(c.id)
        source.checkpoint(answer.id, "half")
        exported = export_json(source)
    with HistoryStore.in_memory() as target:
        import_json(target, exported)
        [conversation] = target.list_conversations()
        [message] = target.messages(conversation.id)
        assert (message.text, message.status) == ("half", MessageStatus.INTERRUPTED)


def test_a_file_without_uids_gets_new_ones() -> None:
    document = {
        "format": "streamdesk-history",
        "version": 1,
        "conversations": [
            {
                "title": "hand made",
                "created_at": 1,
                "updated_at": 2,
                "messages": [{"role": "user", "text": "hi", "created_at": 1, "updated_at": 1}],
            }
        ],
    }
    with HistoryStore.in_memory() as store:
        assert import_json(store, json.dumps(document)).imported == 1
        assert import_json(store, json.dumps(document)).imported == 1  # no uid: no duplicate check
        assert len(store.list_conversations()) == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "not JSON"),
        ("[]", "not a Streamdesk history export"),
        ('{"format": "other"}', "not a Streamdesk history export"),
        ('{"format": "streamdesk-history", "version": 99, "conversations": []}', "newer"),
        ('{"format": "streamdesk-history", "version": 1, "conversations": [3]}', "conversation 1"),
        (
            '{"format": "streamdesk-history", "version": 1, "conversations": [{"title": "t", '
            '"created_at": 1, "updated_at": 1, "messages": [{"role": "robot", "text": "", '
            '"created_at": 1, "updated_at": 1}]}]}',
            "unknown role",
        ),
        (
            '{"format": "streamdesk-history", "version": 1, "conversations": [{"title": "t", '
            '"created_at": "yesterday", "updated_at": 1, "messages": []}]}',
            "created_at",
        ),
    ],
)
def test_bad_files_are_refused_before_writing(content: str, words: str) -> None:
    with HistoryStore.in_memory() as store:
        with pytest.raises(InvalidExport, match=words):
            import_json(store, content)
        assert store.list_conversations() == []


def test_conversations_with_the_same_time_keep_their_order() -> None:
    clock = FakeClock()  # every write at the same instant: only ids break ties
    with HistoryStore.in_memory(clock=clock) as source:
        fill(source, 5)
        exported = export_json(source)
        order = [c.uid for c in source.list_conversations()]
    with HistoryStore.in_memory(clock=clock) as target:
        import_json(target, exported)
        assert [c.uid for c in target.list_conversations()] == order
        assert export_json(target) == exported
