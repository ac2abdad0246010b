"""Run the stub inside another process: uvicorn on its own loop in a daemon thread.

Owns starting (returns once the socket listens), the URL, and a clean, idempotent stop that
ends running streams, closes connections and joins the thread. The app's offline default and
the tests use this; ``__main__`` shares ``bind`` and ``StubServer`` to run it as a process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from server_stub.app import create_app
from server_stub.settings import StubSettings
from server_stub.state import StubState


class StubServer(uvicorn.Server):
    """uvicorn's server, ending every running stream before its graceful shutdown.

    Without this, uvicorn waits for open streams to finish (keepalive_only never does).
    """

    def __init__(self, config: uvicorn.Config, state: StubState) -> None:
        super().__init__(config)
        self.stub_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stub_state.end_all_streams()
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port. Listening now means a client may
    connect as soon as the URL is known (connections wait in the backlog)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it Nagle + delayed ACKs add 40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    """The URL a client on this machine can use: a wildcard address (0.0.0.0, ::) means every
    interface but is no address to connect to, so its loopback stands in for it."""
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def interface_of(sock: socket.socket) -> str:
    """Where the socket listens, as ``host:port`` with a wildcard address spelled out."""
    host, port = sock.getsockname()[:2]
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not ipaddress.ip_address(host).is_unspecified:
        return where
    if ":" in host:
        return f"{where} (every IPv6 interface, and IPv4 too on most systems)"
    return f"{where} (every IPv4 interface)"


def make_server(app: Starlette, *, embedded: bool) -> StubServer:
    config = uvicorn.Config(
        app,
        log_level="warning",
        # Embedded: leave the host process's logging configuration alone.
        log_config=None if embedded else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=3,
    )
    return StubServer(config, app.state.stub)


class RunningStub:
    """A stub serving in a background thread. ``stop()`` is idempotent; also a context manager."""

    def __init__(self, app: Starlette, sock: socket.socket, server: StubServer) -> None:
        self.app = app
        self.url = url_of(sock)
        self.port: int = sock.getsockname()[1]
        self._sock = sock
        self._server = server
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="streamdesk-stub", daemon=True)

    @property
    def state(self) -> StubState:
        """Counters and stores, readable from any thread (for tests and diagnostics)."""
        state: StubState = self.app.state.stub
        return state

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # uvicorn calls sys.exit() on startup errors
            self._error = exc

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the stub server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the stub server did not start in time")
            time.sleep(0.002)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningStub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningStub {self.url} scenario={self.state.settings.scenario}>"


def start_stub(
    scenario: str | None = None,
    tokens_per_second: float | None = None,
    first_token_delay: float | None = None,
    *,
    keepalive_interval: float | None = None,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    settings: StubSettings | None = None,
    timeout: float = 10.0,
) -> RunningStub:
    """Start a stub in a daemon thread; returns once it accepts connections."""
    settings = settings or StubSettings()
    settings = dataclasses.replace(
        settings,
        scenario=settings.scenario if scenario is None else scenario,
        tokens_per_second=(
            settings.tokens_per_second if tokens_per_second is None else tokens_per_second
        ),
        first_token_delay=(
            settings.first_token_delay if first_token_delay is None else first_token_delay
        ),
        keepalive_interval=(
            settings.keepalive_interval if keepalive_interval is None else keepalive_interval
        ),
        api_key=settings.api_key if api_key is None else api_key,
    )
    app = create_app(settings)
    sock = bind(host, port)
    running = RunningStub(app, sock, make_server(app, embedded=True))
    running._thread.start()
    running._wait_started(timeout)
    return running
