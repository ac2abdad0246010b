"""Shared by the provider formats: reading JSON safely, and the servers' error words.

Owns: decoding event data into a JSON object with explicit shape checks (every
failure becomes a ``StreamProtocolError`` whose message a user can read, with a
short excerpt of the offending data), building a ``ProviderFailed`` from the
many error shapes servers send, and extracting a server's message from an error
body (JSON, an HTML proxy page, or plain text).

Must not: do I/O, read a clock, or know any one provider's event names.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import ProviderFailed
from desktop_app.core.providers._surrogates import scrub

EXCERPT_CHARS = 80
SERVER_MESSAGE_CHARS = 300
DEFAULT_FAILURE = "The server reported an error while answering."
_HINT = (
    "Check that the format chosen (OpenAI, Anthropic or generic) matches what the server speaks."
)

_WS = re.compile(r"\s+")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

JSONObject = dict[str, object]


# ---------------------------------------------------------------- text


def collapse(text: str, limit: int) -> str:
    """Whitespace runs become one space; longer than ``limit`` ends in an ellipsis."""
    flat = _WS.sub(" ", text).strip()
    if len(flat) > limit:
        return flat[: limit - 1].rstrip() + "…"
    return flat


def excerpt(text: str) -> str:
    """A short, one-line quotation of offending data for an error message."""
    return "“" + collapse(text, EXCERPT_CHARS) + "”"


def protocol_error(what: str, data: str) -> StreamProtocolError:
    """``what`` is a sentence fragment: "sent a chunk that is not valid JSON"."""
    return StreamProtocolError(f"The server {what}: {excerpt(data)}.", hint=_HINT)


# ---------------------------------------------------------------- JSON


def try_json(data: str) -> tuple[bool, object]:
    """``(True, value)`` when ``data`` is JSON, else ``(False, None)``; never raises.

    RecursionError is caught because ``json.loads`` recurses once per nesting
    level, and a hostile server can nest deeper than the interpreter allows.
    """
    try:
        return True, json.loads(data)
    except (ValueError, RecursionError):
        return False, None


def load_object(data: str) -> JSONObject:
    """The event's data as a JSON object, or a ``StreamProtocolError``."""
    ok, value = try_json(data)
    if not ok:
        raise protocol_error("sent data that is not valid JSON", data)
    if not isinstance(value, dict):
        raise protocol_error("sent JSON that is not an object", data)
    return value


def looks_like_object(data: str) -> bool:
    """Cheap pre-check: could this be a JSON object (before paying for a parse)?"""
    return data.lstrip().startswith("{")


class Fields:
    """Typed reads from one JSON object; a wrong type raises ``StreamProtocolError``.

    ``null`` counts as absent everywhere: servers send ``"usage": null``,
    ``"content": null`` and ``"finish_reason": null`` on ordinary chunks.
    """

    __slots__ = ("obj", "raw")

    def __init__(self, obj: JSONObject, raw: str) -> None:
        self.obj = obj
        self.raw = raw  # the whole event data, quoted in error messages

    def _wrong(self, key: str, expected: str) -> StreamProtocolError:
        return protocol_error(f"sent data whose “{key}” is not {expected}", self.raw)

    def get_str(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._wrong(key, "text")

    def get_int(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        # bool is an int subclass; JSON true is never a count.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # Some servers write counts as 12.0.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise self._wrong(key, "a whole number")

    def get_obj(self, key: str) -> Fields | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, dict):
            return Fields(value, self.raw)
        raise self._wrong(key, "an object")

    def get_list(self, key: str) -> list[object] | None:
        value = self.obj.get(key)
        if value is None or isinstance(value, list):
            return value
        raise self._wrong(key, "a list")

    def item(self, value: object, key: str) -> Fields:
        """An element of the list under ``key``, which must be an object."""
        if isinstance(value, dict):
            return Fields(value, self.raw)
        raise protocol_error(f"sent a “{key}” list with an entry that is not an object", self.raw)


def dumps_or_raise(value: object, raw: str) -> str:
    """Re-serialise a JSON value (tool arguments sent as an object, not a string)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        raise protocol_error("sent tool arguments Streamdesk could not read", raw) from None


# ---------------------------------------------------------------- errors in the stream


def _code(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _first_text(obj: Mapping[str, object], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def failure(payload: object, raw: str) -> ProviderFailed:
    """A ``ProviderFailed`` from whatever error shape a server sent; never raises.

    Handles ``{"error": {"message", "type", "code"}}`` (OpenAI, Anthropic,
    Ollama, OpenRouter), ``{"error": "text"}``, a bare ``{"message", "code"}``
    (vLLM's ``"object": "error"``, app-defined servers) and non-JSON text.
    Once a server says it failed, its words matter more than their shape.
    """
    if isinstance(payload, dict):
        inner = payload.get("error")
        source: Mapping[str, object] = inner if isinstance(inner, dict) else payload
        message = _first_text(source, "message", "detail", "msg")
        if message is None and isinstance(inner, str) and inner.strip():
            message = inner.strip()
        kind = source.get("type")
        if not isinstance(kind, str) or (source is payload and kind == "error") or not kind:
            kind = None
        code = _code(source.get("code"))
        if code is None:
            code = _code(payload.get("code")) or _code(payload.get("status"))
        return ProviderFailed(message=message or DEFAULT_FAILURE, kind=kind, code=code)
    if isinstance(payload, str) and payload.strip():
        return ProviderFailed(message=payload.strip())
    text = collapse(raw, SERVER_MESSAGE_CHARS)
    return ProviderFailed(message=text or DEFAULT_FAILURE)


def failure_from_data(data: str) -> ProviderFailed:
    """For an ``event: error`` whose data may be JSON, text, or empty."""
    ok, value = try_json(data)
    return failure(value if ok else None, data)


# ---------------------------------------------------------------- error bodies


def server_message(body: str) -> str:
    """The server's own words from a non-2xx body: JSON, an HTML page, or text; ``""`` if none."""
    text = body.strip()
    if not text:
        return ""
    ok, value = try_json(text)
    if ok:
        return scrub(_json_message(value))
    if text.startswith("<") or "<html" in text[:500].lower():
        return _html_message(text)
    return collapse(text, SERVER_MESSAGE_CHARS)


def _json_message(value: object) -> str:
    if isinstance(value, str):
        return collapse(value, SERVER_MESSAGE_CHARS)
    if not isinstance(value, dict):
        return ""
    error = value.get("error")
    if isinstance(error, dict):
        found = _first_text(error, "message", "detail", "msg")
        if found:
            return collapse(found, SERVER_MESSAGE_CHARS)
    elif isinstance(error, str) and error.strip():
        return collapse(error, SERVER_MESSAGE_CHARS)
    found = _first_text(value, "message", "detail", "msg", "error_description", "title")
    if found:
        return collapse(found, SERVER_MESSAGE_CHARS)
    detail = value.get("detail")
    # FastAPI validation errors: {"detail": [{"loc": [...], "msg": "...", ...}]}.
    if isinstance(detail, list):
        msgs = [d["msg"] for d in detail if isinstance(d, dict) and isinstance(d.get("msg"), str)]
        return collapse("; ".join(msgs), SERVER_MESSAGE_CHARS)
    return ""


def _html_message(text: str) -> str:
    match = _TITLE.search(text)
    if match:
        title = collapse(html.unescape(_TAG.sub(" ", match.group(1))), SERVER_MESSAGE_CHARS)
        if title:
            return title
    stripped = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", _COMMENT.sub(" ", text)))
    return collapse(html.unescape(stripped), SERVER_MESSAGE_CHARS)
