"""The Anthropic Messages streaming format.

Owns: the request for ``POST {base}/messages`` (``x-api-key``,
``anthropic-version``, alternating roles, the required ``max_tokens``, prefill
as a trailing assistant turn) and reading its stream (research/sse.md §5):
``message_start``, ``content_block_start/delta/stop`` with ``text_delta``,
``thinking_delta`` and ``input_json_delta``, ``message_delta`` (stop reason,
cumulative usage), ``message_stop``, ``ping`` and ``error``. Unknown event and
delta types are ignored, as the API asks of clients (new ones get added).

Must not: do I/O, read a clock, or report keep-alives (the transport sees
``ping`` itself and reports it as a lifecycle event).
"""

from __future__ import annotations

from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from desktop_app.core.providers import _request, _surrogates, _wire
from desktop_app.core.providers._wire import Fields
from desktop_app.core.providers.base import ChatRequest, Endpoint, HttpRequest
from desktop_app.core.sse import ServerSentEvent

API_VERSION = "2023-06-01"
# The API has no default and rejects a request without max_tokens.
DEFAULT_MAX_TOKENS = 4096

_KNOWN_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "error",
    }
)
_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class AnthropicProvider:
    """``Provider`` for the Anthropic Messages API and servers that imitate it."""

    name: str = "anthropic"
    resumable: bool = False

    def build_request(self, request: ChatRequest, endpoint: Endpoint) -> HttpRequest:
        system, messages = _conversation(request)
        body: _request.JSONObject = {"model": request.model, "messages": messages}
        if system:
            body["system"] = system
        body["max_tokens"] = (
            request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
        )
        body["stream"] = True
        if request.temperature is not None:
            body["temperature"] = request.temperature
        headers = {
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
            "accept": "text/event-stream",
        }
        key = _request.clean_key(endpoint.api_key)
        if key:
            headers["x-api-key"] = key
        return HttpRequest(
            method="POST",
            url=_request.join_url(endpoint.base_url, "messages"),
            headers=_request.merge_headers(headers, endpoint.extra_headers),
            json=body,
        )

    def new_parser(self) -> AnthropicParser:
        return AnthropicParser()

    def error_message(self, body: str) -> str:
        return _wire.server_message(body)

    def models_url(self, endpoint: Endpoint) -> str | None:
        return _request.join_url(_request.strip_suffix(endpoint.base_url, "messages"), "models")

    def continues_after(self, prefill: str) -> str:
        # The prefill goes out without trailing whitespace (the API rejects it), so the model
        # continues from the stripped text and starts its part with the space or line break.
        return prefill.rstrip() if prefill.strip() else ""


def _conversation(request: ChatRequest) -> tuple[str, list[_request.JSONObject]]:
    """The system text and the messages in the shape the API accepts.

    The API takes the system prompt apart, rejects empty text, and requires
    user and assistant turns to alternate: system messages inside the
    conversation join the system prompt, empty messages are left out, and
    consecutive turns of one role are merged.
    """
    system_parts = [request.system] if request.system and request.system.strip() else []
    turns: list[tuple[str, str]] = []
    pending = [(m.role, m.content) for m in request.messages]
    if request.prefill and request.prefill.strip():
        # The final assistant turn must not end in whitespace (the API rejects it).
        pending.append(("assistant", request.prefill.rstrip()))
    for role, content in pending:
        if not content.strip():
            continue
        if role == "system":
            system_parts.append(content)
        elif turns and turns[-1][0] == role:
            turns[-1] = (role, turns[-1][1] + "\n\n" + content)
        else:
            turns.append((role, content))
    messages: list[_request.JSONObject] = [{"role": r, "content": c} for r, c in turns]
    return "\n\n".join(system_parts), messages


class AnthropicParser:
    """Reads one Messages stream. The data's ``type`` is trusted over the event name,
    so proxies that drop ``event:`` lines still work."""

    def __init__(self) -> None:
        self._finished = False
        self._mender = _surrogates.SurrogateMender()
        self._stop_reason: str | None = None
        self._input_counts: dict[str, int] = {}
        self._output_tokens: int | None = None
        self._tool_blocks: set[int] = set()

    @property
    def finished(self) -> bool:
        return self._finished

    def parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        return self._mender.apply(self._parse(event))

    def flush(self) -> list[ContentEvent]:
        return self._mender.flush()

    def _parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        if self._finished or event.event == "ping":
            return []
        data = event.data.strip()
        if event.event == "error":
            return [_wire.failure_from_data(data)]
        if not data:
            return []
        if event.event != "message" and event.event not in _KNOWN_EVENTS:
            # A new event type: ignore it, but read it if it is JSON (its type may be known).
            ok, value = _wire.try_json(data)
            if not (ok and isinstance(value, dict)):
                return []
        fields = Fields(_wire.load_object(data), data)
        kind = fields.get_str("type") or event.event
        if kind == "message_start":
            return self._message_start(fields)
        if kind == "content_block_start":
            return self._block_start(fields)
        if kind == "content_block_delta":
            return self._block_delta(fields)
        if kind == "message_delta":
            return self._message_delta(fields)
        if kind == "message_stop":
            self._finished = True
            return [Finished(reason=self._stop_reason)]
        if kind == "error":
            return [_wire.failure(fields.obj, data)]
        return []  # content_block_stop, ping, and types added after this was written

    def _usage(self, usage: Fields | None) -> list[ContentEvent]:
        if usage is None:
            return []
        # Anthropic's input_tokens leaves out cached tokens; the prompt's size is
        # the sum. message_delta may repeat some of the three (cumulative values).
        for key in _INPUT_KEYS:
            count = usage.get_int(key)
            if count is not None:
                self._input_counts[key] = count
        output = usage.get_int("output_tokens")
        if output is not None:
            self._output_tokens = output
        total = sum(self._input_counts.values()) if self._input_counts else None
        if total is None and self._output_tokens is None:
            return []
        # Repeat what came before: each Usage replaces the last one whole.
        return [Usage(input_tokens=total, output_tokens=self._output_tokens)]

    def _message_start(self, fields: Fields) -> list[ContentEvent]:
        message = fields.get_obj("message")
        return self._usage(message.get_obj("usage")) if message is not None else []

    def _block_start(self, fields: Fields) -> list[ContentEvent]:
        index = fields.get_int("index") or 0
        block = fields.get_obj("content_block")
        if block is None:
            return []
        kind = block.get_str("type")
        if kind == "text":
            text = block.get_str("text")
            return [TextDelta(text)] if text else []
        if kind == "thinking":
            thinking = block.get_str("thinking")
            return [ReasoningDelta(thinking)] if thinking else []
        if kind != "tool_use":
            # server_tool_use and friends run on Anthropic's side: nothing for us to call.
            return []
        self._tool_blocks.add(index)
        tool_input = block.obj.get("input")
        # The input normally streams as input_json_delta after an empty {}.
        arguments = "" if not tool_input else _wire.dumps_or_raise(tool_input, fields.raw)
        return [
            ToolCallDelta(
                index=index, arguments=arguments, id=block.get_str("id"), name=block.get_str("name")
            )
        ]

    def _block_delta(self, fields: Fields) -> list[ContentEvent]:
        index = fields.get_int("index") or 0
        delta = fields.get_obj("delta")
        if delta is None:
            return []
        kind = delta.get_str("type")
        if kind == "text_delta":
            text = delta.get_str("text")
            return [TextDelta(text)] if text else []
        if kind == "thinking_delta":
            thinking = delta.get_str("thinking")
            return [ReasoningDelta(thinking)] if thinking else []
        if kind == "input_json_delta" and index in self._tool_blocks:
            partial = delta.get_str("partial_json")
            return [ToolCallDelta(index=index, arguments=partial)] if partial else []
        return []  # signature_delta, citations_delta, server tool input, new types

    def _message_delta(self, fields: Fields) -> list[ContentEvent]:
        out: list[ContentEvent] = []
        delta = fields.get_obj("delta")
        reason = delta.get_str("stop_reason") if delta is not None else None
        if reason:
            self._stop_reason = reason
            out.append(FinishReason(reason))
        out.extend(self._usage(fields.get_obj("usage")))
        return out
