"""What a failed HTTP exchange means, in words a user understands (sans-IO).

It owns the mapping from a non-2xx status (with its headers and the server's
own message) to the typed errors of ``core.errors``: 401/403 auth, 404 wrong
URL or model, 429 rate limit with its Retry-After (or an exhausted quota),
529/503 overloaded, other 5xx, redirects and other 4xx, each sentence ending
with the server's words and never containing the API key. It also words a
proxy's 407 (never showing the proxy's password) and names hosts for such
sentences. No I/O, no clock (the wall-clock time is passed in), no
httpx: ``core.transport`` calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import TypedDict
from urllib.parse import urljoin, urlsplit

from desktop_app.core.errors import (
    AuthFailed,
    HTTPStatusError,
    NotFound,
    Overloaded,
    RateLimited,
    ServerError,
)
from desktop_app.core.observer import mask_secret
from desktop_app.core.retry import is_quota_exhausted, parse_retry_after


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    *,
    body: str,
    server_message: str,
    url: str,
    now: float,
    secret: str | None = None,
) -> HTTPStatusError:
    """The typed error for a non-2xx response, its sentence ending with the server's words."""
    server_message = mask_secret(" ".join(server_message.split()), secret)
    body = mask_secret(body, secret)
    said = _sentence_tail(server_message)
    host = host_of(url)
    details = _Details(status=status, server_message=server_message, body=body)
    if status in (401, 403):
        what = "refused the API key" if status == 401 else "denied access"
        return AuthFailed(f"The server {host} {what} (HTTP {status}){said}", **details)
    if status in (404, 410):
        path = urlsplit(url).path or "/"
        return NotFound(
            f"The server {host} does not know this address or model "
            f"(HTTP {status} for {path}){said}",
            **details,
        )
    if status == 429:
        retry_after = parse_retry_after(headers, now=now)
        if is_quota_exhausted(body):
            return RateLimited(
                f"The account's quota or spending limit is used up (HTTP 429){said}",
                retry_after=retry_after,
                hint="Check the plan and billing of this account; waiting will not help.",
                **details,
            )
        hint = None
        if retry_after is not None and retry_after > 0:
            hint = f"The server asks to wait {_duration(retry_after)} before trying again."
        return RateLimited(
            f"The server {host} is rate limiting requests (HTTP 429){said}",
            retry_after=retry_after,
            hint=hint,
            **details,
        )
    if status == 529 or (status == 503 and "overloaded" in body.lower()):
        return Overloaded(f"The server {host} is overloaded (HTTP {status}){said}", **details)
    if status >= 500:
        return ServerError(
            f"The server {host} had an error (HTTP {status}{_reason(status)}){said}", **details
        )
    if 300 <= status < 400:
        location = headers.get("location")
        where = f" to {urljoin(url, location)}" if location else ""
        return HTTPStatusError(
            f"The server {host} redirected the request{where} (HTTP {status}).",
            hint="Update the base URL to the new address.",
            **details,
        )
    return HTTPStatusError(
        f"The server {host} rejected the request (HTTP {status}{_reason(status)}){said}",
        hint="Check the model name and the other request settings (max tokens, "
        "temperature, extra headers).",
        **details,
    )


class _Details(TypedDict):
    status: int
    server_message: str
    body: str


def _sentence_tail(server_message: str) -> str:
    message = server_message
    if len(message) > 300:
        message = message[:297] + "..."
    if not message:
        return "."
    if message[-1] not in ".!?":
        message += "."
    return ": " + message


def _reason(status: int) -> str:
    try:
        return " " + HTTPStatus(status).phrase
    except ValueError:
        return ""


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {round(seconds / 3600)} hours"


def proxy_refusal(proxy: str | None) -> tuple[str, str]:
    """The sentence and hint for a proxy's 407 Proxy Authentication Required.

    ``proxy``: the proxy's URL, if known; only its host is named. A URL with
    a user name means the proxy refused the credentials it carries.
    """
    who = f"The proxy {host_of(proxy)}" if proxy else "The proxy"
    status = "(HTTP 407 Proxy Authentication Required)"
    try:
        has_credentials = proxy is not None and urlsplit(proxy).username is not None
    except ValueError:
        has_credentials = False
    if has_credentials:
        return (
            f"{who} did not accept its user name and password {status}.",
            "Check the user name and password in the proxy URL "
            "(a : or @ in them is written %3A or %40).",
        )
    return (
        f"{who} asks for a user name and password {status}.",
        "Set HTTPS_PROXY and HTTP_PROXY to http://user:password@host:port and use the "
        "system proxy (a saved proxy URL cannot hold a password).",
    )


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, never its credentials or query.

    A URL ``urlsplit`` cannot read (a port out of range, an unclosed ``[``) gives
    its authority as written: sentences say "The server {host}", so it must name one.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or url
        port = parts.port
    except ValueError:
        return _authority(url)
    return f"{host}:{port}" if port else host


def _authority(url: str) -> str:
    """``host[:port]`` as written, between ``//`` and the path, without ``user:password@``."""
    rest = url.split("//", 1)[-1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest.rpartition("@")[2] or url


def hostname_of(host: str) -> str:
    """The host name alone from ``host_of``'s ``host[:port]``."""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
