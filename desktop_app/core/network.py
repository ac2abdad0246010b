"""A profile's network options: which proxy, and which certificates to trust.

Owns: ``NetworkSettings`` (proxy URL or none, whether the environment's
proxy variables apply, the extra CA bundle), which proxy a URL goes through
(``proxy_for``, so error sentences name it) and ``build_ssl_context``: the
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
import urllib.request
from collections.abc import Mapping
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

    The embedded stub is always reached directly. A server on this machine
    (localhost, 127.0.0.1, ::1) never goes through the environment's proxy,
    which would otherwise capture loopback traffic unless NO_PROXY lists it;
    a proxy the profile names is used for it all the same (a tester's
    mitmproxy in front of a local server).
    """
    url = base_url if base_url is not None else profile.base_url
    ca_bundle = profile.ca_bundle or None
    if profile.embedded:
        return NetworkSettings(proxy=None, trust_env=False, ca_bundle=ca_bundle)
    if profile.proxy:
        return NetworkSettings(proxy=profile.proxy, trust_env=False, ca_bundle=ca_bundle)
    system = profile.proxy is None and not is_loopback(url)
    return NetworkSettings(proxy=None, trust_env=system, ca_bundle=ca_bundle)


def environment_proxies() -> dict[str, str]:
    """The proxy settings the HTTP client reads when it trusts the environment.

    ``urllib.request.getproxies()``, as httpx reads them (once, when a client
    is built): ``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY``, or the system's
    settings on macOS and Windows when no variable is set.
    """
    return dict(urllib.request.getproxies())


def proxy_for(url: str, explicit: str | None, environment: Mapping[str, str]) -> str | None:
    """The proxy a request to ``url`` goes through, or None: for naming it in sentences.

    ``explicit`` (a profile's proxy) wins; otherwise the environment's proxy
    for the URL's scheme (or ``all``), unless ``no`` (NO_PROXY) names the host.
    """
    if explicit:
        return explicit
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return None
    proxy = environment.get(parts.scheme.lower()) or environment.get("all")
    if not proxy or not host or _no_proxy(host, environment.get("no", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _no_proxy(host: str, no_proxy: str) -> bool:
    """Whether NO_PROXY names ``host``, read as httpx reads it (curl's rules):
    ``corp.com`` is that host and its subdomains, ``.corp.com`` only the subdomains."""
    host = host.lower()
    for name in (part.strip().lower() for part in no_proxy.split(",")):
        if name == "*":
            return True
        if not name:
            continue
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


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
