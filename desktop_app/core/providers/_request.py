"""Shared by the provider formats when building a request: URLs, headers, the conversation.

Must not: do I/O, or know any one provider's body shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from desktop_app.core.providers.base import ChatRequest

JSONObject = dict[str, object]


def join_url(base_url: str, suffix: str) -> str:
    """``base`` + ``/suffix`` with one slash, keeping a query (Azure's ``?api-version=``).

    A base that already ends in ``suffix`` (users paste the full URL) is kept.
    """
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/" + suffix):
        path = f"{path}/{suffix}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def strip_suffix(base_url: str, suffix: str) -> str:
    """The base URL without a trailing ``/suffix`` a user may have pasted."""
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if path.endswith("/" + suffix):
        path = path[: -len(suffix) - 1]
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def clean_key(api_key: str | None) -> str | None:
    """Keys pasted with a stray newline or space are the common case; empty means none."""
    if api_key is None:
        return None
    return api_key.strip() or None


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``extra`` overrides ``base`` case-insensitively, so no header is ever sent twice."""
    merged = dict(base)
    for name, value in extra.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


# ---------------------------------------------------------------- conversation


# Formats without Anthropic-style prefill continue through an instruction: the
# partial answer goes back as the assistant's turn, then the user asks for the rest.
CONTINUE_PROMPT = (
    "Your previous answer was cut off. Continue exactly where it stopped, "
    "starting with the next character. Do not repeat anything you already wrote "
    "and do not comment on the interruption."
)


def message_dicts(request: ChatRequest) -> list[JSONObject]:
    """The conversation as ``{"role", "content"}`` objects, with Continue appended."""
    messages: list[JSONObject] = [{"role": m.role, "content": m.content} for m in request.messages]
    if request.prefill:
        messages.append({"role": "assistant", "content": request.prefill})
        messages.append({"role": "user", "content": CONTINUE_PROMPT})
    return messages
