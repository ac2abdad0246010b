"""Settings: profiles saved to profiles.toml, keys to the keychain (never to a file).

The suite's autouse fixture installs an in-memory keyring, so "the keychain"
here is that backend; the no-keychain tests install keyring's fail backend.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from desktop_app.core import paths
from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, load_profiles
from desktop_app.core.secrets import KeyringSecretStore, MemorySecretStore
from desktop_app.qt.profile_form import NO_KEYCHAIN_TEXT
from desktop_app.qt.settings_dialog import SettingsDialog
from desktop_app.qt.theme import ThemeMode
from tests.qt.shell_helpers import Catch, open_window

pytestmark = pytest.mark.asyncio

KEY = "sk-test-0123456789abcdef"


def _all_text_written(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


async def _open_dialog(window: object) -> SettingsDialog:
    opened = Catch(window.settingsOpened)  # type: ignore[attr-defined]
    window.commands["settings"].trigger()  # type: ignore[attr-defined]
    (dialog,) = await opened.wait()
    assert isinstance(dialog, SettingsDialog)
    assert dialog.isVisible()
    assert dialog.isModal()  # open() on a window: window-modal, no nested loop
    return dialog


async def test_a_new_profile_is_saved_and_its_key_goes_to_the_keychain(
    in_memory_keyring: object, isolated_dirs: Path
) -> None:
    profiles = [OFFLINE_DEMO_PROFILE]
    async with open_window(
        profiles, secrets=KeyringSecretStore(), read_only=False, list_models=False
    ) as window:
        dialog = await _open_dialog(window)
        assert "Keys are kept in: System keychain" in dialog.form.store_label.text()
        assert not dialog.form.no_keychain.isVisibleTo(dialog)

        dialog.add_profile("openai")
        form = dialog.form
        form.name.setText("Work")
        form.base_url.setText("https://llm.example.com/v1")
        form.model.setText("big-model")
        form.system_prompt.setPlainText("Be brief.")
        form.headers.setPlainText("X-Team: research")
        form.key.setText(KEY)
        applied = Catch(window.settingsApplied)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        (summary,) = await applied.wait()

        assert "Key saved for “Work”" in summary
        assert in_memory_keyring.entries == {("streamdesk", "Work"): KEY}  # type: ignore[attr-defined]
        saved = {p.name: p for p in load_profiles()}
        assert saved["Work"].has_key
        assert saved["Work"].model == "big-model"
        assert dict(saved["Work"].extra_headers) == {"X-Team": "research"}
        names = [window.profile_bar.profile_box.itemText(i) for i in range(2)]
        assert names == ["Offline demo", "Work"]
    written = _all_text_written(isolated_dirs)
    assert "Work" in paths.profiles_path().read_text()
    assert KEY not in written  # not in profiles.toml, settings, history or logs
    assert KEY[:12] not in written


async def test_an_invalid_profile_keeps_the_dialog_open_with_the_reason(
    isolated_dirs: Path,
) -> None:
    async with open_window([OFFLINE_DEMO_PROFILE], read_only=False, list_models=False) as window:
        dialog = await _open_dialog(window)
        dialog.add_profile("openai")
        dialog.form.base_url.setText("not a url")
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        assert dialog.isVisible()
        assert not dialog.error.isHidden()
        assert "base URL" in dialog.error.text()
        assert not paths.profiles_path().exists()  # nothing half-saved
        dialog.reject()


async def test_without_a_keychain_the_choices_are_offered_and_nothing_is_written(
    isolated_dirs: Path,
) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # a headless box: no Secret Service
    store = MemorySecretStore()
    async with open_window(
        [OFFLINE_DEMO_PROFILE], secrets=store, read_only=False, list_models=False
    ) as window:
        dialog = await _open_dialog(window)
        dialog.add_profile("openai")
        form = dialog.form
        assert form.no_keychain.isVisibleTo(dialog)
        assert form.no_keychain.text() == NO_KEYCHAIN_TEXT
        assert form.use_env.isVisibleTo(dialog)
        assert form.use_session.isVisibleTo(dialog)
        assert "session only" in form.store_label.text()

        form.name.setText("Session")
        form.base_url.setText("https://llm.example.com/v1")
        form.use_session.setChecked(True)
        form.key.setText(KEY)
        dialog.add_profile("openrouter")  # the first one's edits are kept
        form.name.setText("From env")
        form.use_env.setChecked(True)
        form.env_name.setText("MY_LLM_KEY")
        applied = Catch(window.settingsApplied)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        await applied.wait()

        assert store.get_key("Session") == KEY  # in memory, for this session
        session = window.services.profile("Session")
        assert session.has_key  # usable now...
        on_disk = {p.name: p for p in load_profiles()}
        assert not on_disk["Session"].has_key  # ...but the file promises no stored key
        assert on_disk["From env"].api_key_env == "MY_LLM_KEY"
        assert "session only" in window.statusBar().currentMessage()
    assert KEY not in _all_text_written(isolated_dirs)


async def test_renaming_a_profile_moves_its_key(in_memory_keyring: object) -> None:
    from desktop_app.core.profiles import Profile

    work = Profile(name="Work", base_url="https://llm.example.com/v1", model="m", has_key=True)
    in_memory_keyring.entries[("streamdesk", "Work")] = KEY  # type: ignore[attr-defined]
    async with open_window(
        [OFFLINE_DEMO_PROFILE, work], secrets=KeyringSecretStore(), list_models=False
    ) as window:
        dialog = await _open_dialog(window)
        dialog.list.setCurrentRow(1)
        assert "A key is saved" in dialog.form.key_state.text()
        assert dialog.form.key.text() == ""  # a saved key is never shown
        dialog.form.name.setText("Lab")
        applied = Catch(window.settingsApplied)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        await applied.wait()
    assert in_memory_keyring.entries == {("streamdesk", "Lab"): KEY}  # type: ignore[attr-defined]


async def test_theme_and_text_size_apply_at_once() -> None:
    async with open_window([OFFLINE_DEMO_PROFILE], list_models=False) as window:
        dialog = await _open_dialog(window)
        dialog.theme.setCurrentIndex(2)  # dark
        dialog.font_size.setValue(15)
        applied = Catch(window.settingsApplied)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        await applied.wait()
        assert window.chat_view.theme.dark
        assert window.chat_view.font().pointSizeF() == 15
        assert window.services.settings.theme == "dark"
        assert window.services.settings.font_size == 15
        window.set_theme_mode(ThemeMode.LIGHT)
        assert not window.chat_view.theme.dark
        window.set_theme_mode(ThemeMode.SYSTEM)  # the palette is app-wide: leave it as found


async def test_a_key_saved_in_a_keychain_this_session_cannot_reach_is_named(
    isolated_dirs: Path,
) -> None:
    """No request goes out without the key: it would come back as a 401 blaming the key."""
    import keyring
    from keyring.backends import fail

    from desktop_app.core.errors import NoKeychain
    from desktop_app.core.profiles import Profile, Settings
    from desktop_app.core.storage import HistoryStore
    from desktop_app.qt.errors import describe
    from desktop_app.qt.services import AppServices

    keyring.set_keyring(fail.Keyring())  # saved on a desktop, opened on a headless session
    work = Profile(name="Work", base_url="http://127.0.0.1:9/v1", model="m", has_key=True)
    services = AppServices(
        history=HistoryStore.in_memory(), profiles=[work], settings=Settings(), read_only=True
    )
    try:
        with pytest.raises(NoKeychain) as caught:
            await services.connect(work)
        sentence, hint = describe(caught.value)
        assert sentence == (
            "The API key of “Work” is saved in the system keychain, which is not available now."
        )
        assert "Settings" in hint
        assert "environment variable" in hint
        # A key given for this session (Settings' choice) is used as it is.
        store = await services.secret_store()
        assert isinstance(store, MemorySecretStore)
        store.set_key("Work", KEY)
        _client, endpoint = await services.connect(work)
        assert endpoint.api_key == KEY
    finally:
        await services.aclose()


async def test_opened_before_the_keychain_was_looked_for_the_form_learns_there_is_none(
    isolated_dirs: Path,
) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    async with open_window([OFFLINE_DEMO_PROFILE], read_only=False, list_models=False) as window:
        window.services.secrets_override = None  # as at start-up: nothing chosen yet
        assert window.services.secrets_known is None
        dialog = await _open_dialog(window)
        form = dialog.form
        assert "checking" in form.store_label.text()
        for _ in range(200):  # the keychain is looked for off the GUI thread
            if form.no_keychain.isVisibleTo(dialog):
                break
            await asyncio.sleep(0.01)
        assert form.no_keychain.isVisibleTo(dialog)
        assert form.use_session.isVisibleTo(dialog)
        assert "session only" in form.store_label.text()
        dialog.reject()
