"""Search: FTS5, the LIKE fallback (forced), and query strings that must never raise."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.core.storage.search import fts_query

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    "'",
    "AND",
    "OR (",
    "NOT",
    "NEAR(",
    "NEAR(a b, 2)",
    "*",
    "a*b",
    "^start",
    "text:rivers",
    "{text reasoning}: x",
    "(",
    ")",
    "-",
    "+",
    "%",
    "_",
    "\\",
    "%_\\",
    "\x00",
    "a\x00b",
    "rivers\x00",
    "🙂",
    "x" * 5000,
    " ".join(["word"] * 500),
    "rivers AND",
    '"rivers',
    "ri'vers",
    "DROP TABLE messages; --",
]


@pytest.fixture(params=["fts5", "like"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "h.sqlite3", use_fts=request.param == "fts5") as opened:
        assert opened.search_mode == request.param
        c = opened.create_conversation("Geography")
        opened.add_user_message(c.id, "How do rivers form in the mountains?")
        answer = opened.start_assistant_message(c.id)
        opened.checkpoint(answer.id, "Rain gathers", "I recall the WATER cycle")
        opened.finish_message(
            answer.id,
            status=MessageStatus.COMPLETE,
            text="Rain gathers into streams, which join into rivers. 100% wet_stuff.",
            reasoning="I recall the WATER cycle",
        )
        other = opened.create_conversation()
        opened.add_user_message(other.id, "Write a haiku about café mornings")
        yield opened


def _message_ids(store: HistoryStore, query: str) -> list[int | None]:
    return [hit.message_id for hit in store.search(query) if hit.message_id is not None]


def test_words_are_found_in_text_and_reasoning(store: HistoryStore) -> None:
    hits = [h for h in store.search("rivers") if h.message_id is not None]
    assert len(hits) == 2
    assert {h.title for h in hits} == {"Geography"}
    for hit in hits:
        assert "rivers" in hit.snippet.lower()
        assert hit.spans
        start, end = hit.spans[0]
        assert hit.snippet[start:end].lower() == "rivers"
    water = [h for h in store.search("water") if h.message_id is not None]
    assert len(water) == 1
    assert "WATER" in water[0].snippet  # only the reasoning matched: the snippet comes from it


def test_all_words_must_match_and_the_last_is_a_prefix(store: HistoryStore) -> None:
    assert len(_message_ids(store, "rain rivers")) == 1
    assert _message_ids(store, "rain haiku") == []
    assert len(_message_ids(store, "mount")) == 1  # search as you type
    assert len(_message_ids(store, "HAIKU")) == 1


def test_titles_match_too(store: HistoryStore) -> None:
    [title_hit] = [h for h in store.search("geog") if h.message_id is None]
    assert title_hit.title == "Geography"
    assert title_hit.spans == ((0, 4),)


def test_new_and_changed_text_is_searchable(store: HistoryStore) -> None:
    c = store.create_conversation()
    m = store.add_user_message(c.id, "zebra crossing")
    assert _message_ids(store, "zebra") == [m.id]
    store.edit_message(m.id, "giraffe crossing")
    assert _message_ids(store, "zebra") == []
    assert _message_ids(store, "giraffe") == [m.id]
    store.truncate_after(m.id, inclusive=True)
    assert _message_ids(store, "giraffe") == []


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(store: HistoryStore, query: str) -> None:
    hits = store.search(query)
    assert isinstance(hits, list)


def test_like_wildcards_are_literal(store: HistoryStore) -> None:
    if store.search_mode == "like":
        assert len(_message_ids(store, "100%")) == 1
        assert _message_ids(store, "%") == _message_ids(store, "100%")
        assert len(_message_ids(store, "wet_stuff")) == 1
        assert _message_ids(store, "wet_s_uff") == []


@given(st.text(max_size=40))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_is_a_valid_query(query: str) -> None:
    expression = fts_query(query)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    conn.execute("INSERT INTO t VALUES ('some words here')")
    if expression is not None:
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    conn.close()


def test_fallback_session_then_fts_again_rebuilds_the_index(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with HistoryStore.open(path) as store:
        c = store.create_conversation()
        store.add_user_message(c.id, "before the fallback")
    with HistoryStore.open(path, use_fts=False) as store:  # e.g. a Python without FTS5
        store.add_user_message(c.id, "written without an index")
        assert store.search_mode == "like"
        assert len(_message_ids(store, "index")) == 1
    with HistoryStore.open(path) as store:
        assert store.search_mode == "fts5"
        assert len(_message_ids(store, "index")) == 1
        assert len(_message_ids(store, "fallback")) == 1
        store._conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


def test_purged_conversations_leave_the_index_consistent(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        c = store.create_conversation()
        store.add_user_message(c.id, "ephemeral words")
        store.delete_conversation(c.id)
        assert store.purge_deleted() == 1
        assert store.search("ephemeral") == []
        store._conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


def test_limit(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite3") as store:
        c = store.create_conversation()
        for i in range(30):
            store.add_user_message(c.id, f"repeated word {i}")
        assert len(store.search("repeated", limit=10)) == 10
