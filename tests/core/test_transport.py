"""The transport boundary: httpx failures and statuses become typed errors with
sentences, the model list, bounded bodies, TLS trust, and the client's reuse."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import ipaddress
import socket
import ssl
from pathlib import Path

import httpx
import pytest

from desktop_app.core.errors import (
    AuthFailed,
    CertificateError,
    ConfigError,
    ConnectionFailed,
    ConnectTimeout,
    HTTPStatusError,
    Interrupted,
    NotFound,
    RateLimited,
    TimedOut,
    UnexpectedResponse,
)
from desktop_app.core.http_errors import error_for_status, host_of
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers.base import Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.transport import (
    HttpStream,
    StreamingClient,
    parse_model_list,
    translate_error,
)
from tests.core.byte_server import ByteServer, Reply, free_port

URL = "https://api.example.com:8443/v1/chat/completions"
NOW = 1_700_000_000.0


def chained(outer: BaseException, root: BaseException) -> BaseException:
    """An httpx exception raised from a lower-level one, as httpcore does."""
    outer.__cause__ = root
    return outer


# ---------------------------------------------------------------- httpx -> errors


def test_refused_names_the_host_and_port() -> None:
    exc = chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused"))
    err = translate_error(exc, URL)
    assert type(err) is ConnectionFailed
    assert str(err) == "Could not connect to api.example.com:8443: the connection was refused."
    assert err.hint


def test_dns_failure_says_the_server_was_not_found() -> None:
    exc = chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known"))
    err = translate_error(exc, "http://no-such-host.invalid/v1")
    assert type(err) is ConnectionFailed
    assert str(err) == "Could not find the server no-such-host.invalid."


def test_dns_failure_recognised_from_the_message_alone() -> None:
    err = translate_error(httpx.ConnectError("[Errno -2] Name or service not known"), URL)
    assert str(err) == "Could not find the server api.example.com."


def test_certificate_failure() -> None:
    root = ssl.SSLCertVerificationError(1, "certificate verify failed")
    root.verify_message = "self-signed certificate"
    err = translate_error(chained(httpx.ConnectError("x"), root), URL)
    assert isinstance(err, CertificateError)
    assert "self-signed certificate" in str(err)
    assert "CA bundle" in err.hint


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (httpx.ConnectTimeout("x"), ConnectTimeout, "did not accept the connection"),
        (httpx.ReadTimeout("x"), TimedOut, "took too long"),
        (httpx.ProxyError("407 Proxy Authentication Required"), HTTPStatusError, "proxy"),
        (httpx.UnsupportedProtocol("x"), ConfigError, "not a valid"),
        (httpx.RemoteProtocolError("x"), ConnectionFailed, "closed the connection"),
        (httpx.ReadError("x"), ConnectionFailed, "failed"),
    ],
)
def test_other_httpx_errors(exc: BaseException, kind: type[Exception], words: str) -> None:
    err = translate_error(exc, URL)
    assert type(err) is kind
    assert words in str(err)


def test_a_key_in_a_bad_url_is_masked() -> None:
    err = translate_error(
        httpx.UnsupportedProtocol("x"),
        "ftp://host/?key=sk-abcdefgh12345678",
        secret="sk-abcdefgh12345678",
    )
    assert "sk-abcdefgh12345678" not in str(err)


def test_host_of_never_shows_credentials() -> None:
    assert host_of("https://user:pw@example.com/v1?key=secret") == "example.com"
    assert host_of("http://127.0.0.1:8080/x") == "127.0.0.1:8080"


# ---------------------------------------------------------------- status -> errors


def status(code: int, message: str = "", **headers: str) -> HTTPStatusError:
    return error_for_status(
        code,
        headers,
        body=message,
        server_message=message,
        url=URL,
        now=NOW,
        secret="sk-live-1234567890",
    )


def test_status_sentences_end_with_the_servers_words() -> None:
    err = status(401, "Incorrect API key provided")
    assert isinstance(err, AuthFailed)
    assert str(err) == (
        "The server api.example.com:8443 refused the API key (HTTP 401): "
        "Incorrect API key provided."
    )
    assert err.server_message == "Incorrect API key provided"
    assert (
        str(status(500))
        == "The server api.example.com:8443 had an error (HTTP 500 Internal Server Error)."
    )


def test_not_found_names_the_path() -> None:
    err = status(404, "model not found")
    assert isinstance(err, NotFound)
    assert "/v1/chat/completions" in str(err)
    assert isinstance(status(410), NotFound)


def test_rate_limit_with_an_http_date() -> None:
    when = email.utils.formatdate(NOW + 120, usegmt=True)
    err = status(429, "slow down", **{"retry-after": when})
    assert isinstance(err, RateLimited)
    assert err.retry_after == pytest.approx(120, abs=1)
    assert "2 minutes" in err.hint


def test_redirects_name_the_new_address() -> None:
    err = status(301, location="https://new.example.com/v1/chat/completions")
    assert type(err) is HTTPStatusError
    assert "https://new.example.com/v1/chat/completions" in str(err)
    assert "base URL" in err.hint


def test_the_key_never_reaches_the_sentence() -> None:
    err = status(401, "Incorrect API key provided: sk-live-1234567890")
    assert "sk-live-1234567890" not in str(err)
    assert "sk-live-" not in err.body
    long = status(400, "x" * 1000)
    assert len(str(long)) < 450


# ---------------------------------------------------------------- over loopback


@pytest.mark.asyncio
async def test_model_list_openai_shape_with_the_auth_header() -> None:
    body = b'{"object": "list", "data": [{"id": "gpt-a"}, {"id": "gpt-b"}]}'
    reply = Reply(headers=(("Content-Type", "application/json"),), body=[body], framing="length")
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:
        async with asyncio.timeout(5):
            names = await client.list_models(
                get_provider("openai"), Endpoint(server.url("/v1"), api_key="sk-k")
            )
        request = server.requests[0]
    assert names == ["gpt-a", "gpt-b"]
    assert (request.method, request.target) == ("GET", "/v1/models")
    assert request.headers["authorization"] == "Bearer sk-k"


@pytest.mark.asyncio
async def test_model_list_errors_are_typed() -> None:
    reply = Reply(
        status=401,
        headers=(("Content-Type", "application/json"),),
        body=[b'{"error": {"message": "invalid x-api-key"}}'],
        framing="length",
    )
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:
        with pytest.raises(AuthFailed, match="invalid x-api-key"):
            async with asyncio.timeout(5):
                await client.list_models(get_provider("anthropic"), Endpoint(server.url("/v1")))
        assert server.requests[0].headers["anthropic-version"]


@pytest.mark.asyncio
async def test_model_list_without_such_endpoint_is_empty() -> None:
    async with StreamingClient(trust_env=False) as client:
        assert (
            await client.list_models(get_provider("generic"), Endpoint("http://127.0.0.1:9/x"))
            == []
        )


def test_model_list_shapes() -> None:
    assert parse_model_list(b'{"models": [{"name": "llama3:8b"}, {"model": "q"}]}', URL) == [
        "llama3:8b",
        "q",
    ]
    assert parse_model_list(b'["a", {"id": "b"}, 3]', URL) == ["a", "b"]
    with pytest.raises(UnexpectedResponse):
        parse_model_list(b"<html>", URL)
    with pytest.raises(UnexpectedResponse):
        parse_model_list(b'{"data": 5}', URL)


@pytest.mark.asyncio
async def test_refused_over_a_real_socket() -> None:
    port = free_port()
    async with StreamingClient(trust_env=False) as client:
        with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}: the connection was refused"):
            async with asyncio.timeout(5):
                await client.open_stream("GET", f"http://127.0.0.1:{port}/", headers={})


async def read_to_end(stream: HttpStream) -> bytes:
    parts = []
    while chunk := await stream.next_chunk():
        parts.append(chunk)
    return b"".join(parts)


@pytest.mark.asyncio
async def test_a_reset_mid_body_is_interrupted_and_read_body_is_bounded() -> None:
    reply = Reply(body=[b"a" * 1000, b"b" * 1000], ending="reset")
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:
        async with asyncio.timeout(5):
            stream = await client.open_stream("GET", server.url(), headers={})
            try:
                assert await stream.read_body(limit=1500) == b"a" * 1000 + b"b" * 500
            finally:
                await stream.aclose()
            stream = await client.open_stream("GET", server.url(), headers={})
            try:
                with pytest.raises(Interrupted, match="lost before the answer finished"):
                    await read_to_end(stream)
            finally:
                await stream.aclose()


@pytest.mark.asyncio
async def test_a_pool_timeout_recreates_the_client_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = Reply(body=[b"data: x\n\n"], framing="length")
    async with ByteServer(reply) as server, StreamingClient(trust_env=False) as client:
        first = client._client

        async def pool_timeout(*args: object, **kwargs: object) -> httpx.Response:
            raise httpx.PoolTimeout("no free connection")

        monkeypatch.setattr(first, "send", pool_timeout)
        async with asyncio.timeout(5):
            stream = await client.open_stream("GET", server.url(), headers={})
            await stream.aclose()
        assert client._client is not first
        assert first.is_closed
        # A fresh pool that times out too: the error, not a loop.
        monkeypatch.setattr(httpx.AsyncClient, "send", pool_timeout)
        with pytest.raises(ConnectionFailed, match="No connection"):
            await client.open_stream("GET", server.url(), headers={})


@pytest.mark.asyncio
async def test_cancelling_while_waiting_for_headers_closes_the_socket() -> None:
    async with (
        ByteServer(Reply(head_delay=10)) as server,
        StreamingClient(trust_env=False) as client,
    ):
        task = asyncio.create_task(
            client.open_stream("POST", server.url(), headers={}, json_body={})
        )
        async with asyncio.timeout(5):
            await server.request_seen.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.wait_disconnect(1.0)


# ---------------------------------------------------------------- TLS and the network settings


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")  # keyring's Linux backend brings it
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.asyncio
async def test_tls_untrusted_then_trusted_through_the_network_settings(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_ctx)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        async with StreamingClient(trust_env=False) as client:
            with pytest.raises(CertificateError, match="could not be verified"):
                async with asyncio.timeout(5):
                    await client.open_stream("GET", url, headers={})
        network = NetworkSettings(trust_env=False, ca_bundle=str(cert))
        async with StreamingClient(network) as client:
            async with asyncio.timeout(5):
                stream = await client.open_stream("GET", url, headers={})
                try:
                    assert stream.status == 200
                    assert await stream.read_body() == b"ok"
                finally:
                    await stream.aclose()
    finally:
        server.close()
        await server.wait_closed()
