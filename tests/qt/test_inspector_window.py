"""The stream inspector in the real window: it follows answers live, masks the key, shows the
answer the user clicks, brings older answers back from the history; and the offline demo's
"Next answer" (a stub scenario or a recording answers the next prompt)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTextBrowser

from desktop_app.core.events import TurnState
from desktop_app.core.inspector_model import InspectorModel
from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, Profile
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.secrets import MemorySecretStore
from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.qt.main_window import MainWindow
from desktop_app.qt.window_inspector import LOADING, NO_ANSWER, NOT_KEPT
from tests.qt.shell_helpers import (
    open_window,
    running_stub,
    send,
    send_and_finish,
    stub_profile,
    wait_until,
)

pytestmark = pytest.mark.asyncio

KEY = "sk-window-inspector-0123456789abcdef"


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    yield
    gc.collect()  # cycles left by a test go now, on this thread (see test_inspector.py)


@pytest.fixture(scope="module")
def stub() -> Iterator[object]:
    with running_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0) as s:
        yield s


def keyed_profile(url: str) -> tuple[Profile, MemorySecretStore]:
    profile = Profile(
        name="Keyed", provider="openai", base_url=f"{url}/v1", model="demo", has_key=True
    )
    secrets = MemorySecretStore()
    secrets.set_key("Keyed", KEY)
    return profile, secrets


def open_inspector(window: MainWindow) -> None:
    toggle = window.inspector.toggleViewAction()
    assert toggle.objectName() == "action_stream_inspector"
    assert toggle in window.commands.menus["&View"].actions()
    toggle.trigger()
    assert window.inspector.isVisible()


def everything_shown(window: MainWindow) -> str:
    dock = window.inspector
    return "\n".join(
        [
            dock.subject.text(),
            dock.summary.text(),
            dock.http_text.toPlainText(),
            dock.detail.toPlainText(),
            dock.model.raw_text() if dock.model is not None else "",
        ]
    )


def click(widget: object) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))  # type: ignore[call-overload]


async def test_the_inspector_follows_the_answer_live_and_never_shows_the_key(
    stub: object, tmp_path: Path
) -> None:
    profile, secrets = keyed_profile(stub.url)  # type: ignore[attr-defined]
    async with open_window([profile], secrets=secrets) as window:
        dock = window.inspector
        assert dock.isHidden()
        open_inspector(window)
        assert dock.summary.text() == NO_ANSWER  # a new chat has no answer yet
        # The key even typed into the prompt (pasted by mistake) never shows.
        message_id = await send(window, f"Hello, my key is {KEY}", model="stub-slow_first_token")
        live = window.chat.inspections.get(message_id)
        assert live is not None
        assert dock.model is live  # the answer that just started, live
        assert dock.subject.text().startswith("Answer 1 of 1 · ")
        assert dock.subject.text().endswith(" · being written")
        await wait_until(lambda: bool(live.exchanges) and live.exchanges[0].response is not None)
        assert live.end_state is None
        await wait_until(lambda: dock.count_label.text().startswith(("1 ", "2 ", "3 ")))
        window.chat.stop()
        await wait_until(lambda: live.end_state is TurnState.CANCELLED)

        message_id, status = await send_and_finish(window, "And now?", model="demo")
        assert status == "complete"
        model = window.chat.inspections.get(message_id)
        assert model is not None
        assert dock.model is model
        await wait_until(lambda: "Complete" in dock.summary.text())
        assert model.end_state is TurnState.COMPLETE
        assert model.frames
        dock.select_row(0)
        shown = everything_shown(window)
        assert "Bearer ***" in shown
        assert KEY not in shown
        assert dock.subject.text().startswith("Answer 2 of 2 · ")
        assert " · “" in dock.subject.text()  # its first words, once it has some
        dock.copy_stream()
        assert KEY not in QGuiApplication.clipboard().text()
        saved = tmp_path / "saved.jsonl"
        assert dock.save_recording(str(saved))
        assert KEY not in saved.read_text()
        # Kept in the history when the turn ended, without the key either.
        history = window.services.history
        await wait_until(lambda: history.inspection(int(message_id)) is not None)
        stored = history.inspection(int(message_id))
        assert stored is not None
        assert KEY not in stored
        assert "Bearer ***" in stored


async def test_clicked_answers_are_shown_and_older_ones_come_back_from_the_history(
    stub: object, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    profile = stub_profile(stub.url)  # type: ignore[attr-defined]
    async with open_window([profile], history=HistoryStore.open(path)) as window:
        first, _ = await send_and_finish(window, "first question")
        second, _ = await send_and_finish(window, "second question", model="stub-http_404_model")
        cid = window.chat.current_id
        assert cid is not None
        history = window.services.history
        await wait_until(lambda: history.inspection(int(second)) is not None)
        open_inspector(window)
        assert window.inspector.model is window.chat.inspections.get(second)  # the last answer
        assert "HTTP 404" in window.inspector.http_text.toPlainText()
        # The server's error body is shown with the response, not as frames.
        assert "does not exist" in window.inspector.http_text.toPlainText()
        assert window.inspector.model is not None
        assert window.inspector.model.frames == []
        answer = window.chat_view.message_widget(first)
        assert answer is not None
        click(answer.findChildren(QTextBrowser)[0].viewport())  # a click on the answer's text
        assert window.inspector_follower.shown_message == first
        assert window.inspector.model is window.chat.inspections.get(first)
        # Clicking a question changes nothing.
        question = history.messages(cid)[0]
        click(window.chat_view.message_widget(str(question.id)))
        assert window.inspector_follower.shown_message == first
        await wait_until(lambda: history.inspection(int(first)) is not None)
        imported = history.add_message(cid, "assistant", "An answer from elsewhere")

    # The next start: nothing is in memory, the history has it.
    async with open_window([profile], history=HistoryStore.open(path)) as window:
        assert window.chat.current_id == cid
        assert window.chat.inspections.get(first) is None
        window.inspector.show()
        window.inspector_follower.show_message(first)
        assert window.inspector.summary.text() == LOADING
        await wait_until(lambda: window.inspector.model is not None)
        model = window.inspector.model
        assert isinstance(model, InspectorModel)
        assert model.end_state is TurnState.COMPLETE
        assert model.frames
        assert window.chat.inspections.get(first) is model  # kept in memory now
        assert model.recording().body().decode().endswith("data: [DONE]\n\n")
        window.inspector_follower.show_message(str(imported.id))
        await wait_until(lambda: window.inspector.summary.text() == NOT_KEPT)
        assert window.inspector.model is None
        # Closing the dock lets go of the model (nothing refreshes while hidden).
        window.inspector.hide()
        assert window.inspector.model is None


# ---------------------------------------------------------------- the offline demo's next answer


def offline_stub() -> object:
    from server_stub.embedded import start_stub

    return start_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0)


def recorded_answer(path: Path, text: str) -> None:
    """A recording of an Anthropic-format answer saying ``text`` (a real server's, say)."""
    recorded = InspectorModel(provider=get_provider("anthropic"))
    recorded.on_request("POST", "https://api.example/v1/messages", {}, {"model": "claude"})
    recorded.on_response(200, {"content-type": "text/event-stream"})
    delta = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        f'"delta":{{"type":"text_delta","text":"{text}"}}}}\n\n'
    )
    at = recorded.recorder.time_of(None)
    recorded.on_chunk(delta.encode(), at + 0.01)
    recorded.on_chunk(b'event: message_stop\ndata: {"type":"message_stop"}\n\n', at + 0.02)
    recorded.on_end(TurnState.COMPLETE)
    recorded.recording().save(path)


async def test_a_chosen_scenario_answers_the_next_prompt_only(stub: object) -> None:
    profiles = [OFFLINE_DEMO_PROFILE, stub_profile(stub.url)]  # type: ignore[attr-defined]
    async with open_window(profiles, stub_factory=offline_stub) as window:
        chooser = window.next_answer
        assert chooser.menu_action.isEnabled()
        assert chooser.menu_action in window.commands.menus["&Chat"].actions()
        chooser.menu.aboutToShow.emit()  # what opening the menu does: the scenarios appear
        actions = {a.text(): a for a in chooser.menu.actions()}
        assert {"drop_mid_stream", "http_429_retry_after", "From a &recording…"} <= set(actions)
        assert actions["Answer &normally"].isChecked()
        actions["drop_mid_stream"].trigger()
        assert chooser.indicator.isVisible()
        assert "drop_mid_stream" in chooser.indicator.text()
        assert actions["drop_mid_stream"].isChecked()

        message_id, status = await send_and_finish(window, "Tell me a story")
        assert status == "interrupted"
        stored = window.services.history.get_message(int(message_id))
        assert stored.status is MessageStatus.INTERRUPTED
        assert stored.text  # 40 % of the answer came
        # Spent: the indicator is gone and the next answer is normal again.
        assert chooser.armed is None
        assert not chooser.indicator.isVisible()
        assert actions["Answer &normally"].isChecked()
        _, status = await send_and_finish(window, "And another")
        assert status == "complete"

        # Armed, then disarmed from the status bar: nothing changes.
        actions["http_429_retry_after"].trigger()
        chooser.indicator.click()
        assert chooser.armed is None
        _, status = await send_and_finish(window, "Once more")
        assert status == "complete"

        # Only the offline demo has this menu.
        actions["drop_mid_stream"].trigger()
        window.profile_bar.profile_box.setCurrentIndex(1)  # the user picks "Stub"
        assert window.current_profile().name == "Stub"
        assert not chooser.menu_action.isEnabled()
        assert chooser.armed is None


async def test_a_chosen_recording_answers_the_next_prompt(tmp_path: Path) -> None:
    file = tmp_path / "from-a-real-server.jsonl"
    recorded_answer(file, "Replayed word for word.")
    (tmp_path / "broken.jsonl").write_text("not a recording\n")
    async with open_window([OFFLINE_DEMO_PROFILE], stub_factory=offline_stub) as window:
        chooser = window.next_answer
        chooser.choose_recording(str(tmp_path / "broken.jsonl"))
        await wait_until(
            lambda: (
                "not a Streamdesk recording" in window.banner.text()
                or "not valid JSON" in window.banner.text()
            )
        )
        assert chooser.armed is None
        armed = asyncio.get_running_loop().create_future()
        chooser.armedChanged.connect(lambda label: armed.done() or armed.set_result(label))
        chooser.choose_recording(str(file))
        assert await asyncio.wait_for(armed, 10) == "recording from-a-real-server.jsonl"
        assert "from-a-real-server.jsonl" in chooser.indicator.text()
        message_id, status = await send_and_finish(window, "Anything at all")
        assert status == "complete"
        assert window.chat_view.raw_text(message_id) == "Replayed word for word."
        stored = window.services.history.get_message(int(message_id))
        assert stored.text == "Replayed word for word."
        model = window.chat.inspections.get(message_id)
        assert model is not None
        assert model.provider is not None
        assert model.provider.name == "anthropic"  # sent in the recording's own format
        assert model.exchanges[0].request.url.endswith("/v1/messages")
        _, status = await send_and_finish(window, "And now a normal one")
        assert status == "complete"


async def test_closing_mid_answer_keeps_its_stream_in_the_history(
    stub: object, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    profile = stub_profile(stub.url)  # type: ignore[attr-defined]
    async with open_window([profile], history=HistoryStore.open(path)) as window:
        message_id = await send(window, "a long one", model="stub-long")
        controller = window.chat.stream_of(window.chat.current_id or -1)
        assert controller is not None
        await wait_until(lambda: len(controller.text) > 200)
        # Leaving the block closes the window mid-answer (shutdown waits for the write).
    with HistoryStore.open(path) as history:
        assert history.get_message(int(message_id)).status is MessageStatus.INTERRUPTED
        stored = history.inspection(int(message_id))
    assert stored is not None
    model = InspectorModel.from_json(stored)
    assert model.frames
    assert model.end_state is TurnState.CANCELLED  # the session saw the client go
