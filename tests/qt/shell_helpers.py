"""Helpers for the window-level tests: a real stub, a window over it, bounded waits.

Every wait here is bounded, and nothing uses qtbot.wait* inside a coroutine
(it would start a nested Qt loop inside a running task and hang).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from desktop_app.core.profiles import Profile, Settings
from desktop_app.core.secrets import MemorySecretStore, SecretStore
from desktop_app.core.storage import HistoryStore
from desktop_app.qt.main_window import MainWindow
from desktop_app.qt.services import AppServices, RunningStubLike
from desktop_app.qt.tasks import TaskRegistry
from tests.qt.conftest import wait_signal, wait_until

TIMEOUT = 10.0


class Catch:
    """Connects to a signal at once (before the action that emits it) and awaits it later."""

    def __init__(self, signal: object) -> None:
        self._signal = signal
        self._future: asyncio.Future[tuple[object, ...]] = (
            asyncio.get_running_loop().create_future()
        )
        signal.connect(self._received)  # type: ignore[attr-defined]

    def _received(self, *args: object) -> None:
        if not self._future.done():
            self._future.set_result(args)

    async def wait(self) -> tuple[object, ...]:
        try:
            return await asyncio.wait_for(self._future, TIMEOUT)
        finally:
            self._signal.disconnect(self._received)  # type: ignore[attr-defined]


def stub_profile(url: str, name: str = "Stub", model: str = "demo") -> Profile:
    return Profile(name=name, provider="openai", base_url=f"{url}/v1", model=model)


@contextlib.asynccontextmanager
async def open_window(
    profiles: list[Profile],
    *,
    history: HistoryStore | None = None,
    secrets: SecretStore | None = None,
    stub_factory: object = None,
    settings: Settings | None = None,
    list_models: bool = True,
    read_only: bool = True,
) -> AsyncIterator[MainWindow]:
    """A started main window over in-memory history; shut down (bounded) on exit."""
    services = AppServices(
        history=history if history is not None else HistoryStore.in_memory(),
        profiles=profiles,
        settings=settings or Settings(),
        secrets_override=secrets if secrets is not None else MemorySecretStore(),
        read_only=read_only,
    )
    if stub_factory is not None:
        services.stub_factory = stub_factory  # type: ignore[assignment]
    window = MainWindow(services, TaskRegistry())
    if read_only:  # else the saved geometry was just restored: keep it
        window.resize(1000, 700)
    window.show()
    listed = Catch(window.modelsListed)
    window.start()
    try:
        if list_models:
            await listed.wait()
        yield window
    finally:
        await asyncio.wait_for(window.shutdown(), TIMEOUT)
        await dispose(window)


async def dispose(widget: object) -> None:
    """Delete a Qt object now, on this (the GUI) thread.

    Left to Python's garbage collector, a window in a reference cycle (a
    lambda connected to a signal) may be freed on whatever thread runs the
    collection, and Qt warns "Timers cannot be stopped from another thread".
    """
    import shiboken6

    widget.deleteLater()  # type: ignore[attr-defined]
    await wait_until(lambda: not shiboken6.isValid(widget), TIMEOUT)
    import gc

    gc.collect()  # what is left in cycles goes now, on this thread


async def send(window: MainWindow, text: str, model: str | None = None) -> str:
    """Type and send ``text``; returns the id of the answer that starts."""
    if model is not None:
        window.profile_bar.set_model(model)
    window.composer.set_text(text)
    assert window.composer.submit(), "the composer refused to send"
    controller = window.chat.stream_of(window.chat.current_id or -1)
    assert controller is not None
    return controller.message_id


async def send_and_finish(
    window: MainWindow, text: str, model: str | None = None
) -> tuple[str, str]:
    """Send and wait for the answer to end: (message id, status)."""
    done = Catch(window.chat.answerFinished)
    message_id = await send(window, text, model)
    _cid, finished_id, status = await done.wait()
    assert finished_id == message_id
    window.chat_view.flush()
    return message_id, str(status)


@dataclass
class SilentServer:
    """Accepts connections and reads requests but never answers (a hung server)."""

    port: int = 0
    posts: int = 0
    post_seen: asyncio.Event = field(default_factory=asyncio.Event)
    post_closed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        first = await reader.readline()
        is_post = first.startswith(b"POST")
        if is_post:
            self.posts += 1
            self.post_seen.set()
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass  # keep reading until the client goes away
        if is_post:
            self.post_closed.set()
        writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


@contextlib.contextmanager
def running_stub(**options: object) -> Iterator[RunningStubLike]:
    from server_stub.embedded import start_stub

    stub = start_stub(**options)  # type: ignore[arg-type]
    try:
        yield stub
    finally:
        stub.stop()


__all__ = [
    "TIMEOUT",
    "Catch",
    "SilentServer",
    "open_window",
    "running_stub",
    "send",
    "send_and_finish",
    "stub_profile",
    "wait_signal",
    "wait_until",
]
