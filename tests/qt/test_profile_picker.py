"""The profile and model picker: switching profiles, model lists and their fallbacks, formats."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from desktop_app.core.profiles import Profile
from tests.qt.shell_helpers import Catch, open_window, running_stub, send_and_finish, stub_profile

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def stub() -> Iterator[object]:
    with running_stub(tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0) as s:
        yield s


def _models(window: object) -> list[str]:
    box = window.profile_bar.model_box  # type: ignore[attr-defined]
    return [box.itemText(i) for i in range(box.count())]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_switching_profiles_lists_their_models_and_sends_there(stub: object) -> None:
    url = stub.url  # type: ignore[attr-defined]
    generic = Profile(name="App server", provider="generic", base_url=f"{url}/api/chat", model="x")
    anthropic = Profile(name="Claude-like", provider="anthropic", base_url=f"{url}/v1", model="c")
    async with open_window([stub_profile(url), generic, anthropic]) as window:
        assert "streamdesk-stub" in _models(window)
        assert window.windowTitle() == "Streamdesk — Stub"

        listed = Catch(window.modelsListed)
        window.profile_bar.profile_box.setCurrentIndex(1)
        assert (await listed.wait()) == ("App server",)
        assert _models(window) == ["x"]  # the typed model stays the choice
        assert "no model list" in window.profile_bar.note.text()
        assert window.windowTitle() == "Streamdesk — App server"
        _mid, status = await send_and_finish(window, "hello generic")
        assert status == "complete"
        conversation = window.services.history.get_conversation(window.chat.current_id)
        assert conversation.profile == "App server"

        listed = Catch(window.modelsListed)
        window.profile_bar.profile_box.setCurrentIndex(2)
        await listed.wait()
        assert "streamdesk-stub" in _models(window)  # Anthropic's /v1/models shape
        window.new_chat()
        message_id, status = await send_and_finish(
            window, "cut me off", model="stub-drop_mid_stream"
        )
        assert status == "interrupted"
        partial = window.chat_view.raw_text(message_id)
        window.profile_bar.set_model("c")
        done = Catch(window.chat.answerFinished)
        assert window.chat.continue_last()  # Anthropic: the partial text as assistant prefill
        assert (await done.wait())[2] == "complete"
        window.chat_view.flush()
        # The server continued from the partial text without its trailing whitespace (all the
        # API accepts): the answer joins there, so no space or line break is doubled.
        whole = window.chat_view.raw_text(message_id)
        assert whole.startswith(partial.rstrip())
        assert whole == window.services.history.get_message(int(message_id)).text


async def test_a_picked_model_sticks_to_its_profile(stub: object) -> None:
    url = stub.url  # type: ignore[attr-defined]
    async with open_window([stub_profile(url), stub_profile(url, name="Other")]) as window:
        box = window.profile_bar.model_box
        box.setCurrentIndex(_models(window).index("stub-reasoning"))
        box.activated.emit(box.currentIndex())
        assert window.services.profile("Stub").model == "stub-reasoning"
        assert window.current_target().model == "stub-reasoning"
        listed = Catch(window.modelsListed)
        window.profile_bar.profile_box.setCurrentIndex(1)
        await listed.wait()
        assert window.current_target().model == "demo"


async def test_an_unreachable_server_still_leaves_the_typed_model(stub: object) -> None:
    down = stub_profile(f"http://127.0.0.1:{_closed_port()}", name="Down", model="my-model")
    async with open_window([down]) as window:
        assert _models(window) == ["my-model"]
        assert window.profile_bar.note.text().startswith("Models not listed:")
        message_id, status = await send_and_finish(window, "anyone there?")
        assert status == "error"
        widget = window.chat_view.message_widget(message_id)
        assert "connect" in widget.view.error.lower()
        assert widget.view.error_hint
