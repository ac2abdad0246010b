"""Chat traffic through a real HTTP proxy on loopback, from the profile's settings to the answer.

A small forwarding proxy written here receives the absolute-form request
(``POST http://host/path HTTP/1.1``), records its target and Proxy-Authorization,
resolves the host name ITSELF (``llm.streamdesk-test.invalid`` is the bundled
stub) and pipes the streamed answer back as it arrives. The client cannot
resolve that name (a guard answers every ``.invalid`` lookup with "not
found", no DNS query leaves the machine), so an answer proves it came through
the proxy, and a lookup proves the client went direct.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx
import pytest

from desktop_app.core.errors import (
    CertificateError,
    ConnectionFailed,
    ConnectTimeout,
    HTTPStatusError,
    StreamdeskError,
)
from desktop_app.core.events import StreamEvent, TurnEnded, TurnState
from desktop_app.core.network import NetworkSettings, network_settings
from desktop_app.core.observer import NullObserver, TurnObserver
from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, Profile
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.recording_observer import RecordingObserver
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient, translate_error
from server_stub.embedded import RunningStub, start_stub
from tests.core.byte_server import free_port

HOST = "llm.streamdesk-test.invalid"
BASE_URL = f"http://{HOST}/v1"
TARGET = f"http://{HOST}/v1/chat/completions"
KEY = "sk-proxy-test-0123456789abcdef"
REQUEST = ChatRequest(messages=(ChatMessage("user", "hi"),), model="stub-model")  # 53 tokens
NO_RETRY = TurnSettings(max_attempts=1)
PASSWORD = "pa:ss"  # written pa%3Ass in a URL
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


# ---------------------------------------------------------------- the proxy


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: Mapping[str, str]  # names in lower case


class ForwardProxy:
    """A forwarding HTTP/1.1 proxy on 127.0.0.1 (one request per connection).

    ``routes`` maps host names to the address the proxy connects to (an IP
    literal is reached as written). ``refuse``: answer every request, CONNECT
    included, with 407 Proxy Authentication Required. ``forwarded`` holds the
    time each piece of the answer was passed on: one per read from the server,
    written at once, never gathered.
    """

    def __init__(
        self, routes: Mapping[str, tuple[str, int]] | None = None, *, refuse: bool = False
    ) -> None:
        self.routes = dict(routes or {})
        self.refuse = refuse
        self.requests: list[SeenRequest] = []
        self.forwarded: list[float] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client left; nothing to pass on
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        kept: list[str] = []
        headers: dict[str, str] = {}
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
            if name.strip().lower() not in {
                "proxy-authorization",
                "proxy-connection",
                "connection",
            }:
                kept.append(line)
        self.requests.append(SeenRequest(method, target, headers))
        if self.refuse:
            await self._reply(writer, "407 Proxy Authentication Required", b"<h1>Denied</h1>")
            return
        if method == "CONNECT":
            await self._reply(writer, "501 Not Implemented", b"no tunnels here")
            return
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        where = self._resolve(target)
        if where is None:
            await self._reply(writer, "502 Bad Gateway", b"unknown host")
            return
        origin_form, address = where
        up_reader, up_writer = await asyncio.open_connection(*address)
        try:
            up_writer.write(
                f"{method} {origin_form} HTTP/1.1\r\n".encode("latin-1")
                + "".join(f"{line}\r\n" for line in kept).encode("latin-1")
                + b"Connection: close\r\n\r\n"
                + body
            )
            await up_writer.drain()
            # The server's bytes (status line, headers, chunked body) go back verbatim,
            # each read at once: a buffering proxy would turn a stream into one lump.
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
                self.forwarded.append(time.monotonic())
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError):
                await up_writer.wait_closed()

    def _resolve(self, target: str) -> tuple[str, tuple[str, int]] | None:
        """``(origin-form target, address)`` for an absolute-form target, or None."""
        scheme, _, rest = target.partition("://")
        authority, slash, path = rest.partition("/")
        if scheme != "http" or not authority:
            return None
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "80")
        if host in self.routes:
            return slash + path, self.routes[host]
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            return slash + path, (host, int(port))
        return None

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: str, body: bytes) -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\n".encode()
            + b'Proxy-Authenticate: Basic realm="corp"\r\n'
            + b"Content-Type: text/html\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def stub() -> Iterator[RunningStub]:
    # Paced so the answer to "hi" takes ~0.1 s: long enough to arrive in many pieces.
    with start_stub(tokens_per_second=500, first_token_delay=0.0) as running:
        yield running


@pytest.fixture(autouse=True)
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name this process resolves; ``.invalid`` names are "not found" without DNS."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        seen.append(name)
        if name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return seen


@pytest.fixture(autouse=True)
def no_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def set_environment_proxy(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, url)
        monkeypatch.setenv(name.lower(), url)


class ChunkTimes(NullObserver):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_chunk(self, data: bytes, at: float) -> None:
        self.times.append(at)


async def run_turn(
    network: NetworkSettings, base_url: str = BASE_URL, observer: TurnObserver | None = None
) -> TurnEnded:
    async with StreamingClient(network) as client, asyncio.timeout(5):
        events: list[StreamEvent] = [
            event
            async for event in stream_turn(
                client,
                get_provider("openai"),
                REQUEST,
                Endpoint(base_url, api_key=KEY),
                NO_RETRY,
                observer,
            )
        ]
    end = events[-1]
    assert isinstance(end, TurnEnded)
    return end


_answers: dict[str, str] = {}


async def stub_answer(stub: RunningStub) -> str:
    """The stub's whole answer to REQUEST, fetched directly (once)."""
    if stub.url not in _answers:
        end = await run_turn(NetworkSettings(trust_env=False), stub.url + "/v1")
        assert end.state is TurnState.COMPLETE, end.error
        _answers[stub.url] = end.text
    return _answers[stub.url]


def failure(end: TurnEnded) -> StreamdeskError:
    assert end.state is TurnState.FAILED
    assert end.error is not None
    return end.error


def routes(stub: RunningStub) -> dict[str, tuple[str, int]]:
    return {HOST: ("127.0.0.1", stub.port)}


# ---------------------------------------------------------------- through a proxy


@pytest.mark.asyncio
async def test_an_explicit_proxy_carries_the_answer_token_by_token(
    stub: RunningStub, lookups: list[str]
) -> None:
    expected = await stub_answer(stub)
    chunks = ChunkTimes()
    async with ForwardProxy(routes(stub)) as proxy:
        network = network_settings(Profile(name="corp", base_url=BASE_URL, proxy=proxy.url))
        assert network == NetworkSettings(proxy=proxy.url, trust_env=False)
        end = await run_turn(network, observer=chunks)
    assert end.state is TurnState.COMPLETE, end.error
    assert end.text == expected
    (seen,) = proxy.requests
    assert (seen.method, seen.target) == ("POST", TARGET)
    assert seen.headers["host"] == HOST
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert "proxy-authorization" not in seen.headers
    assert HOST not in lookups  # only the proxy knew where it is
    # Streamed, not gathered: many pieces, and the first reached the client
    # before the proxy had passed on the last.
    assert len(proxy.forwarded) > 1
    assert len(chunks.times) > 1
    assert chunks.times[0] < proxy.forwarded[-1]


@pytest.mark.asyncio
async def test_the_environment_proxy_carries_it_unless_no_proxy_names_the_host(
    stub: RunningStub, lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await stub_answer(stub)
    profile = Profile(name="system", base_url=BASE_URL)  # proxy None: the system's
    network = network_settings(profile)
    assert network == NetworkSettings(proxy=None, trust_env=True)
    chunks = ChunkTimes()
    async with ForwardProxy(routes(stub)) as proxy:
        set_environment_proxy(monkeypatch, proxy.url)
        end = await run_turn(network, observer=chunks)
        assert end.state is TurnState.COMPLETE, end.error
        assert end.text == expected
        assert [(r.method, r.target) for r in proxy.requests] == [("POST", TARGET)]
        assert len(proxy.forwarded) > 1
        assert chunks.times[0] < proxy.forwarded[-1]
        assert HOST not in lookups

        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, f"localhost,{HOST}")
        error = failure(await run_turn(network))
    assert len(proxy.requests) == 1  # the second turn never reached the proxy
    assert HOST in lookups  # the client looked the name up itself: it went direct
    assert type(error) is ConnectionFailed
    assert str(error) == f"Could not find the server {HOST}."
    assert error.hint == "Check the address and your internet connection."


@pytest.mark.asyncio
async def test_a_server_on_this_machine_goes_through_an_explicit_proxy_only(
    stub: RunningStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tester's mitmproxy on localhost is used when named; the environment's never is."""
    expected = await stub_answer(stub)
    local = stub.url + "/v1"
    async with ForwardProxy() as proxy:
        named = network_settings(Profile(name="mitm", base_url=local, proxy=proxy.url))
        assert named == NetworkSettings(proxy=proxy.url, trust_env=False)
        end = await run_turn(named, local)
        assert end.state is TurnState.COMPLETE, end.error
        assert end.text == expected
        assert [r.target for r in proxy.requests] == [f"{stub.url}/v1/chat/completions"]

        set_environment_proxy(monkeypatch, proxy.url)
        system = network_settings(Profile(name="local", base_url=local))
        assert system == NetworkSettings(proxy=None, trust_env=False)
        demo = network_settings(
            Profile(name="demo", embedded=True, proxy=proxy.url), base_url=local
        )
        assert demo == NetworkSettings(proxy=None, trust_env=False)
        assert network_settings(OFFLINE_DEMO_PROFILE, base_url=local) == demo
        for direct in (system, demo):
            end = await run_turn(direct, local)
            assert end.state is TurnState.COMPLETE, end.error
    assert len(proxy.requests) == 1  # the last two went direct


# ---------------------------------------------------------------- credentials


def leaks(text: str) -> list[str]:
    basic = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    return [s for s in (PASSWORD, "pa%3Ass", "pa%3ass", basic) if s in text]


@pytest.mark.asyncio
async def test_proxy_credentials_reach_the_proxy_and_nowhere_else(
    stub: RunningStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile cannot store a proxy password (validation refuses it), so it comes
    from the environment; an explicit proxy URL carries it the same way."""
    expected = await stub_answer(stub)
    basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    async with ForwardProxy(routes(stub)) as proxy:
        with_password = f"http://user:pa%3Ass@{proxy.address}"
        set_environment_proxy(monkeypatch, with_password)
        recorder = RecordingObserver(secret=KEY, provider="openai")
        end = await run_turn(
            network_settings(Profile(name="env", base_url=BASE_URL)), observer=recorder
        )
        assert end.state is TurnState.COMPLETE, end.error
        assert end.text == expected
        recorder.finish(end)
        assert leaks(recorder.recording().dumps()) == []

        monkeypatch.delenv("HTTP_PROXY")
        monkeypatch.delenv("http_proxy")
        end = await run_turn(NetworkSettings(proxy=with_password, trust_env=False))
        assert end.state is TurnState.COMPLETE, end.error
    assert [r.headers.get("proxy-authorization") for r in proxy.requests] == [basic, basic]


@pytest.mark.parametrize("base_url", [BASE_URL, f"https://{HOST}/v1"])
@pytest.mark.asyncio
async def test_a_refusing_or_absent_proxy_never_shows_the_password(base_url: str) -> None:
    async with ForwardProxy(refuse=True) as proxy:
        address = proxy.address
        for proxy_address in (address, f"127.0.0.1:{free_port()}"):
            with_password = f"http://user:pa%3Ass@{proxy_address}"
            recorder = RecordingObserver(secret=KEY, provider="openai")
            end = await run_turn(
                NetworkSettings(proxy=with_password, trust_env=False), base_url, recorder
            )
            error = failure(end)
            recorder.finish(end)
            words = " ".join((str(error), error.hint, repr(error), recorder.recording().dumps()))
            assert leaks(words) == []
            assert "proxy" in str(error)
    # The refusing proxy was asked once, with the credentials (a tunnel's CONNECT too).
    basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert [r.headers.get("proxy-authorization") for r in proxy.requests] == [basic]


# ---------------------------------------------------------------- a proxy that says no


@pytest.mark.parametrize(
    ("base_url", "method"),
    [
        (BASE_URL, "POST"),  # the proxy's answer to a forwarded request
        (f"https://{HOST}/v1", "CONNECT"),  # httpx's ProxyError for a refused tunnel
    ],
)
@pytest.mark.asyncio
async def test_a_proxy_asking_for_credentials_says_so(base_url: str, method: str) -> None:
    async with ForwardProxy(refuse=True) as proxy:
        network = NetworkSettings(proxy=proxy.url, trust_env=False)
        # With the session's own retries: a 407 is a status, asked once (a proxy may lock
        # an account after a few refused passwords).
        async with StreamingClient(network) as client, asyncio.timeout(10):
            events = [
                event
                async for event in stream_turn(
                    client, get_provider("openai"), REQUEST, Endpoint(base_url, api_key=KEY)
                )
            ]
        end = events[-1]
        assert isinstance(end, TurnEnded)
        error = failure(end)
    assert [r.method for r in proxy.requests] == [method]
    assert type(error) is HTTPStatusError
    assert str(error) == (
        f"The proxy {proxy.address} asks for a user name and password "
        "(HTTP 407 Proxy Authentication Required)."
    )
    assert "HTTPS_PROXY" in error.hint
    assert "user:password@" in error.hint
    if isinstance(error, HTTPStatusError):
        assert error.status == 407
        assert error.server_message == ""  # the proxy's page is not the server's words


@pytest.mark.asyncio
async def test_a_proxy_refusing_its_credentials_says_so() -> None:
    async with ForwardProxy(refuse=True) as proxy:
        with_password = f"http://user:pa%3Ass@{proxy.address}"
        error = failure(await run_turn(NetworkSettings(proxy=with_password, trust_env=False)))
    assert isinstance(error, HTTPStatusError)
    assert error.status == 407
    assert str(error) == (
        f"The proxy {proxy.address} did not accept its user name and password "
        "(HTTP 407 Proxy Authentication Required)."
    )


# ---------------------------------------------------------------- a proxy that is down


@pytest.mark.parametrize("base_url", [BASE_URL, f"https://{HOST}/v1"])
@pytest.mark.parametrize("source", ["profile", "environment"])
@pytest.mark.asyncio
async def test_a_proxy_that_is_down_is_named_not_the_server(
    base_url: str, source: str, monkeypatch: pytest.MonkeyPatch, lookups: list[str]
) -> None:
    down = f"127.0.0.1:{free_port()}"
    if source == "profile":
        network = network_settings(Profile(name="p", base_url=base_url, proxy=f"http://{down}"))
    else:
        set_environment_proxy(monkeypatch, f"http://{down}")
        network = network_settings(Profile(name="p", base_url=base_url))
    error = failure(await run_turn(network, base_url))
    assert type(error) is ConnectionFailed
    assert str(error) == f"Could not connect to the proxy {down}: the connection was refused."
    assert "proxy" in error.hint
    assert HOST not in lookups


@pytest.mark.asyncio
async def test_a_proxy_name_that_does_not_resolve_is_named(
    monkeypatch: pytest.MonkeyPatch, lookups: list[str]
) -> None:
    set_environment_proxy(monkeypatch, "http://proxy.streamdesk-test.invalid:3128")
    error = failure(await run_turn(network_settings(Profile(name="p", base_url=BASE_URL))))
    assert type(error) is ConnectionFailed
    assert str(error) == "Could not find the proxy proxy.streamdesk-test.invalid."
    assert "proxy" in error.hint
    assert lookups == ["proxy.streamdesk-test.invalid"]  # never the server's name


# ---------------------------------------------------------------- the sentences, without sockets


def chained(outer: BaseException, root: BaseException) -> BaseException:
    outer.__cause__ = root
    return outer


def untrusted() -> ssl.SSLCertVerificationError:
    root = ssl.SSLCertVerificationError(1, "certificate verify failed")
    root.verify_message = "self-signed certificate"
    return root


@pytest.mark.parametrize(
    ("exc", "kind", "sentence"),
    [
        (
            httpx.ConnectTimeout("x"),
            ConnectTimeout,
            f"Connecting to {HOST} through the proxy p.corp:3128 took too long.",
        ),
        (
            httpx.ProxyError("502 Bad Gateway"),
            ConnectionFailed,
            f"Could not reach {HOST} through the proxy p.corp:3128: 502 Bad Gateway.",
        ),
        (
            chained(httpx.ConnectError("x"), OSError(113, "No route to host")),
            ConnectionFailed,
            "Could not connect to the proxy p.corp:3128: [Errno 113] No route to host.",
        ),
        # Through a tunnel, TLS is with the server: its certificate is the server's.
        (
            chained(httpx.ConnectError("x"), untrusted()),
            CertificateError,
            f"The security certificate of {HOST} could not be verified (self-signed certificate).",
        ),
    ],
)
def test_failures_on_the_way_name_the_proxy_without_its_password(
    exc: BaseException, kind: type[StreamdeskError], sentence: str
) -> None:
    error = translate_error(exc, f"https://{HOST}/v1", proxy="http://user:pa%3Ass@p.corp:3128")
    assert type(error) is kind
    assert str(error) == sentence
    assert leaks(str(error) + error.hint) == []
