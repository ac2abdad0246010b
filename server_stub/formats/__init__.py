"""Wire formats: how each service frames a turn, its bodies and its errors, byte for byte.

Each module (``openai``, ``anthropic``, ``generic``) owns one service's request parsing, stream
renderer, non-streamed body and error shapes. They share only the small helpers here; none of
them paces, waits or touches a socket.
"""

from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_cache: dict[str, bytes] = {}


def jstr(value: str) -> bytes:
    """A JSON string literal as UTF-8, non-ASCII kept raw like the real services send it.

    Cached because the same short tokens come back thousands of times per second under load.
    """
    out = _cache.get(value)
    if out is None:
        out = _encode(value).encode("utf-8", "replace")
        if len(_cache) < 50_000:
            _cache[value] = out
    return out


def jbytes(value: Any) -> bytes:
    """Compact JSON (no spaces, like the services), insertion order kept, non-ASCII raw."""
    return _encode(value).encode("utf-8", "replace")


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts/blocks with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") == "tool_result":
                    parts.append(message_text(part.get("content")))
        return "".join(parts)
    return ""


class ErrorReply:
    """An HTTP error answer: status, body bytes, extra headers and content type."""

    __slots__ = ("body", "headers", "media_type", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        media_type: str = "application/json",
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.media_type = media_type


def html_502() -> ErrorReply:
    return ErrorReply(502, HTML_502, media_type="text/html")


# Error kinds every format can phrase (besides the scenarios' HTTP faults).
MISSING_KEY = "missing_key"
BAD_REQUEST = "bad_request"
NOT_FOUND = "not_found"
