"""The one place that awaits the network, and the only module that imports httpx.

It owns one reused ``httpx.AsyncClient`` per network configuration (building
one costs 40-100 ms: research/performance.md), opens streaming requests, hands
body chunks out one at a time, reads error bodies with a size bound, and turns
every httpx exception and every non-2xx status into the error tree of
``core.errors`` with a sentence a user understands. Nothing above this module
sees an httpx type; switching to httpx2 is the import line below.

It must not parse SSE, know a provider's wire format (beyond calling its
``error_message``) or decide about retries and timeouts of a turn: that is
``core.session``. Leaving a stream (``aclose``), on any path including
cancellation, closes the connection so the server sees the client go.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from urllib.parse import urljoin

import httpx  # the one httpx import of the app (httpx2: `import httpx2 as httpx`)

from desktop_app import __version__
from desktop_app.core.errors import (
    CertificateError,
    ConfigError,
    ConnectionFailed,
    ConnectTimeout,
    HTTPStatusError,
    IdleTimeout,
    Interrupted,
    StreamdeskError,
    StreamProtocolError,
    TimedOut,
    TransportError,
    UnexpectedResponse,
)
from desktop_app.core.http_errors import error_for_status, host_of, hostname_of, proxy_refusal
from desktop_app.core.network import NetworkSettings, environment_proxies, proxy_for
from desktop_app.core.observer import mask_secret
from desktop_app.core.providers.base import ChatRequest, Endpoint, Provider

USER_AGENT = f"Streamdesk/{__version__}"
ERROR_BODY_LIMIT = 64 * 1024


class HttpStream:
    """An open HTTP response whose body is read chunk by chunk. Always ``aclose()`` it."""

    def __init__(self, response: httpx.Response, *, secret: str | None) -> None:
        self._response = response
        self._chunks: AsyncIterator[bytes] | None = None
        self._secret = secret
        self.status: int = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.url: str = str(response.request.url)

    @property
    def content_type(self) -> str:
        """The media type's essence in lower case (``text/event-stream``), or ``""``."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def is_event_stream(self) -> bool:
        return self.content_type == "text/event-stream"

    def header_url(self, name: str) -> str | None:
        """A URL header (``Location``, ``Content-Location``) resolved against the request URL."""
        value = self.headers.get(name)
        return urljoin(self.url, value.strip()) if value and value.strip() else None

    async def next_chunk(self) -> bytes:
        """The next body bytes as they arrive; ``b""`` at the end of the body.

        A connection lost mid-body raises ``Interrupted`` (the session may
        resume); other failures raise their typed error.
        """
        if self._chunks is None:
            # aiter_bytes undoes a Content-Encoding (some proxies gzip streams);
            # never aiter_lines, which splits JSON on U+2028 (ecosystem.md §2).
            self._chunks = self._response.aiter_bytes()
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return b""
        except httpx.ReadTimeout as exc:
            raise IdleTimeout(
                f"The answer stopped arriving: {host_of(self.url)} sent nothing for too long."
            ) from exc
        except httpx.DecodingError as exc:
            raise StreamProtocolError(
                f"The stream from {host_of(self.url)} could not be decompressed."
            ) from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise Interrupted(
                f"The connection to {host_of(self.url)} was lost before the answer finished."
            ) from exc

    async def read_body(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        """Up to ``limit`` bytes of the body (an error page); what arrived if it breaks."""
        parts: list[bytes] = []
        size = 0
        try:
            while size < limit:
                chunk = await self.next_chunk()
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
        except StreamdeskError:
            pass  # the status already says what went wrong; keep what we have
        return b"".join(parts)[:limit]

    async def status_error(self, error_message: Callable[[str], str]) -> HTTPStatusError:
        """Read the (bounded) body of a non-2xx response and build its typed error."""
        body = (await self.read_body()).decode("utf-8", "replace")
        try:
            server_message = error_message(body)
        except Exception:  # a provider bug must not hide the HTTP status
            server_message = ""
        return error_for_status(
            self.status,
            self.headers,
            body=body,
            server_message=server_message,
            url=self.url,
            now=time.time(),
            secret=self._secret,
        )

    async def aclose(self) -> None:
        """Close the response; an unfinished body closes the connection."""
        await self._response.aclose()


class StreamingClient:
    """One reused HTTP client per network configuration; an async context manager.

    Building one costs 40-100 ms (the TLS context), so build it once, off the
    first-paint path, and keep it for every turn with the same settings.
    ``network.ssl_context()`` may raise ``ConfigError`` (an unreadable CA bundle).
    """

    def __init__(
        self,
        network: NetworkSettings | None = None,
        *,
        trust_env: bool = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
    ) -> None:
        self._network = network
        # Both must allow the environment's proxy variables: the profile (a
        # loopback server never goes through a proxy) and the caller (tests).
        self._trust_env = trust_env and (network is None or network.trust_env)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._client = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        verify: ssl.SSLContext | bool = True
        proxy: str | None = None
        if self._network is not None:
            verify = self._network.ssl_context()
            proxy = self._network.proxy
        # What httpx reads from the environment now, kept to name a failing proxy.
        self._environment_proxies = environment_proxies() if self._trust_env and not proxy else {}
        return httpx.AsyncClient(
            verify=verify,
            proxy=proxy,
            trust_env=self._trust_env,
            timeout=self._timeout(self._connect_timeout),
            headers={"User-Agent": USER_AGENT},
            # A POST must never turn into a GET behind our back (301/302);
            # a redirect becomes an error that names the new address.
            follow_redirects=False,
        )

    def _timeout(self, connect: float) -> httpx.Timeout:
        # read is the longest gap between two socket reads; the session's own
        # first-token and idle watchdogs are the real limits on a stream.
        return httpx.Timeout(
            connect=connect, read=self._read_timeout, write=self._read_timeout, pool=connect
        )

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to ``url`` goes through, or None (for error sentences)."""
        explicit = self._network.proxy if self._network is not None else None
        return proxy_for(url, explicit, self._environment_proxies)

    async def __aenter__(self) -> StreamingClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json_body: object | None = None,
        connect_timeout: float | None = None,
        secret: str | None = None,
    ) -> HttpStream:
        """Send a request and return as soon as the response head is in.

        Raises the typed error for anything that keeps a response from
        arriving. ``secret`` (the API key) is masked out of every sentence.
        """
        timeout = self._timeout(
            self._connect_timeout if connect_timeout is None else connect_timeout
        )
        headers = dict(headers)
        if not any(name.lower() == "accept-encoding" for name in headers):
            # A compressed event stream is buffered by the compressor (a token
            # shows up only when a block fills); ask for the bytes as they come.
            headers["Accept-Encoding"] = "identity"
        for fresh_client in (False, True):
            try:
                request = self._client.build_request(
                    method, url, headers=headers, json=json_body, timeout=timeout
                )
                response = await self._client.send(request, stream=True)
            except httpx.PoolTimeout as exc:
                # httpcore can leak pool slots when requests are cancelled
                # (encode/httpcore#1093): start over with a fresh pool, once.
                if fresh_client:
                    raise translate_error(exc, url, secret=secret) from exc
                old, self._client = self._client, self._new_client()
                await old.aclose()
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise translate_error(exc, url, secret=secret, proxy=self.proxy_for(url)) from exc
            if response.status_code == 407:  # the proxy refused; the server never saw it
                await response.aclose()
                sentence, hint = proxy_refusal(self.proxy_for(url))
                raise HTTPStatusError(sentence, status=407, hint=hint)
            return HttpStream(response, secret=secret)
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_models(self, provider: Provider, endpoint: Endpoint) -> list[str]:
        """The model names the server offers (``[]`` if the format has no such list)."""
        url = provider.models_url(endpoint)
        if url is None:
            return []
        headers = {
            k: v
            for k, v in _auth_headers(provider, endpoint).items()
            if k.lower() not in {"content-type", "accept", "content-length"}
        }
        headers["Accept"] = "application/json"
        stream = await self.open_stream("GET", url, headers=headers, secret=endpoint.api_key)
        try:
            if not 200 <= stream.status < 300:
                raise await stream.status_error(provider.error_message)
            body = await stream.read_body(8 * 1024 * 1024)
        finally:
            await stream.aclose()
        return parse_model_list(body, url)


def parse_model_list(body: bytes, url: str) -> list[str]:
    """Model ids from an OpenAI/Anthropic ``{"data": [{"id"}]}`` or Ollama ``{"models": [{"name"}]}``."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise UnexpectedResponse(
            f"The model list from {host_of(url)} is not JSON.",
            hint="Check that the base URL points at the API.",
        ) from exc
    items: object = None
    if isinstance(document, dict):
        items = document.get("data", document.get("models"))
    elif isinstance(document, list):
        items = document
    if not isinstance(items, list):
        raise UnexpectedResponse(f"{host_of(url)} answered the model list in an unknown shape.")
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            name = item.get("id", item.get("name", item.get("model")))
            if isinstance(name, str):
                names.append(name)
    return names


def _auth_headers(provider: Provider, endpoint: Endpoint) -> Mapping[str, str]:
    # The Provider protocol has no "headers only" call; the headers of an
    # empty chat request are exactly the auth and version headers we need.
    probe = ChatRequest(messages=(), model="")
    return provider.build_request(probe, endpoint).headers


# ---------------------------------------------------------------- httpx -> error


def translate_error(
    exc: BaseException, url: str, *, secret: str | None = None, proxy: str | None = None
) -> StreamdeskError:
    """The typed error for an httpx exception raised before a response head arrived.

    ``proxy``: the proxy the request went to, if any; a connection that failed
    names it, not the server (only its host: never its password).
    """
    host = host_of(url)
    if isinstance(exc, httpx.ConnectTimeout) and proxy:  # the proxy, or a tunnel's TLS
        return ConnectTimeout(
            f"Connecting to {host} through the proxy {host_of(proxy)} took too long.",
            hint=_PROXY_HINT,
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectTimeout(f"The server {host} did not accept the connection in time.")
    if isinstance(exc, httpx.PoolTimeout):
        return ConnectionFailed(
            f"No connection to {host} became free in time.",
            hint="Too many answers are streaming at once; stop one and try again.",
        )
    if isinstance(exc, httpx.TimeoutException):
        return TimedOut(f"The server {host} took too long to answer.")
    if isinstance(exc, httpx.ProxyError):  # the proxy refused an https:// tunnel
        reason = _root_reason(exc)
        if reason.startswith("407"):
            # A status, not a connection failure: retrying would send a refused password
            # again (some company proxies lock the account after a few).
            sentence, hint = proxy_refusal(proxy)
            return HTTPStatusError(sentence, status=407, hint=hint)
        through = f"the proxy {host_of(proxy)}" if proxy else "the proxy"
        return ConnectionFailed(
            f"Could not reach {host} through {through}: {reason}.",
            hint="Check the proxy settings or the HTTPS_PROXY variable.",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigError(
            mask_secret(f"The address {url!r} is not a valid http:// or https:// URL.", secret),
            hint="Check the base URL.",
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_error(exc, host, host_of(proxy) if proxy else None)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ConnectionFailed(f"The server {host} closed the connection without answering.")
    if isinstance(exc, httpx.NetworkError):
        return ConnectionFailed(f"The connection to {host} failed: {_root_reason(exc)}.")
    return TransportError(f"The request to {host} failed: {_root_reason(exc)}.")


def _connect_error(exc: BaseException, host: str, proxy: str | None = None) -> ConnectionFailed:
    """``proxy`` (its host): a failure other than TLS (whose certificate is the server's,
    through a tunnel) never got past the proxy, so the sentence names the proxy."""
    target = f"the proxy {proxy}" if proxy else host
    missing = f"the proxy {hostname_of(proxy)}" if proxy else f"the server {hostname_of(host)}"
    hint = _PROXY_HINT if proxy else None
    missing_hint = hint or "Check the address and your internet connection."
    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or "certificate verify failed"
            return CertificateError(
                f"The security certificate of {host} could not be verified ({detail})."
            )
        if isinstance(cause, ssl.SSLError):
            return CertificateError(
                f"A secure connection to {host} could not be set up ({cause.reason or cause})."
            )
        if isinstance(cause, socket.gaierror):
            return ConnectionFailed(f"Could not find {missing}.", hint=missing_hint)
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionFailed(
                f"Could not connect to {target}: the connection was refused.", hint=hint
            )
    text = " ".join(str(c) for c in chain).lower()
    if "certificate" in text or "ssl" in text:
        return CertificateError(f"A secure connection to {host} could not be set up.")
    if "name or service not known" in text or "nodename nor servname" in text:
        return ConnectionFailed(f"Could not find {missing}.", hint=missing_hint)
    if "refused" in text:
        return ConnectionFailed(
            f"Could not connect to {target}: the connection was refused.", hint=hint
        )
    return ConnectionFailed(f"Could not connect to {target}: {_root_reason(exc)}.", hint=hint)


_PROXY_HINT = "Check that the proxy is running, and the proxy settings or the HTTPS_PROXY variable."


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _root_reason(exc: BaseException) -> str:
    for cause in reversed(_causes(exc)):
        text = str(cause).strip()
        if text:
            return text.rstrip(".")
    return type(exc).__name__
