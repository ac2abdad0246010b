"""Anthropic Messages, as api.anthropic.com frames it (research/sse.md §5).

Owns request parsing, the event renderer (``event:`` + ``data:`` with ``type`` repeated, in the
real order: message_start, ping, content blocks, message_delta, message_stop), the non-streamed
message, the models list and Anthropic's error shape ``{"type":"error","error":{"type","message"}}``.
No pacing, no sockets.
"""

from __future__ import annotations

import json
import uuid
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
from server_stub.turn import ChatInput, ToolSpec, Turn, parse_command

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds" + "stub" * 8


def _text_of_user(content: Any) -> str:
    if isinstance(content, list):
        return message_text(
            [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_result")]
        )
    return message_text(content)


def parse_request(body: Any) -> ChatInput:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required", "messages")
    model = body.get("model")
    model = model if isinstance(model, str) and model else DEMO_MODEL
    chars = len(message_text(body.get("system")))
    prompt = ""
    names: dict[str, str] = {}
    for msg in messages:
        if not isinstance(msg, dict):
            raise BadRequest("messages: each message must be an object", "messages")
        content = msg.get("content")
        chars += len(message_text(content))
        if msg.get("role") == "user":
            text = _text_of_user(content)
            if text:
                prompt = text
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    names[str(block.get("id"))] = str(block.get("name", "tool"))
    tool_result = None
    last = messages[-1].get("content")
    if isinstance(last, list):
        for block in last:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                tool_result = (
                    names.get(str(block.get("tool_use_id")), "tool"),
                    message_text(block.get("content")),
                )
    tools = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            schema = tool.get("input_schema")
            tools.append(ToolSpec(tool["name"], schema if isinstance(schema, dict) else {}))
    limit = body.get("max_tokens")
    name, listing, prompt = parse_command(prompt)
    return ChatInput(
        prompt=prompt,
        model=model,
        stream=bool(body.get("stream", False)),
        include_usage=True,
        max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
        tools=tools,
        tool_result=tool_result,
        input_chars=chars,
        chat_scenario=name,
        list_scenarios=listing,
    )


def check_key(headers: Mapping[str, str], key: str) -> str | None:
    """None when the key is right, else the error kind (Anthropic reads ``x-api-key``)."""
    given = headers.get("x-api-key")
    if given is None:
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.startswith("Bearer ") else None
    if not given:
        return MISSING_KEY
    return None if given == key else scenarios.AUTH


def _err(status: int, kind: str, message: str) -> ErrorReply:
    request_id = "req_" + uuid.uuid4().hex[:24]
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    return ErrorReply(status, jbytes(body), {"request-id": request_id})


def error(kind: str, *, model: str = "", message: str = "", param: str | None = None) -> ErrorReply:
    if kind == scenarios.AUTH:
        return _err(401, "authentication_error", "invalid x-api-key")
    if kind == MISSING_KEY:
        return _err(401, "authentication_error", "x-api-key header is required")
    if kind == scenarios.MODEL_NOT_FOUND:
        return _err(404, "not_found_error", f"model: {model}")
    if kind == scenarios.RATE_LIMIT:
        reply = _err(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 5 requests per "
            "minute. Please try again in 2 seconds.",
        )
        reply.headers.update(
            {
                "retry-after": "2",
                "anthropic-ratelimit-requests-limit": "5",
                "anthropic-ratelimit-requests-remaining": "0",
            }
        )
        return reply
    if kind == scenarios.SERVER_ERROR:
        return _err(500, "api_error", "Internal server error")
    if kind == scenarios.OVERLOADED:
        return _err(529, "overloaded_error", "Overloaded")
    if kind == scenarios.HTML_502:
        return html_502()
    if kind == NOT_FOUND:
        return _err(404, "not_found_error", message or "Not found")
    assert kind == BAD_REQUEST, kind
    return _err(400, "invalid_request_error", message)


def stream_headers() -> dict[str, str]:
    return {"request-id": "req_" + uuid.uuid4().hex[:24]}


def _event(name: bytes, data: bytes) -> bytes:
    return b"event: " + name + b"\ndata: " + data + b"\n\n"


_ERRORS = {
    scenarios.ERROR_EVENT: _event(
        b"error", b'{"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
    ),
    scenarios.OVERLOADED: _event(
        b"error", b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    ),
}


class StreamRenderer:
    """Messages events; opens and closes content blocks as the turn moves between kinds."""

    last_id: int | None = None

    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        self._id = "msg_01" + uuid.uuid4().hex[:22]
        self._index = -1
        self._block: str | None = None
        self._unknown_sent = 0
        self._text_pre = b""

    def _open(self, kind: str, block: bytes) -> bytes:
        out = self._close()
        self._index += 1
        self._block = kind
        idx = b"%d" % self._index
        self._text_pre = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":' + idx
        )
        return out + _event(
            b"content_block_start",
            b'{"type":"content_block_start","index":' + idx + b',"content_block":' + block + b"}",
        )

    def _close(self) -> bytes:
        if self._block is None:
            return b""
        out = b""
        if self._block == "thinking":
            out = self._delta(b'{"type":"signature_delta","signature":"%s"}' % SIGNATURE.encode())
        self._block = None
        return out + _event(
            b"content_block_stop", b'{"type":"content_block_stop","index":%d}' % self._index
        )

    def _delta(self, delta: bytes) -> bytes:
        return self._text_pre + b',"delta":' + delta + b"}\n\n"

    def start(self) -> bytes:
        turn = self._turn
        message = (
            b'{"type":"message_start","message":{"id":"%s","type":"message","role":"assistant",'
            b'"model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":'
            b'{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
            b'"output_tokens":1}}}' % (self._id.encode(), jstr(turn.model), turn.input_tokens)
        )
        return _event(b"message_start", message) + _event(b"ping", b'{"type": "ping"}')

    def text(self, token: str) -> bytes:
        if self._block == "text":
            return (
                self._text_pre + b',"delta":{"type":"text_delta","text":' + jstr(token) + b"}}\n\n"
            )
        return self._open("text", b'{"type":"text","text":""}') + self.text(token)

    def thinking(self, token: str) -> bytes:
        out = b""
        if self._block != "thinking":
            out = self._open("thinking", b'{"type":"thinking","thinking":"","signature":""}')
        return out + self._delta(b'{"type":"thinking_delta","thinking":' + jstr(token) + b"}")

    def tool_start(self, call_id: str, name: str) -> bytes:
        block = b'{"type":"tool_use","id":"toolu_01%s","name":%s,"input":{}}' % (
            call_id.removeprefix("call_").encode(),
            jstr(name),
        )
        return self._open("tool_use", block) + self._delta(
            b'{"type":"input_json_delta","partial_json":""}'
        )

    def tool_args(self, fragment: str) -> bytes:
        return self._delta(b'{"type":"input_json_delta","partial_json":' + jstr(fragment) + b"}")

    def fault(self, kind: str) -> bytes:
        if kind in _ERRORS:
            return _ERRORS[kind]
        if kind == scenarios.MALFORMED:
            if self._block is None:
                return _event(
                    b"content_block_delta", b'{"type":"content_block_delta","index":0,"del'
                )
            return self._text_pre + b',"delta":{"type":"text_delta","text":"trunc\n\n'
        assert kind == scenarios.UNKNOWN, kind
        self._unknown_sent += 1
        unknown = _event(
            b"stub_future_event", b'{"type":"stub_future_event","detail":{"note":"ignore me"}}'
        )
        if self._block is None:
            return unknown
        return unknown + self._delta(b'{"type":"stub_future_delta","payload":"ignore me"}')

    def finish(self, turn: Turn) -> bytes:
        return (
            self._close()
            + _event(
                b"message_delta",
                b'{"type":"message_delta","delta":{"stop_reason":"%s","stop_sequence":null},'
                b'"usage":{"output_tokens":%d}}'
                % (STOP_REASONS[turn.finish].encode(), turn.output_tokens),
            )
            + _event(b"message_stop", b'{"type":"message_stop"}')
        )


def complete_body(turn: Turn) -> bytes:
    """The non-streamed Message."""
    blocks: list[dict[str, Any]] = []
    if turn.reasoning:
        blocks.append({"type": "thinking", "thinking": turn.reasoning, "signature": SIGNATURE})
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    if turn.tool:
        call_id, name, args = turn.tool
        try:
            parsed = json.loads(args)
        except ValueError:  # cut short by max_tokens
            parsed = {}
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_01" + call_id.removeprefix("call_"),
                "name": name,
                "input": parsed,
            }
        )
    body: dict[str, Any] = {
        "id": "msg_01" + uuid.uuid4().hex[:22],
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": blocks,
        "stop_reason": STOP_REASONS[turn.finish],
        "stop_sequence": None,
        "usage": {
            "input_tokens": turn.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": turn.output_tokens,
        },
    }
    if turn.scenario.fault == scenarios.UNKNOWN:
        body["x_stub_unknown"] = {"kind": "future"}
    return jbytes(body)


def models_body(names: list[str]) -> bytes:
    data = [
        {
            "type": "model",
            "id": name,
            "display_name": name.replace("-", " ").replace("_", " ").title(),
            "created_at": "2025-01-01T00:00:00Z",
        }
        for name in names
    ]
    return jbytes({"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]})
