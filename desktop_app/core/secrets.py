"""API keys: the system keychain through ``keyring``, or memory for this session only.

Owns: the ``SecretStore`` protocol, ``KeyringSecretStore`` (service
"streamdesk", one entry per profile name), ``MemorySecretStore``, where a
profile's key comes from (``resolve_api_key``), what to tell the user about
the keychain (``keychain_status``), and async wrappers that keep keychain
calls off the event loop with a timeout: an unlock prompt nobody answers
must not freeze the window (secretstorage#33 blocks forever).

Must not: fall back to a file, ever; put a key in an exception message, a
repr or a log line; or let a keyring exception type escape (every failure
becomes ``NoKeychain`` or ``SecretStoreError``).
"""

# ruff: noqa: ASYNC109 -- see "async, off the loop" below
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from desktop_app.core.errors import NoKeychain, SecretStoreError
from desktop_app.core.profiles import Profile

SERVICE = "streamdesk"
KEYCHAIN_TIMEOUT = 5.0

# The provider's usual variable, used only for its own official server: a
# local or third-party server speaking the OpenAI format must not receive
# the user's OpenAI key.
STANDARD_KEY_VARIABLES: Mapping[str, tuple[str, str]] = {
    "openai": ("OPENAI_API_KEY", "api.openai.com"),
    "anthropic": ("ANTHROPIC_API_KEY", "api.anthropic.com"),
}

T = TypeVar("T")


class SecretStore(Protocol):
    """Where keys live. Methods block (a keychain may prompt): use the ``a*`` helpers from async code."""

    @property
    def description(self) -> str:
        """A short sentence for Settings, e.g. "System keychain: Secret Service"."""
        ...

    def get_key(self, profile: str) -> str | None: ...

    def set_key(self, profile: str, key: str) -> None: ...

    def delete_key(self, profile: str) -> None:
        """Forget the key; no error when there was none."""
        ...


class MemorySecretStore:
    """Keys kept in this process only: gone when Streamdesk quits."""

    description = "No system keychain: keys are kept for this session only"

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"MemorySecretStore({len(self._keys)} keys)"

    def get_key(self, profile: str) -> str | None:
        return self._keys.get(profile)

    def set_key(self, profile: str, key: str) -> None:
        self._keys[profile] = key

    def delete_key(self, profile: str) -> None:
        self._keys.pop(profile, None)


class KeyringSecretStore:
    """The OS keychain (macOS Keychain, Secret Service, KWallet, Windows Credential Locker)."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringSecretStore(service={self.service!r})"

    @property
    def description(self) -> str:
        return keychain_status()

    def get_key(self, profile: str) -> str | None:
        import keyring

        found: str | None = self._call(lambda: keyring.get_password(self.service, profile))
        return found

    def set_key(self, profile: str, key: str) -> None:
        import keyring

        if not key:
            raise SecretStoreError("An empty API key cannot be saved.")
        self._call(lambda: keyring.set_password(self.service, profile, key))

    def delete_key(self, profile: str) -> None:
        import keyring
        from keyring.errors import PasswordDeleteError

        def delete() -> None:
            # No key there is what we wanted anyway.
            with contextlib.suppress(PasswordDeleteError):
                keyring.delete_password(self.service, profile)

        self._call(delete)

    @staticmethod
    def _call(action: Callable[[], T]) -> T:
        from keyring.errors import KeyringError, KeyringLocked, NoKeyringError

        if not keychain_available():
            raise NoKeychain()
        try:
            return action()
        except NoKeyringError:
            raise NoKeychain() from None
        except KeyringLocked:
            raise SecretStoreError(
                "The system keychain is locked.", hint="Unlock it and try again."
            ) from None
        # `from None` throughout: a backend's traceback could show the key in
        # a frame's locals to a crash reporter.
        except KeyringError:
            raise SecretStoreError("The system keychain refused the request.") from None
        except Exception:  # D-Bus, Security framework, Win32 errors...
            raise SecretStoreError("The system keychain failed.") from None


def keychain_available() -> bool:
    """False on a machine without a usable keychain (headless Linux gets ``fail.Keyring``)."""
    import keyring

    return _usable(keyring.get_keyring())


def keychain_status() -> str:
    """One sentence for Settings about where keys are kept."""
    import keyring

    backend = keyring.get_keyring()
    if not _usable(backend):
        return MemorySecretStore.description
    return f"System keychain: {_backend_name(backend)}"


def choose_secret_store() -> KeyringSecretStore | MemorySecretStore:
    """The keychain when there is one, else memory for this session (never a file)."""
    return KeyringSecretStore() if keychain_available() else MemorySecretStore()


def _usable(backend: object) -> bool:
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    inner = getattr(backend, "backends", None)  # the chainer: usable if one of its backends is
    if isinstance(inner, list | tuple):
        return any(_usable(b) for b in inner)
    return True


_FRIENDLY = {
    "SecretService": "Secret Service",
    "kwallet": "KWallet",
    "macOS": "macOS Keychain",
    "Windows": "Windows Credential Locker",
}


def _backend_name(backend: object) -> str:
    inner = getattr(backend, "backends", None)
    if isinstance(inner, list | tuple) and inner:
        return ", ".join(_backend_name(b) for b in inner if _usable(b))
    module = type(backend).__module__
    for fragment, name in _FRIENDLY.items():
        if fragment in module:
            return name
    return str(getattr(backend, "name", type(backend).__name__))


# ---------------------------------------------------------------- where a key comes from


def key_source(profile: Profile, environ: Mapping[str, str] | None = None) -> str | None:
    """Where ``resolve_api_key`` would look first with success, in words; None: nowhere."""
    env = os.environ if environ is None else environ
    variable = _variable_with_key(profile, env)
    if variable is not None:
        return f"the environment variable {variable}"
    if profile.has_key and not profile.embedded:
        return "the system keychain"
    return None


def resolve_api_key(
    profile: Profile, store: SecretStore, environ: Mapping[str, str] | None = None
) -> str | None:
    """The profile's key: its ``api_key_env`` variable, then the provider's usual
    variable (official server only), then the store (only when ``has_key``, so a
    local server without a key never triggers a keychain prompt).

    Blocks on the keychain: from async code use ``aresolve_api_key``. Raises
    ``NoKeychain``/``SecretStoreError`` when a saved key cannot be read.
    """
    env = os.environ if environ is None else environ
    variable = _variable_with_key(profile, env)
    if variable is not None:
        return env[variable]
    if profile.embedded or not profile.has_key:
        return None
    return store.get_key(profile.name)


def _variable_with_key(profile: Profile, env: Mapping[str, str]) -> str | None:
    if profile.embedded:
        return None  # the offline stub needs no key, and gets none
    if profile.api_key_env and env.get(profile.api_key_env):
        return profile.api_key_env
    standard = STANDARD_KEY_VARIABLES.get(profile.provider)
    if standard is not None:
        variable, host = standard
        if _host(profile.base_url) == host and env.get(variable):
            return variable
    return None


def _host(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


# ---------------------------------------------------------------- async, off the loop
# These take a ``timeout`` (ruff ASYNC109, allowed at the top) on purpose: running out of time is
# part of the answer (the keychain counts as unavailable: ``NoKeychain``),
# which a caller's ``asyncio.timeout`` would not say.


async def run_blocking(action: Callable[[], T], timeout: float = KEYCHAIN_TIMEOUT) -> T:
    """Run a keychain call in a daemon thread; a timeout counts as ``NoKeychain``.

    Not ``asyncio.to_thread``: a call stuck on an unanswered unlock prompt
    never returns, and the default executor joins its threads at shutdown
    (``asyncio.run``/``Runner.close`` and interpreter exit), so Streamdesk
    could not quit. A daemon thread is simply abandoned.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def work() -> None:
        try:
            result = action()
        except BaseException as exc:  # handed to the awaiting task, not lost
            error = exc
            _post(loop, lambda: deliver(lambda: future.set_exception(error)))
        else:
            _post(loop, lambda: deliver(lambda: future.set_result(result)))

    threading.Thread(target=work, name="streamdesk-keychain", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise NoKeychain(
            "The system keychain did not answer in time.",
            hint="If it asked to be unlocked, unlock it and try again; or give the key in an "
            "environment variable, or keep it in memory for this session only.",
        ) from None


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    # The loop may have closed while the keychain was busy: nobody is waiting then.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


async def aget_key(
    store: SecretStore, profile: str, timeout: float = KEYCHAIN_TIMEOUT
) -> str | None:
    return await run_blocking(lambda: store.get_key(profile), timeout)


async def aset_key(
    store: SecretStore, profile: str, key: str, timeout: float = KEYCHAIN_TIMEOUT
) -> None:
    await run_blocking(lambda: store.set_key(profile, key), timeout)


async def adelete_key(store: SecretStore, profile: str, timeout: float = KEYCHAIN_TIMEOUT) -> None:
    await run_blocking(lambda: store.delete_key(profile), timeout)


async def aresolve_api_key(
    profile: Profile,
    store: SecretStore,
    environ: Mapping[str, str] | None = None,
    timeout: float = KEYCHAIN_TIMEOUT,
) -> str | None:
    env = dict(os.environ if environ is None else environ)
    if _variable_with_key(profile, env) is not None or profile.embedded or not profile.has_key:
        return resolve_api_key(profile, store, env)  # no keychain call: no thread
    return await run_blocking(lambda: resolve_api_key(profile, store, env), timeout)


async def akeychain_status(
    timeout: float = KEYCHAIN_TIMEOUT,
) -> str:
    """``keychain_status`` off the loop (finding the backend may talk to D-Bus)."""
    try:
        return await run_blocking(keychain_status, timeout)
    except NoKeychain:
        return "The system keychain did not answer: keys are kept for this session only"
