"""The app-defined format of the tutorials (research/sse.md §6), resumable by event id.

Owns request parsing, the renderer (``id:`` + ``data: {"type":"content","content":...}``, a
``done`` event, then ``event: stop`` with a data line so conforming decoders dispatch it), the
non-streamed body and the error shape ``{"type":"error","message","code"}``. Every event but the
final ``stop`` carries an increasing integer id, so a client can resume with ``Last-Event-ID``.
No pacing, no sockets, no store (``resume.py`` keeps streams).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server_stub import scenarios
from server_stub.formats import (
    BAD_REQUEST,
    MISSING_KEY,
    NOT_FOUND,
    ErrorReply,
    html_502,
    jbytes,
    jstr,
    message_text,
)
from server_stub.settings import DEMO_MODEL, BadRequest
from server_stub.turn import ChatInput, Fault, Pause, ToolStart, Turn, parse_command

RETRY_MS = 1000  # sent with the first event: how long an EventSource waits before reconnecting
STOP = b'event: stop\ndata: {"type":"stop"}\n\n'


def parse_request(body: Any) -> ChatInput:
    """Accepts ``{"messages": [...]}``, ``{"prompt": "..."}`` or ``{"message": "..."}``."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    prompt: str | None = None
    chars = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                text = message_text(msg.get("content"))
                chars += len(text)
                if msg.get("role", "user") == "user":
                    prompt = text
    for key in ("prompt", "message"):
        if prompt is None and isinstance(body.get(key), str):
            prompt = body[key]
            chars += len(prompt)
    if prompt is None:
        raise BadRequest("Send 'messages', 'prompt' or 'message'.", "messages")
    model = body.get("model")
    name, listing, prompt = parse_command(prompt)
    return ChatInput(
        prompt=prompt,
        model=model if isinstance(model, str) and model else DEMO_MODEL,
        stream=body.get("stream", True) is not False,
        include_usage=True,
        max_tokens=None,
        input_chars=chars,
        chat_scenario=name,
        list_scenarios=listing,
    )


def check_key(headers: Mapping[str, str], key: str) -> str | None:
    """Either ``Authorization: Bearer KEY`` or ``x-api-key: KEY``."""
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth.startswith("Bearer ") else headers.get("x-api-key")
    if not given:
        return MISSING_KEY
    return None if given == key else scenarios.AUTH


def _err(status: int, message: str, headers: dict[str, str] | None = None) -> ErrorReply:
    return ErrorReply(
        status, jbytes({"type": "error", "message": message, "code": status}), headers
    )


def error(kind: str, *, model: str = "", message: str = "", param: str | None = None) -> ErrorReply:
    if kind == scenarios.AUTH:
        return _err(401, "Invalid API key.")
    if kind == MISSING_KEY:
        return _err(401, "An API key is required (Authorization: Bearer KEY).")
    if kind == scenarios.MODEL_NOT_FOUND:
        return _err(404, f"Model '{model}' not found.")
    if kind == scenarios.RATE_LIMIT:
        return _err(429, "Too many requests. Try again in 2 seconds.", {"retry-after": "2"})
    if kind == scenarios.SERVER_ERROR:
        return _err(500, "Internal server error.")
    if kind == scenarios.OVERLOADED:
        return _err(503, "The server is overloaded. Try again later.")
    if kind == scenarios.HTML_502:
        return html_502()
    if kind == NOT_FOUND:
        return _err(404, message or "Not found.")
    assert kind == BAD_REQUEST, kind
    return _err(400, message)


_ERROR_DATA = {
    scenarios.ERROR_EVENT: b'{"type":"error","message":"Internal server error.","code":500}',
    scenarios.OVERLOADED: b'{"type":"error","message":"The server is overloaded.","code":529}',
}


class StreamRenderer:
    """Generic events with ids 1, 2, 3, ...; deterministic, so a replay renders the same bytes."""

    def __init__(self, turn: Turn) -> None:
        self.last_id: int | None = 0

    def _next(self, data: bytes, event: bytes = b"") -> bytes:
        n = (self.last_id or 0) + 1
        self.last_id = n
        head = b"retry: %d\n" % RETRY_MS if n == 1 else b""
        if event:
            head += b"event: " + event + b"\n"
        return head + b"id: %d\ndata: " % n + data + b"\n\n"

    def start(self) -> bytes:
        return b""

    def text(self, token: str) -> bytes:
        n = (self.last_id or 0) + 1
        if n == 1:
            return self._next(b'{"type":"content","content":' + jstr(token) + b"}")
        self.last_id = n
        return b'id: %d\ndata: {"type":"content","content":%s}\n\n' % (n, jstr(token))

    def thinking(self, token: str) -> bytes:
        return self._next(b'{"type":"reasoning","content":' + jstr(token) + b"}")

    def tool_start(self, call_id: str, name: str) -> bytes:
        raise AssertionError("the generic format has no tool calls")

    tool_args = thinking

    def fault(self, kind: str) -> bytes:
        if kind in _ERROR_DATA:
            return self._next(_ERROR_DATA[kind])
        if kind == scenarios.MALFORMED:
            return self._next(b'{"type":"content","content":"trunc')
        assert kind == scenarios.UNKNOWN, kind
        return self._next(b'{"type":"progress","percent":40}', b"progress") + self._next(
            b'{"type":"metadata","source":"stub"}'
        )

    def finish(self, turn: Turn) -> bytes:
        done = self._next(
            b'{"type":"done","finish_reason":%s,"usage":{"input_tokens":%d,"output_tokens":%d}}'
            % (jstr(turn.finish), turn.input_tokens, turn.output_tokens)
        )
        return done + STOP


def complete_body(turn: Turn) -> bytes:
    body: dict[str, Any] = {
        "type": "message",
        "content": turn.text,
        "finish_reason": turn.finish,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
    }
    if turn.reasoning:
        body["reasoning"] = turn.reasoning
    if turn.scenario.fault == scenarios.UNKNOWN:
        body["x_stub_unknown"] = {"kind": "future"}
    return jbytes(body)


def final_id(turn: Turn) -> int:
    """The id of the last event the renderer gives this turn (kept in step with ``_next``)."""
    n = 0
    for step in turn.steps:
        if isinstance(step, Fault):
            n += {scenarios.UNKNOWN: 2, scenarios.DROP: 0, scenarios.DROP_RESUME: 0}.get(
                step.kind, 1
            )
        elif not isinstance(step, (Pause, ToolStart)):
            n += 1
    return n + 1 if turn.complete else n
