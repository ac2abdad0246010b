"""A full disk while an answer streams: said once, nothing shown is lost, the save catches up.

The disk is "filled" with SQLite's ``max_page_count`` on the history's own
connection: set just above the file's current size, the next writes that
need a new page fail with SQLITE_FULL, which the core raises as ``DiskFull``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.errors import DiskFull
from desktop_app.core.events import TurnEnded, TurnMetrics, TurnState
from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.qt.turns import HistoryRecorder
from tests.qt.shell_helpers import (
    Catch,
    open_window,
    running_stub,
    send,
    stub_profile,
    wait_until,
)

SENTENCE = "The disk is full, so the chat could not be saved."
HINT = "Free some disk space; what was already saved is safe."
NO_LIMIT = 1_073_741_823  # SQLite's default max_page_count


@pytest.fixture(scope="module")
def stub() -> Iterator[object]:
    with running_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0) as s:
        yield s


def fill_disk(history: HistoryStore) -> None:
    pages = history._conn.execute("PRAGMA page_count").fetchone()[0]
    history._conn.execute(f"PRAGMA max_page_count = {pages + 1}")


def free_disk(history: HistoryStore) -> None:
    history._conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")


@pytest.mark.asyncio
async def test_a_full_disk_mid_answer_is_said_once_and_the_save_catches_up(
    stub: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    history = HistoryStore.open(path)
    writes: list[tuple[str, bool]] = []  # (text given to a checkpoint, saved)
    checkpoint = history.checkpoint

    def watched(message_id: int, text: str, reasoning: str = "") -> bool:
        try:
            saved = checkpoint(message_id, text, reasoning)
        except DiskFull:
            writes.append((text, False))
            raise
        writes.append((text, True))
        return saved

    monkeypatch.setattr(history, "checkpoint", watched)

    def failed() -> int:
        return sum(not saved for _text, saved in writes)

    async with open_window([stub_profile(stub.url)], history=history) as window:  # type: ignore[attr-defined]
        reports: list[tuple[str, str]] = []
        window.chat.problemReported.connect(lambda sentence, hint: reports.append((sentence, hint)))
        message_id = await send(window, "a long one", model="stub-long")  # ~75 s at 400 tokens/s
        controller = window.chat.stream_of(window.chat.current_id)
        assert controller is not None
        await wait_until(lambda: bool(writes) and writes[-1][1], 10.0)  # a first checkpoint
        fill_disk(history)
        await wait_until(lambda: failed() >= 2, 15.0)  # checkpoints failed, a second apart

        # Said once, in the banner, in the core's words; the stream goes on.
        assert reports == [(SENTENCE, HINT)]
        assert window.banner.isVisible()
        assert window.banner.text().count(SENTENCE) == 1
        assert window.chat.is_streaming()
        # The window keeps all it received; the history keeps what it had.
        window.chat_view.flush()
        shown = window.chat_view.raw_text(message_id)
        assert shown == controller.text
        stored = history.get_message(int(message_id))
        assert stored.status is MessageStatus.STREAMING
        assert shown.startswith(stored.text)
        assert len(shown) > len(stored.text)

        # Space comes back: the next checkpoint writes the whole text so far.
        free_disk(history)
        before = len(writes)
        await wait_until(lambda: len(writes) > before and writes[-1][1], 5.0)
        stored = history.get_message(int(message_id))
        assert stored.text == writes[-1][0]
        assert stored.text.startswith(shown)
        assert stored.status is MessageStatus.STREAMING

        # The end of the answer (here Stop) is saved whole, with its status.
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        _cid, finished_id, status = await done.wait()
        assert (finished_id, status) == (message_id, "cancelled")
        window.chat_view.flush()
        whole = window.chat_view.raw_text(message_id)
        assert whole.startswith(stored.text)
        stored = history.get_message(int(message_id))
        assert stored.status is MessageStatus.CANCELLED
        assert stored.text == whole
        assert reports == [(SENTENCE, HINT)]
        assert window.banner.text().count(SENTENCE) == 1

    with HistoryStore.open(path) as reopened:  # it is on disk, not only in the connection
        saved = reopened.get_message(int(message_id))
    assert (saved.status, saved.text) == (MessageStatus.CANCELLED, whole)


def test_the_recorder_reports_the_first_failed_write_only(tmp_path: Path) -> None:
    """A final save that fails is reported too, and a failing answer is reported once."""
    with HistoryStore.open(tmp_path / "history.sqlite3") as history:
        conversation = history.create_conversation(profile="p", model="m")
        problems: list[Exception] = []
        ended = TurnEnded(
            state=TurnState.COMPLETE,
            text="An answer far larger than a page. " * 500,
            metrics=TurnMetrics(outcome=TurnState.COMPLETE),
        )

        # Only the final save fails (a short answer that never checkpointed).
        first = history.start_assistant_message(conversation.id).id
        fill_disk(history)
        HistoryRecorder(history, first, on_problem=problems.append).finish(ended)
        assert [type(p) for p in problems] == [DiskFull]
        assert history.get_message(first).status is MessageStatus.STREAMING  # nothing half-written

        # Checkpoints and the end all fail: one report for the answer.
        free_disk(history)
        second = history.start_assistant_message(conversation.id).id
        fill_disk(history)
        problems.clear()
        finished: list[TurnEnded] = []
        recorder = HistoryRecorder(
            history, second, after_finish=finished.append, on_problem=problems.append
        )
        recorder.checkpoint(ended.text[:5000], "")
        recorder.checkpoint(ended.text[:10000], "")
        recorder.finish(ended)
        assert [type(p) for p in problems] == [DiskFull]
        assert finished == [ended]  # the inspection is still kept

        # Space freed: a checkpoint writes the whole text so far.
        free_disk(history)
        recorder.checkpoint(ended.text, "")
        assert history.get_message(second).text == ended.text
        assert len(problems) == 1


def test_an_end_that_could_not_be_saved_is_written_once_space_is_freed(tmp_path: Path) -> None:
    """Left unwritten, the row would stay "streaming" and the next start would mark it
    interrupted with only the last checkpoint's text."""
    with HistoryStore.open(tmp_path / "history.sqlite3") as history:
        conversation = history.create_conversation(profile="p", model="m")
        ended = TurnEnded(
            state=TurnState.COMPLETE,
            text="An answer far larger than a page. " * 500,
            metrics=TurnMetrics(outcome=TurnState.COMPLETE),
        )
        message = history.start_assistant_message(conversation.id).id
        fill_disk(history)
        recorder = HistoryRecorder(history, message)
        recorder.finish(ended)
        assert recorder.unsaved
        assert not recorder.retry()  # still full: kept for later
        free_disk(history)
        assert recorder.retry()
        assert not recorder.unsaved
        saved = history.get_message(message)
        assert (saved.status, saved.text) == (MessageStatus.COMPLETE, ended.text)
        assert recorder.retry()  # nothing left to write


@pytest.mark.asyncio
async def test_the_window_writes_an_unsaved_end_when_space_is_freed(
    stub: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop_app.qt.chat_controller as chat_controller

    monkeypatch.setattr(chat_controller, "UNSAVED_RETRY_MS", 50)
    history = HistoryStore.open(tmp_path / "history.sqlite3")
    url = stub.url  # type: ignore[attr-defined]
    async with open_window([stub_profile(url)], history=history) as window:
        done = Catch(window.chat.answerFinished)
        message_id = await send(window, "tell me everything", model="stub-long")
        await wait_until(lambda: len(window.chat_view.raw_text(message_id)) > 20_000, 20.0)
        fill_disk(history)
        grown = len(window.chat_view.raw_text(message_id)) + 20_000
        await wait_until(lambda: len(window.chat_view.raw_text(message_id)) > grown, 20.0)
        assert window.chat.stop()
        _cid, _mid, status = await done.wait()
        assert status == "cancelled"
        whole = window.chat_view.raw_text(message_id)
        assert history.get_message(int(message_id)).status is MessageStatus.STREAMING
        free_disk(history)  # the next retry writes the end
        await wait_until(
            lambda: history.get_message(int(message_id)).status is MessageStatus.CANCELLED, 10.0
        )
        assert history.get_message(int(message_id)).text == whole
