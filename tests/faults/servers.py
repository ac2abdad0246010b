"""Loopback servers for faults neither the stub nor the byte server makes: TLS, DNS.

- ``TlsServer``: an HTTPS server on 127.0.0.1 port 0 with a freshly generated
  self-signed certificate (``cryptography``), so certificate verification fails
  the way it does behind a misconfigured or intercepting server.
- ``no_dns``: names under ``.invalid`` (RFC 6761: never resolvable) fail inside
  this process exactly as glibc reports an unknown name (``EAI_NONAME``),
  without a query leaving the machine; ``NO_DNS_SITE`` is a directory whose
  ``sitecustomize`` does the same in a ``streamdesk ask`` subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INVALID_HOST = "streamdesk-fault.invalid"

_REAL_GETADDRINFO = socket.getaddrinfo


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name.rstrip(".").lower().endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _REAL_GETADDRINFO(host, *args, **kwargs)


@contextlib.contextmanager
def no_dns() -> Iterator[None]:
    """``.invalid`` names fail to resolve in this process (no query is sent)."""
    socket.getaddrinfo = _getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = _REAL_GETADDRINFO


SITECUSTOMIZE = '''\
"""Fault-matrix test hook: names under .invalid fail like an unknown name, offline."""
import socket

_real = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name.rstrip(".").lower().endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _real(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
'''


@contextlib.contextmanager
def no_dns_site() -> Iterator[Path]:
    """A directory to put first on a subprocess's ``PYTHONPATH`` (its ``sitecustomize``)."""
    with tempfile.TemporaryDirectory(prefix="no-dns-") as directory:
        path = Path(directory)
        (path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        yield path


def self_signed_context() -> ssl.SSLContext:
    """A server context with a new self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory(prefix="tls-") as directory:
        cert_path = Path(directory) / "cert.pem"
        key_path = Path(directory) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
    return context


class TlsServer:
    """``async with TlsServer() as server``: HTTPS on loopback with a self-signed certificate.

    A client that trusts only real CAs fails the handshake; ``handshakes``
    counts connections that reached the HTTP layer (there should be none).
    """

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0
        self.requests = 0

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> TlsServer:
        context = await asyncio.to_thread(self_signed_context)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=context)
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
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if head:
                self.requests += 1
            body = b'data: {"choices":[{"index":0,"delta":{"content":"trusted?"}}]}\n\n'
            body += b"data: [DONE]\n\n"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client refused our certificate: that is the point
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
