"""A window on the wire for one turn: what was sent, what came back, byte by byte.

``stream_turn`` calls a ``TurnObserver`` for every HTTP request it makes, every
response head, every body chunk (with its arrival time), every resume and the
end. The stream inspector and ``--record`` build on it; ``streamdesk ask --raw``
uses it to print decoded events. Headers handed to observers are already
masked (``mask_headers``) so a recording or a screenshot never shows a key.

Observers are called synchronously on the turn's task: they must be quick and
must not await or block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from desktop_app.core.events import TurnState

MASK = "***"

# Header and query names that carry credentials. Matching is by substring, in
# lower case, so "X-Goog-Api-Key" and "openai-api-key" are covered too.
# ("token" alone is too broad: x-ratelimit-remaining-tokens is worth seeing.)
_SECRET_NAME_PARTS = (
    "authorization",
    "api-key",
    "api_key",
    "apikey",
    "secret",
    "cookie",
    "access-token",
    "access_token",
    "auth-token",
    "auth_token",
    "session-token",
)
_SECRET_EXACT = frozenset({"key", "token", "password"})


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_EXACT or any(part in lowered for part in _SECRET_NAME_PARTS)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credential values replaced by ``***``.

    ``Authorization: Bearer sk-...`` keeps its scheme (``Bearer ***``) so the
    inspector still shows which kind of credential was sent.
    """
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if not is_secret_name(name):
            masked[name] = value
        elif name.lower() in {"authorization", "proxy-authorization"} and " " in value:
            masked[name] = value.split(" ", 1)[0] + " " + MASK
        else:
            masked[name] = MASK
    return masked


def mask_url(url: str) -> str:
    """``url`` with credential query parameters and any ``user:password@`` masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_secret(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (and its long prefix) masked.

    Servers sometimes quote the key they refused ("Incorrect API key provided:
    sk-abc..."); such words must not reach the screen or a log.
    """
    if not secret or len(secret) < 4:
        return text
    text = text.replace(secret, MASK)
    # A server may quote a truncated key: mask any run of its first 8+ characters.
    if len(secret) >= 12:
        text = text.replace(secret[:8], MASK)
    return text


class TurnObserver(Protocol):
    """What a turn reports about the wire. Every method must return quickly."""

    def on_request(
        self, method: str, url: str, headers_masked: Mapping[str, str], body: object
    ) -> None: ...

    def on_response(self, status: int, headers: Mapping[str, str]) -> None: ...

    def on_chunk(self, data: bytes, at: float) -> None: ...

    def on_reconnect(self, url: str, last_event_id: str) -> None: ...

    def on_end(self, state: TurnState) -> None: ...


class NullObserver:
    """An observer that ignores everything; subclass it and override what you need."""

    def on_request(
        self, method: str, url: str, headers_masked: Mapping[str, str], body: object
    ) -> None:
        return None

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        return None

    def on_chunk(self, data: bytes, at: float) -> None:
        return None

    def on_reconnect(self, url: str, last_event_id: str) -> None:
        return None

    def on_end(self, state: TurnState) -> None:
        return None
