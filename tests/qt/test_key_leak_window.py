"""The API key in no file the window writes, whatever the answers did.

A real window over a file-backed history and config (the test's isolated XDG
dirs) talks to the real stub on a loopback port; the stub requires the key,
so an answer that completes proves the key really went out. The window
streams one answer to the end, gets a 401, and has a stream break with an
error event mid-answer; the stream inspector is open (every answer's
inspection is kept in the history), a recording is saved from it and the
history is exported to JSON and Markdown the way the File menu does. After
the window closes, every byte of every file under the config, data, state
and cache dirs and the export folder is searched for the key in the forms a
careless writer would leave it: as is, URL-encoded, base64 at every byte
alignment (standard and URL-safe), UTF-16, and its random part alone.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from desktop_app.core import paths
from desktop_app.core.profiles import Profile, save_profiles
from desktop_app.core.secrets import KeyringSecretStore
from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.qt.history_transfer import export_to
from desktop_app.qt.main_window import MainWindow
from tests.qt.shell_helpers import open_window, running_stub, send_and_finish, wait_until

pytestmark = pytest.mark.asyncio

SECRET_PART = secrets.token_hex(16)
KEY = f"sk-leaktest-{SECRET_PART}"
PROFILE = "Leak test"


@pytest.fixture(scope="module")
def stub() -> Iterator[object]:
    with running_stub(
        tokens_per_second=3000.0, first_token_delay=0.0, keepalive_interval=0.0, api_key=KEY
    ) as s:
        yield s


def base64_cores(secret: bytes) -> set[bytes]:
    """What base64 of any data holding ``secret`` must contain, at each of the three
    alignments: the encoded characters that depend on ``secret``'s bytes only."""
    cores: set[bytes] = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + secret)
            start = 4 if offset else 0  # the group that mixes in the bytes before
            cores.add(encoded[start:-4])  # the last group may mix in the bytes after
    return cores


def forbidden_forms() -> dict[str, bytes]:
    forms: dict[str, bytes] = {}
    for name, text in (("key", KEY), ("random part", SECRET_PART)):
        forms[name] = text.encode()
        forms[f"{name}, URL-encoded"] = quote(text, safe="").encode()
        forms[f"{name}, form-encoded"] = quote_plus(text).encode()
        forms[f"{name}, UTF-16"] = text.encode("utf-16-le")
        for i, core in enumerate(sorted(base64_cores(text.encode()))):
            forms[f"{name}, base64 #{i}"] = core
    forms["Authorization header, base64"] = base64.b64encode(f"Bearer {KEY}".encode())[4:-4]
    return forms


def files_under(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file())


def open_inspector(window: MainWindow) -> None:
    toggle = window.inspector.toggleViewAction()
    assert toggle in window.commands.menus["&View"].actions()
    toggle.trigger()
    assert window.inspector.isVisible()


async def test_the_key_is_in_no_file_the_window_writes(
    stub: object, in_memory_keyring: object, isolated_dirs: Path, tmp_path: Path
) -> None:
    KeyringSecretStore().set_key(PROFILE, KEY)  # the suite's in-memory keyring backend
    profile = Profile(
        name=PROFILE,
        provider="openai",
        base_url=f"{stub.url}/v1",  # type: ignore[attr-defined]
        model="demo",
        has_key=True,
    )
    save_profiles([profile])
    exports = tmp_path / "exports"
    exports.mkdir()
    history = HistoryStore.open()  # the file under the isolated XDG data dir
    assert history.persistent

    async with open_window(
        [profile], history=history, secrets=KeyringSecretStore(), read_only=False
    ) as window:
        open_inspector(window)
        _, complete = await send_and_finish(window, "Tell me about tea")
        _, refused = await send_and_finish(window, "again", model="stub-http_401")
        _, broken = await send_and_finish(
            window, "and once more", model="stub-error_event_mid_stream"
        )
        assert window.inspector.model is not None
        await wait_until(lambda: window.inspector.model.exchanges != [])  # type: ignore[union-attr]
        assert window.inspector.save_recording(str(exports / "broken.jsonl"))
        await export_to(window, exports / "all.json", None, as_json=True)
        await export_to(window, exports / "all.md", None, as_json=False)
        assert "exported" in window.statusBar().currentMessage().lower()
    # open_window's exit is the app's shutdown: inspections written, history closed.

    with HistoryStore.open(maintenance=False) as store:
        (conversation,) = store.list_conversations()
        answers = [m for m in store.messages(conversation.id) if m.role == "assistant"]
        statuses = [m.status for m in answers]
        kept = [store.inspection(m.id) for m in answers]
    assert (complete, refused, broken) == ("complete", "error", "error")
    assert statuses == [MessageStatus.COMPLETE, MessageStatus.ERROR, MessageStatus.ERROR]
    assert answers[0].text
    assert not answers[1].text
    assert answers[2].text  # the part before the error event is kept
    assert answers[1].error_message
    assert answers[2].error_message
    assert all(kept), "every answer's inspection is in the history"
    assert "401" in (kept[1] or "")
    assert all('"Authorization":"Bearer ***"' in (k or "") for k in kept)  # sent, then masked

    xdg = [isolated_dirs / sub for sub in ("config", "data", "state", "cache")]
    for where in (paths.config_dir(), paths.data_dir(), paths.state_dir(), paths.cache_dir()):
        assert any(root in where.parents for root in xdg), where
    written = files_under(*xdg, exports)
    names = {p.name for p in written}
    # Not vacuous: the walk saw the history, the profiles, the window state and the exports.
    assert {paths.HISTORY_FILE, paths.PROFILES_FILE, "window.ini"} <= names, names
    assert {"all.json", "all.md", "broken.jsonl"} <= names, names
    assert b"Tell me about tea" in paths.history_path().read_bytes()
    assert PROFILE.encode() in paths.profiles_path().read_bytes()

    leaks = [
        f"{file}: {form}"
        for file in written
        for form, needle in forbidden_forms().items()
        if needle in file.read_bytes()
    ]
    assert leaks == []
