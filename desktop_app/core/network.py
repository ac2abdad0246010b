"""A profile's network options: which proxy, and which certificates to trust.

Owns: ``NetworkSettings`` (proxy URL or none, whether the environment's
proxy variables apply, the extra CA bundle) and ``build_ssl_context``: the
operating system's trust store through ``truststore`` (so company CAs
installed on the machine just work), plus the profile's CA bundle, falling
back to certifi or Python's defaults when truststore cannot load.

Must not: import httpx (the transport turns these settings into a client),
or offer any way to turn certificate verification off. There is no such
switch on purpose: a company CA goes in ``ca_bundle``.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from desktop_app.core.errors import ConfigError
from desktop_app.core.profiles import Profile

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """How to connect for one profile.

    - ``proxy``: an explicit proxy URL, or None for none given here;
    - ``trust_env``: let the HTTP client read ``HTTP(S)_PROXY``/``ALL_PROXY``/
      ``NO_PROXY`` (the "system proxy" on every platform we support);
    - ``ca_bundle``: a PEM file (or a directory of hashed certificates) trusted
      on top of the system's store.
    """

    proxy: str | None = None
    trust_env: bool = True
    ca_bundle: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A fresh verifying context (build it once per client, not per request)."""
        return build_ssl_context(self.ca_bundle)


def network_settings(profile: Profile, base_url: str | None = None) -> NetworkSettings:
    """The settings for a profile (``base_url`` overrides the profile's, e.g. the embedded stub's).

    A server on this machine (localhost, 127.0.0.1, ::1) is always reached
    directly: an environment proxy would otherwise capture loopback traffic
    unless NO_PROXY lists it.
    """
    url = base_url if base_url is not None else profile.base_url
    ca_bundle = profile.ca_bundle or None
    if profile.embedded or is_loopback(url):
        return NetworkSettings(proxy=None, trust_env=False, ca_bundle=ca_bundle)
    if profile.proxy is None:
        return NetworkSettings(proxy=None, trust_env=True, ca_bundle=ca_bundle)
    if profile.proxy == "":
        return NetworkSettings(proxy=None, trust_env=False, ca_bundle=ca_bundle)
    return NetworkSettings(proxy=profile.proxy, trust_env=False, ca_bundle=ca_bundle)


def is_loopback(url: str) -> bool:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The OS trust store (plus ``ca_bundle``); always verifies certificates and host names.

    Raises ``ConfigError`` with a sentence when the CA bundle is missing or
    not certificates.
    """
    context = _system_context()
    if ca_bundle:
        _load_bundle(context, ca_bundle)
    # Whatever the source, verification stays on.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


def _system_context() -> ssl.SSLContext:
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception:  # not installed, or the platform's store failed to load
        pass
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except Exception:
        return ssl.create_default_context()


def _load_bundle(context: ssl.SSLContext, ca_bundle: str) -> None:
    path = Path(ca_bundle).expanduser()
    if not path.exists():
        raise ConfigError(
            f"The CA bundle {path} does not exist.",
            hint="Check the path of the certificate file in this profile.",
        )
    try:
        if path.is_dir():
            context.load_verify_locations(capath=str(path))
        else:
            context.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"The CA bundle {path} does not contain certificates Streamdesk can read.",
            hint="It must be PEM text: blocks starting with -----BEGIN CERTIFICATE-----.",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"The CA bundle {path} could not be read.", hint="Check the file's permissions."
        ) from exc
