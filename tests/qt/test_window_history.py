"""The window and the history: closing mid-answer, export and import, dialogs that never block."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.qt.history_transfer import export_to, import_from
from tests.qt.shell_helpers import (
    Catch,
    open_window,
    running_stub,
    send,
    send_and_finish,
    stub_profile,
    wait_until,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def stub() -> Iterator[object]:
    with running_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0) as s:
        yield s


async def test_closing_mid_answer_keeps_it_as_interrupted_with_continue(
    stub: object, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    async with open_window([stub_profile(stub.url)], history=HistoryStore.open(path)) as window:  # type: ignore[attr-defined]
        message_id = await send(window, "a long one", model="stub-long")
        controller = window.chat.stream_of(window.chat.current_id)
        await wait_until(lambda: len(controller.text) > 100)
    # open_window's exit is the app's shutdown: the stream was stopped and saved.
    with HistoryStore.open(path) as store:
        saved = store.get_message(int(message_id))
    assert saved.status is MessageStatus.INTERRUPTED
    assert len(saved.text) > 100
    assert "closed before the answer finished" in (saved.error_message or "")


async def test_two_conversations_stream_at_once(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        first = await send(window, "one", model="stub-long")
        first_conversation = window.chat.current_id
        window.new_chat()
        second = await send(window, "two", model="stub-long")
        assert sorted(window.chat.streaming_ids()) == sorted(
            [first_conversation, window.chat.current_id]
        )
        a = window.chat.stream_of(first_conversation)
        b = window.chat.stream_of(window.chat.current_id)
        await wait_until(lambda: len(a.text) > 300 and len(b.text) > 300)
        finished = Catch(window.chat.answerFinished)
        window.chat.stop(first_conversation)
        _cid, stopped, _status = await finished.wait()
        assert stopped == first
        assert window.chat.is_streaming()  # the one on screen goes on
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        assert (await done.wait())[1] == second


async def test_export_and_import_round_trip(stub: object, tmp_path: Path) -> None:
    url = stub.url  # type: ignore[attr-defined]
    async with open_window([stub_profile(url)]) as window:
        await send_and_finish(window, "about tea")
        window.new_chat()
        await send_and_finish(window, "about coffee")
        await export_to(window, tmp_path / "all.json", None, as_json=True)
        await export_to(window, tmp_path / "one.md", [window.chat.current_id], as_json=False)
        assert "exported" in window.statusBar().currentMessage().lower()
    document = json.loads((tmp_path / "all.json").read_text())
    assert len(document["conversations"]) == 2
    markdown = (tmp_path / "one.md").read_text()
    assert "about coffee" in markdown
    assert "about tea" not in markdown

    async with open_window([stub_profile(url)], list_models=False) as window:
        assert window.sidebar.ids() == []
        await import_from(window, tmp_path / "all.json")
        assert len(window.sidebar.ids()) == 2
        assert "Imported 2 chats" in window.statusBar().currentMessage()
        await import_from(window, tmp_path / "all.json")  # twice adds nothing
        assert len(window.sidebar.ids()) == 2
        (tmp_path / "bad.json").write_text("{not json")
        await import_from(window, tmp_path / "bad.json")
        assert "not a Streamdesk history export" in window.banner.text()


async def test_dialogs_open_without_blocking(stub: object) -> None:
    from PySide6.QtWidgets import QApplication, QDialog, QFileDialog

    async with open_window([stub_profile(stub.url)], list_models=False) as window:  # type: ignore[attr-defined]
        window.commands["about"].trigger()
        window.commands["shortcuts"].trigger()
        window.commands["import_chats"].trigger()
        dialogs = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()
        ]
        titles = {d.windowTitle() for d in dialogs}
        assert {"About Streamdesk", "Keyboard shortcuts", "Import chats"} <= titles
        about = next(d for d in dialogs if d.windowTitle() == "About Streamdesk")
        text = about.text.toPlainText()  # type: ignore[attr-defined]
        assert "PySide6" in text
        assert "LGPL" in text
        assert "httpx" in text
        for dialog in dialogs:
            if isinstance(dialog, QFileDialog):
                dialog.reject()
            else:
                dialog.close()
