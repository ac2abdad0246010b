"""Network options: proxy choice, the OS trust store plus a per-profile CA, no way to skip checks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest

from desktop_app.core.errors import ConfigError
from desktop_app.core.network import (
    NetworkSettings,
    build_ssl_context,
    is_loopback,
    network_settings,
    proxy_for,
)
from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, Profile

REMOTE = "https://api.example.com/v1"


def test_proxy_choice() -> None:
    system = network_settings(Profile(name="a", base_url=REMOTE))
    assert system == NetworkSettings(proxy=None, trust_env=True)
    none = network_settings(Profile(name="a", base_url=REMOTE, proxy=""))
    assert none == NetworkSettings(proxy=None, trust_env=False)
    explicit = network_settings(Profile(name="a", base_url=REMOTE, proxy="http://p.corp:3128"))
    assert explicit == NetworkSettings(proxy="http://p.corp:3128", trust_env=False)
    with_ca = network_settings(Profile(name="a", base_url=REMOTE, ca_bundle="/ca.pem"))
    assert with_ca.ca_bundle == "/ca.pem"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:11434/v1",
        "http://127.0.0.1:8080",
        "http://[::1]:1234/v1",
        "http://127.8.9.1",
    ],
)
def test_servers_on_this_machine_never_go_through_the_environments_proxy(url: str) -> None:
    assert is_loopback(url)
    for proxy in (None, ""):
        settings = network_settings(Profile(name="a", base_url=url, proxy=proxy))
        assert settings == NetworkSettings(proxy=None, trust_env=False)
    # A proxy the profile names is meant (a tester's mitmproxy on this machine).
    named = network_settings(Profile(name="a", base_url=url, proxy="http://127.0.0.1:8080"))
    assert named == NetworkSettings(proxy="http://127.0.0.1:8080", trust_env=False)


def test_the_embedded_stub_is_reached_directly() -> None:
    settings = network_settings(OFFLINE_DEMO_PROFILE, base_url="http://127.0.0.1:43210/v1")
    assert settings == NetworkSettings(proxy=None, trust_env=False)
    stub_with_proxy = Profile(name="d", embedded=True, proxy="http://p.corp:3128")
    assert network_settings(stub_with_proxy, base_url="http://127.0.0.1:43210/v1") == settings
    assert not is_loopback("https://api.openai.com/v1")
    assert not is_loopback("not a url")
    assert not is_loopback("http://[::1")


def test_the_proxy_a_url_goes_through_is_known_for_error_sentences() -> None:
    env = {"http": "http://p.corp:3128", "https": "p.corp:3129", "no": "internal.corp,.lan"}
    assert proxy_for("https://api.example.com/v1", None, env) == "http://p.corp:3129"
    assert proxy_for("http://api.example.com/v1", None, env) == "http://p.corp:3128"
    assert proxy_for("https://llm.internal.corp/v1", None, env) is None  # NO_PROXY
    assert proxy_for("https://x.lan/v1", None, env) is None
    assert proxy_for("https://lan/v1", None, env) == "http://p.corp:3129"  # .lan: below it only
    assert proxy_for("https://internal.corp/v1", None, env) is None  # the name and below it
    assert proxy_for("https://notinternal.corp/v1", None, env) == "http://p.corp:3129"
    assert proxy_for("https://api.example.com/v1", "http://mine:1", env) == "http://mine:1"
    assert proxy_for("https://api.example.com/v1", None, {"all": "socks5://s:1080"}) == (
        "socks5://s:1080"
    )
    assert proxy_for("https://api.example.com/v1", None, {**env, "no": "*"}) is None
    assert proxy_for("https://api.example.com/v1", None, {}) is None
    assert proxy_for("http://[::1", None, env) is None


def test_contexts_always_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    context = build_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert NetworkSettings().ssl_context().verify_mode == ssl.CERT_REQUIRED
    # No switch exists to turn verification off.
    assert not any("verify" in name for name in NetworkSettings.__dataclass_fields__)

    import truststore

    def broken(*_args: object) -> ssl.SSLContext:
        raise OSError("no trust store here")

    monkeypatch.setattr(truststore, "SSLContext", broken)
    fallback = build_ssl_context()
    assert fallback.verify_mode == ssl.CERT_REQUIRED
    assert fallback.check_hostname
    assert fallback.cert_store_stats()["x509_ca"] > 0  # certifi's roots


def test_bad_ca_bundles_are_sentences(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        build_ssl_context(str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    with pytest.raises(ConfigError, match="does not contain certificates") as caught:
        build_ssl_context(str(garbage))
    assert "BEGIN CERTIFICATE" in caught.value.hint
    build_ssl_context(str(tmp_path))  # a directory of hashed certificates is accepted


# ---------------------------------------------------------------- a real handshake


def _make_ca_and_server(tmp_path: Path) -> tuple[Path, Path, Path]:
    pytest.importorskip("cryptography")  # installed with keyring's SecretStorage on Linux
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Streamdesk Test Corp CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = tmp_path / "corp-ca.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_pem = tmp_path / "server.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = tmp_path / "server.key"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


async def _handshake(port: int, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost"),
        timeout=10,
    )
    try:
        return await asyncio.wait_for(reader.read(5), timeout=10)
    finally:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), timeout=10)


@pytest.mark.asyncio
async def test_a_company_ca_bundle_makes_its_server_trusted(tmp_path: Path) -> None:
    ca_pem, cert_pem, key_pem = _make_ca_and_server(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_pem, key_pem)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"hello")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), timeout=10)

    loop = asyncio.get_running_loop()
    handshake_failures: list[object] = []
    loop.set_exception_handler(lambda _loop, context: handshake_failures.append(context))
    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_context)
    try:
        port = server.sockets[0].getsockname()[1]
        profile = Profile(name="corp", base_url=f"https://localhost:{port}", ca_bundle=str(ca_pem))
        trusted = network_settings(profile).ssl_context()
        assert await _handshake(port, trusted) == b"hello"
        with pytest.raises(ssl.SSLCertVerificationError):
            await _handshake(port, build_ssl_context())
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), timeout=10)
        loop.set_exception_handler(None)
