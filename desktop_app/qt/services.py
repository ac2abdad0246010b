"""What the window runs on: history, profiles, settings, keys, HTTP clients, the offline stub.

``AppServices`` opens the history and reads the config files (quick, on the
GUI thread, before the window shows) and does everything slow lazily and off
the GUI thread: choosing the keychain backend (may talk to D-Bus), building
an HTTP client per network configuration (an SSL context costs 40-100 ms),
starting the embedded stub for the "Offline demo" profile (a free loopback
port, in-process), reading a key (an unlock prompt must not freeze the
window). ``connect(profile)`` does all of that for one turn and is awaited
inside the stream task, so Stop works while any of it is pending.

Problems found while opening (a corrupt or too-new history, a broken
profiles file) do not stop the app: they are kept in ``problems`` for the
window to show once. It must not touch widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from desktop_app.core import profiles as profiles_mod
from desktop_app.core.errors import ConfigError, NoKeychain, StreamdeskError
from desktop_app.core.network import NetworkSettings, network_settings
from desktop_app.core.profiles import Profile, Settings
from desktop_app.core.providers.base import Endpoint
from desktop_app.core.secrets import (
    KeyringSecretStore,
    MemorySecretStore,
    SecretStore,
    aresolve_api_key,
    choose_secret_store,
    run_blocking,
)
from desktop_app.core.storage import HistoryStore

if TYPE_CHECKING:
    # Imported when the first client is built, after the first paint.
    from desktop_app.core.transport import StreamingClient
    from desktop_app.qt.offline_answers import NextAnswer

log = logging.getLogger(__name__)


class RunningStubLike(Protocol):
    """What the app needs of ``server_stub.embedded.RunningStub``."""

    @property
    def url(self) -> str: ...

    @property
    def app(self) -> Any: ...  # the Starlette app: recordings are registered with it

    def stop(self, timeout: float = 10.0) -> None: ...


def _default_stub() -> RunningStubLike:
    # Imported when first needed: starlette and uvicorn stay off the start-up path.
    from server_stub.embedded import start_stub

    return start_stub()


@dataclass
class AppServices:
    """Long-lived services of one window. Use ``AppServices.open()``; close with ``aclose()``."""

    history: HistoryStore
    profiles: list[Profile]
    settings: Settings
    problems: list[StreamdeskError] = field(default_factory=list)
    stub_factory: Callable[[], RunningStubLike] = _default_stub
    secrets_override: SecretStore | None = None
    read_only: bool = False  # the self-test: never write the user's config files
    _stub: RunningStubLike | None = None
    _stub_task: asyncio.Task[RunningStubLike] | None = None
    _secrets: SecretStore | None = None
    _secrets_task: asyncio.Task[SecretStore] | None = None
    _clients: dict[NetworkSettings, asyncio.Task[StreamingClient]] = field(default_factory=dict)
    _session_keys: set[str] = field(default_factory=set)
    _closed: bool = False

    def __post_init__(self) -> None:
        # A damaged or too-new history opened anyway says so once, in the window.
        for warning in self.history.warnings:
            if warning not in self.problems:
                self.problems.append(warning)

    @classmethod
    def open(
        cls,
        *,
        history: HistoryStore | None = None,
        stub_factory: Callable[[], RunningStubLike] | None = None,
        secrets: SecretStore | None = None,
    ) -> AppServices:
        problems: list[StreamdeskError] = []
        store = history if history is not None else HistoryStore.open()
        try:
            profiles = profiles_mod.load_profiles()
        except ConfigError as exc:
            problems.append(exc)
            profiles = profiles_mod.default_profiles()
        try:
            settings = profiles_mod.load_settings()
        except ConfigError as exc:
            problems.append(exc)
            settings = Settings()
        services = cls(
            history=store,
            profiles=profiles,
            settings=settings,
            problems=problems,
            secrets_override=secrets,
        )
        if stub_factory is not None:
            services.stub_factory = stub_factory
        return services

    # ------------------------------------------------------------ profiles and settings

    def profile(self, name: str | None) -> Profile:
        """The named profile, else the last used, else the first (the offline demo)."""
        for wanted in (name, self.settings.last_profile):
            if wanted:
                with contextlib.suppress(ConfigError):
                    return profiles_mod.find(self.profiles, wanted)
        if self.profiles:
            return self.profiles[0]
        return profiles_mod.OFFLINE_DEMO_PROFILE

    def save_profiles(
        self, profiles: list[Profile], *, session_keys: set[str] | frozenset[str] = frozenset()
    ) -> None:
        """Validate and write the profiles (raises ``ConfigError`` with a sentence).

        ``session_keys``: profiles whose key is kept in memory for this session
        only; the file says they have no key, so the next start does not look
        for one that is gone.
        """
        checked = profiles_mod.validate_all(profiles)
        self._session_keys |= set(session_keys)
        on_disk = [
            dataclasses.replace(p, has_key=False) if p.name in self._session_keys else p
            for p in checked
        ]
        if not self.read_only:
            profiles_mod.save_profiles(on_disk)
        self.profiles = checked

    def save_settings(self, settings: Settings) -> None:
        if not self.read_only:
            try:
                profiles_mod.save_settings(settings)
            except (ConfigError, OSError):
                log.warning("could not save the settings", exc_info=True)
        self.settings = settings

    # ------------------------------------------------------------ keys

    async def secret_store(self) -> SecretStore:
        """The keychain if there is one, else memory for this session (chosen off the loop)."""
        if self.secrets_override is not None:
            return self.secrets_override
        if self._secrets is not None:
            return self._secrets
        if self._secrets_task is None:
            self._secrets_task = asyncio.ensure_future(self._choose_secrets())
        return await asyncio.shield(self._secrets_task)

    async def _choose_secrets(self) -> SecretStore:
        try:
            store: SecretStore = await run_blocking(choose_secret_store)
        except StreamdeskError:
            store = MemorySecretStore()
        self._secrets = store
        return store

    @property
    def secrets_known(self) -> SecretStore | None:
        """The store, if already chosen (the settings dialog shows which)."""
        return self.secrets_override or self._secrets

    def _keychain_was_wanted(self, store: SecretStore) -> bool:
        """True where the keychain was looked for and memory stands in for it (a store
        given by the caller, as in tests, is taken as it is)."""
        return self.secrets_override is None and not isinstance(store, KeyringSecretStore)

    # ------------------------------------------------------------ the offline stub

    @property
    def stub_url(self) -> str | None:
        return self._stub.url if self._stub is not None else None

    async def ensure_stub(self) -> str:
        """Start the embedded stub once (in a thread: it binds and waits for uvicorn)."""
        if self._stub is not None:
            return self._stub.url
        if self._closed:
            raise ConfigError("Streamdesk is closing.")
        if self._stub_task is None:
            self._stub_task = asyncio.ensure_future(asyncio.to_thread(self.stub_factory))
        stub = await asyncio.shield(self._stub_task)
        self._stub = stub
        return stub.url

    async def base_url(self, profile: Profile) -> str:
        if profile.embedded and not profile.base_url:
            return (await self.ensure_stub()) + "/v1"
        return profile.base_url

    async def recording_answer(self, path: Path | str, speed: float = 1.0) -> NextAnswer:
        """The embedded stub will answer with the recording at ``path`` (read in a thread).

        Raises ``InvalidRecording`` with words for a file that cannot be replayed.
        """
        from desktop_app.qt.offline_answers import recording_answer

        await self.ensure_stub()
        stub = self._stub
        assert stub is not None
        return await asyncio.to_thread(recording_answer, stub.app, stub.url, path, speed)

    # ------------------------------------------------------------ clients and endpoints

    async def client_for(self, network: NetworkSettings) -> StreamingClient:
        """One reused client per network configuration (built off the loop, once)."""
        if self._closed:
            raise ConfigError("Streamdesk is closing.")
        task = self._clients.get(network)
        if task is None:
            from desktop_app.core.transport import StreamingClient

            task = asyncio.ensure_future(
                asyncio.to_thread(StreamingClient, network, trust_env=network.trust_env)
            )
            self._clients[network] = task
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and not task.cancelled() and task.exception() is not None:
                self._clients.pop(network, None)  # try again next time
            raise

    async def connect(
        self, profile: Profile, answer: NextAnswer | None = None
    ) -> tuple[StreamingClient, Endpoint]:
        """Everything a turn to ``profile`` needs; awaited inside the stream task.

        ``answer``: the offline stub answers this turn as the tester chose (a
        scenario's header, or a recording's token, base URL and format).
        """
        base_url = await self.base_url(profile)
        if answer is not None and answer.base_url:
            base_url = answer.base_url
        client = await self.client_for(network_settings(profile, base_url))
        store = await self.secret_store()
        key = await aresolve_api_key(profile, store)
        if key is None and profile.has_key and self._keychain_was_wanted(store):
            # Saved in a keychain this session cannot reach: sending without it would come
            # back as a 401 that blames the key, not the missing keychain.
            raise NoKeychain(
                f"The API key of “{profile.name}” is saved in the system keychain, "
                "which is not available now.",
                hint="Enter the key in Settings to use it for this session, or name an "
                "environment variable that holds it.",
            )
        headers = dict(profile.extra_headers)
        if answer is not None:
            headers.update(answer.headers)
        endpoint = Endpoint(
            base_url=base_url,
            api_key=key,
            extra_headers=headers,
            stream_url=profile.stream_url,
        )
        return client, endpoint

    async def warm_up(self, profile: Profile) -> None:
        """Start what the first message will need, so it goes out at once."""
        try:
            base_url = await self.base_url(profile)
            await self.client_for(network_settings(profile, base_url))
            await self.secret_store()
        except StreamdeskError:
            pass  # the first turn reports it in words
        except Exception:
            log.warning("warming up profile %s failed", profile.name, exc_info=True)

    # ------------------------------------------------------------ closing

    async def aclose(self) -> None:
        """Close every client, stop the stub (joining its thread) and close the history."""
        self._closed = True
        for task in list(self._clients.values()):
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                client = await task
                await client.aclose()
        self._clients.clear()
        stub = self._stub
        if stub is None and self._stub_task is not None:
            with contextlib.suppress(BaseException):
                stub = await self._stub_task
        if stub is not None:
            self._stub = None
            await asyncio.to_thread(stub.stop)
        if self._secrets_task is not None and not self._secrets_task.done():
            self._secrets_task.cancel()
            with contextlib.suppress(BaseException):
                await self._secrets_task
        self.history.close()
