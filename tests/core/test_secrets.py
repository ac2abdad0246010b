"""API keys: the keychain (in-memory backend), no keychain, a hanging keychain, where keys come from."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringError

from desktop_app.core.errors import NoKeychain, SecretStoreError
from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, Profile
from desktop_app.core.secrets import (
    SERVICE,
    KeyringSecretStore,
    MemorySecretStore,
    SecretStore,
    adelete_key,
    aget_key,
    akeychain_status,
    aresolve_api_key,
    aset_key,
    choose_secret_store,
    key_source,
    keychain_available,
    keychain_status,
    resolve_api_key,
)

KEY = "sk-test-9f8e7d6c5b4a"


class HangingKeyring(KeyringBackend):
    """A keychain waiting on an unlock prompt nobody answers."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self.release.wait(30)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(30)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(30)


class BrokenKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


@pytest.fixture
def hanging() -> Iterator[HangingKeyring]:
    backend = HangingKeyring()
    keyring.set_keyring(backend)
    yield backend
    backend.release.set()  # let the abandoned thread finish


def test_keychain_store_uses_service_streamdesk_and_the_profile_name(
    in_memory_keyring: object,
) -> None:
    store = KeyringSecretStore()
    assert store.get_key("Work") is None
    store.set_key("Work", KEY)
    assert store.get_key("Work") == KEY
    assert in_memory_keyring.entries == {(SERVICE, "Work"): KEY}  # type: ignore[attr-defined]
    store.delete_key("Work")
    store.delete_key("Work")  # again: no error
    assert store.get_key("Work") is None
    assert KEY not in repr(store)
    with pytest.raises(SecretStoreError, match="empty"):
        store.set_key("Work", "")


def test_status_names_the_keychain() -> None:
    assert keychain_available()
    assert keychain_status().startswith("System keychain: ")
    assert isinstance(choose_secret_store(), KeyringSecretStore)


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
def test_no_keychain(backend: type[KeyringBackend]) -> None:
    keyring.set_keyring(backend())
    store = KeyringSecretStore()
    for call in (
        lambda: store.get_key("p"),
        lambda: store.set_key("p", KEY),
        lambda: store.delete_key("p"),
    ):
        with pytest.raises(NoKeychain) as caught:
            call()
        assert "No system keychain" in str(caught.value)
        assert "environment variable" in caught.value.hint
    assert not keychain_available()
    assert keychain_status() == "No system keychain: keys are kept for this session only"
    fallback = choose_secret_store()
    assert isinstance(fallback, MemorySecretStore)
    fallback.set_key("p", KEY)
    assert fallback.get_key("p") == KEY
    assert KEY not in repr(fallback)


@pytest.mark.parametrize("error", [KeyringError("boom " + KEY), RuntimeError("dbus " + KEY)])
def test_backend_failures_are_sentences_without_the_key(error: Exception) -> None:
    keyring.set_keyring(BrokenKeyring(error))
    store = KeyringSecretStore()
    with pytest.raises(SecretStoreError) as caught:
        store.set_key("p", KEY)
    assert KEY not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_memory_store() -> None:
    store: SecretStore = MemorySecretStore()
    assert "session only" in store.description
    store.set_key("a", KEY)
    store.delete_key("a")
    store.delete_key("a")
    assert store.get_key("a") is None


# ---------------------------------------------------------------- where the key comes from

OPENAI = Profile(name="OpenAI", provider="openai", base_url="https://api.openai.com/v1")
LOCAL = Profile(name="Ollama", provider="openai", base_url="http://localhost:11434/v1")


def test_the_profiles_own_variable_comes_first() -> None:
    store = MemorySecretStore()
    store.set_key("OpenAI", "from-keychain")
    profile = Profile(
        name="OpenAI",
        base_url="https://api.openai.com/v1",
        api_key_env="MY_KEY",
        has_key=True,
    )
    env = {"MY_KEY": "from-mine", "OPENAI_API_KEY": "from-standard"}
    assert resolve_api_key(profile, store, env) == "from-mine"
    assert key_source(profile, env) == "the environment variable MY_KEY"
    assert resolve_api_key(profile, store, {"OPENAI_API_KEY": "from-standard"}) == "from-standard"
    assert resolve_api_key(profile, store, {"MY_KEY": ""}) == "from-keychain"
    assert key_source(profile, {}) == "the system keychain"


def test_the_standard_variable_only_goes_to_the_official_server() -> None:
    env = {"OPENAI_API_KEY": "openai-key", "ANTHROPIC_API_KEY": "anthropic-key"}
    store = MemorySecretStore()
    assert resolve_api_key(OPENAI, store, env) == "openai-key"
    assert resolve_api_key(LOCAL, store, env) is None  # Ollama must not get the OpenAI key
    openrouter = Profile(
        name="OpenRouter",
        base_url="https://openrouter.ai/api/v1",
        api_key_env="OPENROUTER_API_KEY",
    )
    assert resolve_api_key(openrouter, store, env) is None
    anthropic = Profile(
        name="Anthropic", provider="anthropic", base_url="https://api.anthropic.com/v1"
    )
    assert resolve_api_key(anthropic, store, env) == "anthropic-key"
    generic = Profile(name="g", provider="generic", base_url="https://api.openai.com/v1")
    assert resolve_api_key(generic, store, env) is None
    assert key_source(LOCAL, env) is None


def test_the_keychain_is_asked_only_when_a_key_was_saved() -> None:
    keyring.set_keyring(fail.Keyring())  # any keychain call would raise
    store = KeyringSecretStore()
    assert resolve_api_key(LOCAL, store, {}) is None
    assert resolve_api_key(OFFLINE_DEMO_PROFILE, store, {"OPENAI_API_KEY": KEY}) is None
    saved = Profile(name="Saved", base_url="https://x.example", has_key=True)
    with pytest.raises(NoKeychain):
        resolve_api_key(saved, store, {})


# ---------------------------------------------------------------- async helpers


@pytest.mark.asyncio
async def test_async_helpers_round_trip() -> None:
    store = KeyringSecretStore()
    await aset_key(store, "Work", KEY, timeout=5)
    assert await aget_key(store, "Work", timeout=5) == KEY
    profile = Profile(name="Work", base_url="https://x.example", has_key=True)
    assert await aresolve_api_key(profile, store, {}, timeout=5) == KEY
    await adelete_key(store, "Work", timeout=5)
    assert await aget_key(store, "Work", timeout=5) is None
    assert (await akeychain_status(timeout=5)).startswith("System keychain")


@pytest.mark.asyncio
async def test_async_errors_come_through() -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(NoKeychain):
        await aget_key(KeyringSecretStore(), "p", timeout=5)


@pytest.mark.asyncio
async def test_a_hanging_keychain_times_out_without_blocking_the_loop(
    hanging: HangingKeyring,
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(NoKeychain, match="did not answer in time"):
            await aget_key(KeyringSecretStore(), "p", timeout=0.2)
        profile = Profile(name="p", base_url="https://x.example", has_key=True)
        with pytest.raises(NoKeychain):
            await aresolve_api_key(profile, KeyringSecretStore(), {}, timeout=0.1)
        # A key in the environment needs no keychain at all: no wait.
        with_env = Profile(name="p", base_url="https://x.example", has_key=True, api_key_env="K")
        assert (
            await aresolve_api_key(with_env, KeyringSecretStore(), {"K": KEY}, timeout=0.1) == KEY
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert ticks >= 5  # the loop kept running while the keychain hung
    assert hanging.calls == 2
