"""The window end to end over the real stub on loopback: send, stop, errors, Continue, edit.

Each test opens a real ``MainWindow`` (in-memory history, memory key store)
and talks to ``server_stub`` through the real session and transport. The stub
picks a scenario from the model name (``stub-NAME``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QScrollArea

from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.qt.self_test import fetch_expected
from tests.qt.shell_helpers import (
    Catch,
    SilentServer,
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
    # Fast but paced, so a stream takes a few event-loop turns.
    with running_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0) as s:
        yield s


def _answer(window: object, message_id: str) -> object:
    widget = window.chat_view.message_widget(message_id)  # type: ignore[attr-defined]
    assert widget is not None
    return widget


async def test_an_answer_streams_in_and_the_window_shows_what_the_stub_sent(stub: object) -> None:
    url = stub.url  # type: ignore[attr-defined]
    prompt = "Show me some code please"
    expected = await asyncio.to_thread(fetch_expected, url, prompt, "demo")
    async with open_window([stub_profile(url)]) as window:
        models = [
            window.profile_bar.model_box.itemText(i)
            for i in range(window.profile_bar.model_box.count())
        ]
        assert "streamdesk-stub" in models  # listed from /v1/models
        message_id, status = await send_and_finish(window, prompt)
        assert status == "complete"
        assert window.chat_view.raw_text(message_id) == expected
        stored = window.services.history.get_message(int(message_id))
        assert stored.text == expected
        assert stored.status is MessageStatus.COMPLETE
        widget = _answer(window, message_id)
        assert "tokens/s" in widget.view.metrics_line
        assert widget.view.metrics_line.endswith("complete")
        # The conversation is listed, titled from the question, newest first.
        assert window.sidebar.title_of(str(window.chat.current_id)) == prompt
        assert not window.composer.streaming


async def test_stop_while_connecting_closes_the_socket_and_keeps_a_cancelled_answer() -> None:
    server = SilentServer()
    await server.start()
    try:
        async with open_window(
            [stub_profile(server.url, name="Hung")], list_models=False
        ) as window:
            message_id = await send(window, "hello?")
            assert window.composer.streaming
            await asyncio.wait_for(server.post_seen.wait(), 5)
            controller = window.chat.stream_of(window.chat.current_id)
            assert controller is not None
            assert controller.status == "Connecting"
            done = Catch(window.chat.answerFinished)
            window.commands["stop"].trigger()  # what Esc does
            _cid, _mid, status = await done.wait()
            assert status == "cancelled"
            await asyncio.wait_for(server.post_closed.wait(), 5)  # the server saw us go
            await asyncio.wait_for(controller.wait(), 5)
            stored = window.services.history.get_message(int(message_id))
            assert stored.status is MessageStatus.CANCELLED
            assert not window.composer.streaming
            assert _answer(window, message_id).box_button().text() == "Continue"
    finally:
        await server.stop()


async def test_stop_while_waiting_for_the_first_token(stub: object) -> None:
    state = stub.state  # type: ignore[attr-defined]
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id = await send(window, "take your time", model="stub-slow_first_token")
        controller = window.chat.stream_of(window.chat.current_id)
        await wait_until(lambda: controller.status == "Waiting for the first token")
        assert state.active_generations == 1
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        assert (await done.wait())[2] == "cancelled"
        await wait_until(lambda: state.active_generations == 0)  # the stub saw the close
        assert window.services.history.get_message(int(message_id)).text == ""


async def test_stop_mid_stream_keeps_and_saves_the_partial_answer(stub: object) -> None:
    state = stub.state  # type: ignore[attr-defined]
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id = await send(window, "a long one", model="stub-long")
        controller = window.chat.stream_of(window.chat.current_id)
        await wait_until(lambda: len(controller.text) > 200)
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        assert (await done.wait())[2] == "cancelled"
        await wait_until(lambda: state.active_generations == 0)
        window.chat_view.flush()
        shown = window.chat_view.raw_text(message_id)
        stored = window.services.history.get_message(int(message_id))
        assert len(shown) > 200
        assert stored.text == shown
        assert stored.status is MessageStatus.CANCELLED
        assert _answer(window, message_id).view.metrics_line.endswith("stopped by you")


async def test_an_http_error_is_explained_with_retry_and_retry_works(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id, status = await send_and_finish(window, "hi", model="stub-http_401")
        assert status == "error"
        widget = _answer(window, message_id)
        assert "refused the API key" in widget.view.error
        assert "API key" in widget.view.error_hint
        button = widget.box_button()
        assert button is not None
        assert button.text() == "Retry"

        window.profile_bar.set_model("demo")
        done = Catch(window.chat.answerFinished)
        button.click()
        _cid, new_id, status = await done.wait()
        assert status == "complete"
        messages = window.services.history.messages(window.chat.current_id)
        # The failed answer was replaced (SQLite may reuse its id).
        assert [(m.role, m.status) for m in messages] == [
            ("user", MessageStatus.COMPLETE),
            ("assistant", MessageStatus.COMPLETE),
        ]
        assert _answer(window, new_id).box_button() is None
        assert window.chat_view.message_count() == 2


async def test_an_error_event_mid_stream_shows_next_to_the_partial_text(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id, status = await send_and_finish(
            window, "hi", model="stub-error_event_mid_stream"
        )
        assert status == "error"
        widget = _answer(window, message_id)
        partial = window.chat_view.raw_text(message_id)
        assert partial  # the text that came before the error is still there
        assert widget.view.error.startswith("The server reported an error")
        assert widget.box_button().text() == "Retry"
        stored = window.services.history.get_message(int(message_id))
        assert stored.text == partial
        assert stored.status is MessageStatus.ERROR


async def test_an_interrupted_answer_offers_continue_and_continue_appends(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id, status = await send_and_finish(window, "tell me", model="stub-drop_mid_stream")
        assert status == "interrupted"
        partial = window.chat_view.raw_text(message_id)
        assert partial
        widget = _answer(window, message_id)
        assert widget.box_button().text() == "Continue"

        window.profile_bar.set_model("demo")
        done = Catch(window.chat.answerFinished)
        widget.box_button().click()
        _cid, continued_id, status = await done.wait()
        window.chat_view.flush()
        assert continued_id == message_id  # the same message grows
        assert status == "complete"
        whole = window.chat_view.raw_text(message_id)
        assert whole.startswith(partial)
        assert len(whole) > len(partial)
        stored = window.services.history.get_message(int(message_id))
        assert stored.text == whole
        assert len(window.services.history.messages(window.chat.current_id)) == 2


async def test_continue_after_stop_streams_into_the_same_answer_saved_as_it_goes(
    stub: object,
) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        message_id = await send(window, "a long one", model="stub-long")
        controller = window.chat.stream_of(window.chat.current_id)
        await wait_until(lambda: len(controller.text) > 100)
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        assert (await done.wait())[2] == "cancelled"
        history = window.services.history
        stopped = history.get_message(int(message_id))
        assert stopped.status is MessageStatus.CANCELLED

        window.profile_bar.set_model("stub-slow_first_token")
        assert window.chat.continue_last()
        # Reopened, text kept: streaming again, so a crash now would keep it as interrupted.
        reopened = history.get_message(int(message_id))
        assert reopened.status is MessageStatus.STREAMING
        assert reopened.text == stopped.text
        assert reopened.error_message is None
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        assert (await done.wait())[2] == "cancelled"
        assert history.get_message(int(message_id)).text == stopped.text


@pytest.mark.parametrize("jump", ["chat view's", "fallback"])
async def test_a_search_hit_opens_its_conversation_at_the_matching_message(
    jump: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.qt.chat_view import ChatView
    from desktop_app.qt.message_focus import Flash

    if jump == "fallback":  # message_focus's own, for a ChatView without scroll_to_message
        monkeypatch.setattr(ChatView, "scroll_to_message", None, raising=False)
    history = HistoryStore.in_memory()
    long = history.create_conversation()
    ids = []
    for i in range(40):
        words = "the zebra crossing" if i == 3 else f"question {i}"
        ids.append(history.add_user_message(long.id, words).id)
        history.add_message(long.id, "assistant", f"answer {i}\n\n" + "more text\n\n" * 5)
    newer = history.create_conversation()
    history.add_user_message(newer.id, "something else")
    async with open_window(
        [stub_profile("http://127.0.0.1:9")], history=history, list_models=False
    ) as window:
        assert window.chat.current_id == newer.id
        window.sidebar.search.setText("zebra")
        window.search("zebra")
        assert window.sidebar.ids() == [str(long.id)]
        window.sidebar.list.setCurrentRow(0)  # the user clicks the hit
        assert window.chat.current_id == long.id
        hit = window.chat_view.message_widget(str(ids[3]))
        assert hit is not None  # its page was loaded, though it is far from the newest
        if jump == "fallback":
            assert hit.findChildren(Flash)  # the eye is drawn to it
        viewport = window.chat_view.findChild(QScrollArea, "chatScroll").viewport()

        def on_screen() -> bool:
            top = hit.mapTo(viewport, QPoint(0, 0)).y()
            return 0 <= top < viewport.height() // 2

        await wait_until(lambda: on_screen() and not window.chat_view.following)
        await asyncio.sleep(0.3)  # the answers around it finish rendering...
        assert on_screen()  # ...and the hit does not move away


async def test_regenerate_replaces_the_last_answer(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        first, _ = await send_and_finish(window, "hello")
        done = Catch(window.chat.answerFinished)
        _answer(window, first).action_buttons()["regenerate"].click()
        started = window.services.history.get_message(int(first)).created_at
        _cid, second, status = await done.wait()
        assert status == "complete"
        messages = window.services.history.messages(window.chat.current_id)
        assert [m.id for m in messages][-1] == int(second)
        assert len(messages) == 2
        assert messages[-1].created_at >= started
        assert window.chat_view.message_count() == 2


async def test_edit_a_message_and_resend_from_there(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        await send_and_finish(window, "first question")
        await send_and_finish(window, "second question")
        history = window.services.history
        first_user = history.messages(window.chat.current_id)[0]
        window.chat_view.message_widget(str(first_user.id)).action_buttons()["edit"].click()
        assert window.composer.editing_id == str(first_user.id)
        assert window.composer.text() == "first question"
        done = Catch(window.chat.answerFinished)
        window.composer.set_text("a better question")
        assert window.composer.submit()
        assert (await done.wait())[2] == "complete"
        messages = history.messages(window.chat.current_id)
        assert [(m.role, m.text if m.role == "user" else "") for m in messages] == [
            ("user", "a better question"),
            ("assistant", ""),
        ]
        assert window.chat_view.message_count() == 2
        # The title was made from the first question: it follows the edit.
        assert window.sidebar.title_of(str(window.chat.current_id)) == "a better question"
        assert history.get_conversation(window.chat.current_id).title == "a better question"


async def test_sending_is_disabled_only_in_the_streaming_conversation(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        await send(window, "long story", model="stub-long")
        streaming_id = window.chat.current_id
        assert window.composer.streaming
        window.composer.set_text("another")
        assert not window.composer.submit()  # not in this conversation

        window.new_chat()
        assert not window.composer.streaming
        window.profile_bar.set_model("demo")
        _other, status = await send_and_finish(window, "meanwhile, hello")
        assert status == "complete"
        assert window.chat.current_id != streaming_id
        assert window.chat.is_streaming(streaming_id)
        window.chat.stop(streaming_id)
        await wait_until(lambda: not window.chat.is_streaming(streaming_id))


async def test_switching_conversations_keeps_streaming_into_the_right_one(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        await send_and_finish(window, "quiet one")
        quiet_id = window.chat.current_id
        window.new_chat()
        message_id = await send(window, "long story", model="stub-long")
        busy_id = window.chat.current_id
        controller = window.chat.stream_of(busy_id)
        await wait_until(lambda: len(controller.text) > 100)

        window.open_conversation(quiet_id)
        assert not window.composer.streaming
        assert window.chat_view.message_widget(message_id) is None
        before = len(controller.text)
        await wait_until(lambda: len(controller.text) > before + 200)
        assert window.sidebar.list.item(0).text().endswith("●")  # the busy one is marked

        window.open_conversation(busy_id)
        assert window.composer.streaming
        await wait_until(lambda: len(window.chat_view.raw_text(message_id)) > before + 400)
        window.chat_view.flush()
        assert controller.text.startswith(window.chat_view.raw_text(message_id)[:before])
        done = Catch(window.chat.answerFinished)
        window.composer.request_stop()
        await done.wait()
        window.chat_view.flush()
        assert window.chat_view.raw_text(message_id) == controller.outcome.ended.text


async def test_delete_with_undo_rename_and_search(stub: object) -> None:
    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        await send_and_finish(window, "about pasta sauces")
        pasta = window.chat.current_id
        window.new_chat()
        await send_and_finish(window, "about bicycles")
        bikes = window.chat.current_id
        assert window.sidebar.ids() == [str(bikes), str(pasta)]  # newest first

        window.chat.rename(pasta, "Dinner ideas")
        assert window.sidebar.title_of(str(pasta)) == "Dinner ideas"

        window.search("pasta")
        assert window.sidebar.ids() == [str(pasta)]
        window.search("")
        assert set(window.sidebar.ids()) == {str(pasta), str(bikes)}

        window.open_conversation(pasta)
        window.commands["delete_chat"].trigger()
        assert window.sidebar.ids() == [str(bikes)]
        assert window.chat.current_id is None
        assert window.sidebar.undo_bar.isVisible()
        window.sidebar.undo_bar.button.click()
        assert set(window.sidebar.ids()) == {str(pasta), str(bikes)}
        assert window.chat.current_id == pasta
        assert window.chat_view.message_count() == 2


async def test_answers_left_streaming_by_a_crash_show_as_interrupted(tmp_path: object) -> None:
    path = tmp_path / "history.sqlite3"  # type: ignore[operator]
    store = HistoryStore.open(path)
    conversation = store.create_conversation("crashed")
    store.add_user_message(conversation.id, "question")
    answer = store.start_assistant_message(conversation.id)
    store.checkpoint(answer.id, "half an ans")
    store.close()  # the process "died" here: the answer is still marked streaming

    with running_stub(first_token_delay=0.0) as stub:
        async with open_window([stub_profile(stub.url)], history=HistoryStore.open(path)) as window:
            assert window.chat.current_id == conversation.id
            widget = window.chat_view.message_widget(str(answer.id))
            assert widget is not None
            assert widget.view.status == "interrupted"
            assert widget.box_button().text() == "Continue"
            assert window.chat_view.raw_text(str(answer.id)) == "half an ans"


async def test_a_corrupt_history_shows_a_banner_and_the_app_still_works(tmp_path: object) -> None:
    path = tmp_path / "history.sqlite3"  # type: ignore[operator]
    path.write_bytes(b"this is not a database" * 100)
    with running_stub(first_token_delay=0.0, tokens_per_second=0.0) as stub:
        async with open_window([stub_profile(stub.url)], history=HistoryStore.open(path)) as window:
            assert window.banner.isVisible()
            assert "damaged" in window.banner.text()
            _mid, status = await send_and_finish(window, "still there?")
            assert status == "complete"
            window.banner.close_button.click()
            assert not window.banner.isVisible()
    assert list(path.parent.glob("history.sqlite3.corrupt-*"))  # the damaged file was kept


async def test_a_history_from_a_newer_version_is_left_alone_with_a_banner(tmp_path: object) -> None:
    import sqlite3

    from desktop_app.core.storage import SCHEMA_VERSION

    path = tmp_path / "history.sqlite3"  # type: ignore[operator]
    HistoryStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with running_stub(first_token_delay=0.0, tokens_per_second=0.0) as stub:
        async with open_window([stub_profile(stub.url)], history=HistoryStore.open(path)) as window:
            assert "newer version of Streamdesk" in window.banner.text()
            _mid, status = await send_and_finish(window, "works in memory?")
            assert status == "complete"
    assert path.read_bytes() == before  # not touched


async def test_keyboard_drives_the_window(stub: object) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        assert window.empty_state.isVisible()
        await send_and_finish(window, "hello")
        assert not window.empty_state.isVisible()
        first = window.chat.current_id

        QTest.keyClick(
            window,
            Qt.Key.Key_C,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        assert QGuiApplication.clipboard().text() == window.chat.last_answer_text()

        QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        assert window.chat.current_id is None
        assert window.empty_state.isVisible()
        assert window.composer.editor.hasFocus()

        QTest.keyClick(window, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
        assert window.chat.current_id == first

        window.profile_bar.set_model("stub-long")
        window.composer.set_text("long one")
        QTest.keyClick(window.composer.editor, Qt.Key.Key_Return)
        assert window.chat.is_streaming()
        done = Catch(window.chat.answerFinished)
        # Esc stops from anywhere, even before the stream task took its first step.
        QTest.keyClick(window.sidebar.list, Qt.Key.Key_Escape)
        assert (await done.wait())[2] == "cancelled"
        assert not window.commands["stop"].isEnabled()

        size = window.chat_view.font().pointSizeF()
        QTest.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
        assert window.chat_view.font().pointSizeF() == round(size) + 1
        QTest.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
        assert window.chat_view.font().pointSizeF() == size

        QTest.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
        assert window.sidebar.search.hasFocus()


async def test_every_shell_control_has_an_accessible_name(stub: object) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit

    async with open_window([stub_profile(stub.url)]) as window:  # type: ignore[attr-defined]
        await send_and_finish(window, "hello")
        shell = [window.sidebar, window.profile_bar, window.composer, window.banner]
        kinds = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit)
        unnamed = [
            f"{type(w).__name__} {w.objectName()!r}"
            for part in shell
            for kind in kinds
            for w in part.findChildren(kind)
            if not w.accessibleName() and w.isVisibleTo(window)
        ]
        assert unnamed == []
        assert all(action.text() for action in window.commands.actions.values())


async def test_window_geometry_is_restored(stub: object) -> None:
    url = stub.url  # type: ignore[attr-defined]
    async with open_window([stub_profile(url)], read_only=False, list_models=False) as window:
        window.resize(700, 500)  # inside the offscreen screen (800x600): no clamping
        window.commands["toggle_sidebar"].setChecked(False)
    async with open_window([stub_profile(url)], read_only=False, list_models=False) as window:
        assert (window.width(), window.height()) == (700, 500)
        assert not window.sidebar.isVisibleTo(window)
        window.commands["toggle_sidebar"].setChecked(True)
