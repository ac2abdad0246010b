"""OpenAI Chat Completions, as api.openai.com frames it (research/sse.md §4).

Owns request parsing, the chunk renderer (data-only frames, ``data: [DONE]``), the
non-streamed ``chat.completion`` body, the models list and OpenAI's error shape
``{"error": {"message", "type", "param", "code"}}``. No pacing, no sockets.
"""

from __future__ import annotations

import time
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
from server_stub.turn import ChatInput, Thinking, ToolSpec, Turn, parse_command

FINGERPRINT = "fp_stub0001"


def parse_request(body: Any) -> ChatInput:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("Missing required parameter: 'messages'.", "messages")
    model = body.get("model")
    model = model if isinstance(model, str) and model else DEMO_MODEL
    prompt = ""
    chars = 0
    names: dict[str, str] = {}
    for msg in messages:
        if not isinstance(msg, dict):
            raise BadRequest("Each message must be an object.", "messages")
        text = message_text(msg.get("content"))
        chars += len(text)
        if msg.get("role") == "user":
            prompt = text
        for call in msg.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    last = messages[-1]
    tool_result = None
    if last.get("role") == "tool":
        tool_result = (
            names.get(str(last.get("tool_call_id")), "tool"),
            message_text(last.get("content")),
        )
    tools = []
    for tool in body.get("tools") or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            tools.append(ToolSpec(fn["name"], params if isinstance(params, dict) else {}))
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    options = body.get("stream_options")
    name, listing, prompt = parse_command(prompt)
    return ChatInput(
        prompt=prompt,
        model=model,
        stream=bool(body.get("stream", False)),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
        max_tokens=limit if isinstance(limit, int) and limit >= 0 else None,
        tools=tools,
        tool_result=tool_result,
        input_chars=chars,
        chat_scenario=name,
        list_scenarios=listing,
    )


def check_key(headers: Mapping[str, str], key: str) -> str | None:
    """None when the key is right, else the error kind (OpenAI reads ``Authorization: Bearer``)."""
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return MISSING_KEY
    return None if auth[7:].strip() == key else scenarios.AUTH


def _err(
    status: int, message: str, kind: str, code: str | None, param: str | None = None
) -> ErrorReply:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return ErrorReply(status, jbytes(body) + b"\n")


def error(kind: str, *, model: str = "", message: str = "", param: str | None = None) -> ErrorReply:
    if kind == scenarios.AUTH:
        return _err(
            401,
            "Incorrect API key provided: sk-stub***. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )
    if kind == MISSING_KEY:
        return _err(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
        )
    if kind == scenarios.MODEL_NOT_FOUND:
        return _err(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )
    if kind == scenarios.RATE_LIMIT:
        reply = _err(
            429,
            f"Rate limit reached for {model or DEMO_MODEL} on requests per min (RPM): Limit 3, "
            "Used 3, Requested 1. Please try again in 2s.",
            "requests",
            "rate_limit_exceeded",
        )
        reply.headers.update(
            {
                "retry-after": "2",
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "2s",
            }
        )
        return reply
    if kind == scenarios.SERVER_ERROR:
        return _err(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        )
    if kind == scenarios.OVERLOADED:
        return _err(
            503,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
        )
    if kind == scenarios.HTML_502:
        return html_502()
    if kind == NOT_FOUND:
        return _err(404, message or "Not found.", "invalid_request_error", None)
    assert kind == BAD_REQUEST, kind
    return _err(400, message, "invalid_request_error", None, param)


def stream_headers() -> dict[str, str]:
    return {"x-request-id": "req_" + uuid.uuid4().hex, "openai-processing-ms": "12"}


def new_ids() -> tuple[str, int]:
    return "chatcmpl-" + uuid.uuid4().hex[:29], int(time.time())


def _usage(turn: Turn) -> dict[str, Any]:
    reasoning = sum(1 for s in turn.steps if isinstance(s, Thinking))
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_ERROR_FRAMES = {
    scenarios.ERROR_EVENT: b'data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}\n\n',
    scenarios.OVERLOADED: b'data: {"error":{"message":"The engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}}\n\n',
}


class StreamRenderer:
    """``chat.completion.chunk`` frames with one id and created time, field order as the API."""

    last_id: int | None = None

    def __init__(self, turn: Turn, include_usage: bool) -> None:
        cid, created = new_ids()
        self._head = (
            b'data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,'
            b'"service_tier":"default","system_fingerprint":"%s","choices":['
            % (cid.encode(), created, jstr(turn.model), FINGERPRINT.encode())
        )
        self._usage_null = b',"usage":null' if include_usage else b""
        self._include_usage = include_usage
        self._text_pre = self._head + b'{"index":0,"delta":{"content":'
        self._post = b'},"logprobs":null,"finish_reason":null}]' + self._usage_null + b"}\n\n"
        self._started = False
        self._unknown_sent = 0

    def _choice(self, delta: bytes, finish: bytes = b"null") -> bytes:
        return (
            self._head
            + b'{"index":0,"delta":'
            + delta
            + b',"logprobs":null,"finish_reason":'
            + finish
            + b"}]"
            + self._usage_null
            + b"}\n\n"
        )

    def _role(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._choice(b'{"role":"assistant","content":"","refusal":null}')

    def start(self) -> bytes:
        return b""  # the role chunk goes out with the first token, as the API does

    def text(self, token: str) -> bytes:
        if self._started:
            return self._text_pre + jstr(token) + self._post
        return self._role() + self._text_pre + jstr(token) + self._post

    def thinking(self, token: str) -> bytes:
        # DeepSeek/vLLM-style reasoning field; the OpenAI SDK keeps unknown delta fields.
        return self._role() + self._choice(b'{"reasoning_content":' + jstr(token) + b"}")

    def tool_start(self, call_id: str, name: str) -> bytes:
        call = b'{"index":0,"id":"%s","type":"function","function":{"name":%s,"arguments":""}}' % (
            call_id.encode(),
            jstr(name),
        )
        return self._role() + self._choice(b'{"tool_calls":[' + call + b"]}")

    def tool_args(self, fragment: str) -> bytes:
        return self._choice(
            b'{"tool_calls":[{"index":0,"function":{"arguments":' + jstr(fragment) + b"}}]}"
        )

    def fault(self, kind: str) -> bytes:
        if kind in _ERROR_FRAMES:
            return _ERROR_FRAMES[kind]
        if kind == scenarios.MALFORMED:
            return self._text_pre + b'"truncat\n\n'
        assert kind == scenarios.UNKNOWN, kind
        self._unknown_sent += 1
        if self._unknown_sent == 1:
            # Azure OpenAI sends this first: no choices at all.
            return (
                b'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":'
                b'[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},'
                b'"self_harm":{"filtered":false,"severity":"safe"}}}]}\n\n'
            )
        return (
            b": a comment line, to be ignored\n\n"
            + self._head
            + b'{"index":0,"delta":{"content":"","x_stub_future_field":[1,{"a":null}]},'
            b'"logprobs":null,"finish_reason":null,"content_filter_results":{}}]'
            + self._usage_null
            + b',"x_stub_unknown":{"kind":"future"}}\n\n'
        )

    def finish(self, turn: Turn) -> bytes:
        out = self._role() + self._choice(b"{}", b'"%s"' % turn.finish.encode())
        if self._include_usage:
            out += self._head + b'],"usage":' + jbytes(_usage(turn)) + b"}\n\n"
        return out + b"data: [DONE]\n\n"


def complete_body(turn: Turn) -> bytes:
    """The non-streamed ``chat.completion`` object."""
    cid, created = new_ids()
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text if turn.text or not turn.tool else None,
        "refusal": None,
        "annotations": [],
    }
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tool:
        call_id, name, args = turn.tool
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
        ]
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": turn.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": turn.finish}
        ],
        "usage": _usage(turn),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if turn.scenario.fault == scenarios.UNKNOWN:
        body["x_stub_unknown"] = {"kind": "future"}
        body["prompt_filter_results"] = []
    return jbytes(body) + b"\n"


def models_body(names: list[str]) -> bytes:
    data = [
        {"id": name, "object": "model", "created": 1_735_689_600, "owned_by": "streamdesk-stub"}
        for name in names
    ]
    return jbytes({"object": "list", "data": data})
