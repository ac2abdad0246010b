"""Test helpers: fetch raw bytes over a real socket and split them into SSE events.

The parser here is a small spec-following one (CR, LF and CRLF line ends, comments, fields) so
the stub's tests depend on nothing from desktop_app.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Fetched:
    status: int
    headers: httpx.Headers
    raw: bytes
    chunks: list[bytes]
    times: list[float]  # monotonic arrival time of each chunk
    error: Exception | None = None  # set when the body ended abnormally
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.raw.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.raw)


def parse_sse(raw: bytes) -> tuple[list[Event], list[str]]:
    text = raw.decode("utf-8")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    events: list[Event] = []
    comments: list[str] = []
    name, data, eid = "", [], None
    last_id: str | None = None
    for line in lines:
        if line == "":
            if data:
                events.append(Event(name or "message", "\n".join(data), last_id))
            name, data = "", []
            continue
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "data":
            data.append(value)
        elif key == "event":
            name = value
        elif key == "id":
            eid = value
            last_id = eid
    return events, comments


def fetch(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    max_bytes: int | None = None,
) -> Fetched:
    """Read the whole body (or ``max_bytes`` of it) as the server wrote it, chunk by chunk."""
    chunks: list[bytes] = []
    times: list[float] = []
    error: Exception | None = None
    with client.stream(method, url, json=json_body, headers=headers) as response:
        try:
            for chunk in response.iter_raw():
                chunks.append(chunk)
                times.append(time.monotonic())
                if max_bytes is not None and sum(map(len, chunks)) >= max_bytes:
                    break
        except httpx.HTTPError as exc:  # the server closed the socket mid-body
            error = exc
    raw = b"".join(chunks)
    fetched = Fetched(response.status_code, response.headers, raw, chunks, times, error)
    if response.headers.get("content-type", "").startswith(("text/event-stream", "text/plain")):
        fetched.events, fetched.comments = parse_sse(raw)
    return fetched


FAST = {"x-stub-tokens-per-second": "0", "x-stub-first-token-delay": "0"}


def openai_body(prompt: str = "Tell me about streaming", **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-test",
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def anthropic_body(prompt: str = "Tell me about streaming", **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-test",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def generic_body(prompt: str = "Tell me about streaming", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}], **extra}


def openai_text(events: list[Event]) -> str:
    out = []
    for e in events:
        if e.data == "[DONE]":
            continue
        for choice in e.json().get("choices", []):
            out.append(choice["delta"].get("content") or "")
    return "".join(out)


def anthropic_text(events: list[Event]) -> str:
    return "".join(
        e.json()["delta"]["text"]
        for e in events
        if e.event == "content_block_delta" and e.json()["delta"]["type"] == "text_delta"
    )


def generic_text(events: list[Event]) -> str:
    return "".join(
        e.json()["content"]
        for e in events
        if e.event == "message" and e.json()["type"] == "content"
    )
