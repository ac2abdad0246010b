"""The OpenAI Chat Completions streaming format, and the many servers that copy it.

Owns: the request for ``POST {base}/chat/completions`` and reading its stream
(research/sse.md §4): the role chunk, content, reasoning and tool-call deltas,
``finish_reason``, the usage chunk (``choices: []``), ``data: [DONE]``, and
error objects inside the stream. OpenAI, Ollama, llama.cpp, vLLM, LM Studio,
OpenRouter and DeepSeek all speak it with their own habits, tolerated here:
extra fields, ``reasoning_content`` / ``reasoning`` deltas, usage on every
chunk, content given as a list of parts, unknown ``event:`` names, data after
``[DONE]``.

Must not: do I/O, read a clock, or decide what an error means for the turn
(the session does that with the ``ProviderFailed`` it receives).
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

_DONE = "[DONE]"


class OpenAIChatProvider:
    """``Provider`` for OpenAI-compatible ``/chat/completions`` servers."""

    name: str = "openai"
    # A completion cannot be resumed: replaying the POST generates (and bills) again.
    resumable: bool = False

    def build_request(self, request: ChatRequest, endpoint: Endpoint) -> HttpRequest:
        messages: list[_request.JSONObject] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend(_request.message_dicts(request))
        body: _request.JSONObject = {
            "model": request.model,
            "messages": messages,
            "stream": True,
            # Without it the server sends no token counts in a stream.
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        key = _request.clean_key(endpoint.api_key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return HttpRequest(
            method="POST",
            url=_request.join_url(endpoint.base_url, "chat/completions"),
            headers=_request.merge_headers(headers, endpoint.extra_headers),
            json=body,
        )

    def new_parser(self) -> OpenAIChatParser:
        return OpenAIChatParser()

    def error_message(self, body: str) -> str:
        return _wire.server_message(body)

    def models_url(self, endpoint: Endpoint) -> str | None:
        base = _request.strip_suffix(endpoint.base_url, "chat/completions")
        return _request.join_url(base, "models")

    def continues_after(self, prefill: str) -> str:
        return prefill  # sent back whole as the assistant's turn (see _request.CONTINUE_PROMPT)


class OpenAIChatParser:
    """Reads one Chat Completions stream. Only choice 0 is read (we never ask for ``n > 1``)."""

    def __init__(self) -> None:
        self._finished = False
        self._mender = _surrogates.SurrogateMender()
        self._finish_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    def parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        return self._mender.apply(self._parse(event))

    def flush(self) -> list[ContentEvent]:
        return self._mender.flush()

    def _parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        if self._finished:
            return []  # some servers send more data lines after [DONE]
        data = event.data.strip()
        if event.event == "error":
            return [_wire.failure_from_data(data)]
        if not data:
            return []
        if data == _DONE:
            self._finished = True
            return [Finished(reason=self._finish_reason)]
        if event.event != "message":
            # Unknown event names (progress, tool status, pings) carry no answer,
            # unless a server names its chunk events: parse what looks like one.
            if not _wire.looks_like_object(data):
                return []
            ok, value = _wire.try_json(data)
            if not (ok and isinstance(value, dict) and ("choices" in value or "error" in value)):
                return []
        return self._chunk(Fields(_wire.load_object(data), data))

    def _chunk(self, chunk: Fields) -> list[ContentEvent]:
        error = chunk.obj.get("error")
        if (error is not None and error is not False) or chunk.obj.get("object") == "error":
            # OpenAI/Ollama {"error": {...}}, OpenRouter's error chunk (whose
            # choice says finish_reason "error"), vLLM's bare {"object": "error"}.
            return [_wire.failure(chunk.obj, chunk.raw)]
        out: list[ContentEvent] = []
        for item in chunk.get_list("choices") or ():
            choice = chunk.item(item, "choices")
            if (choice.get_int("index") or 0) != 0:
                continue
            out.extend(self._choice(choice))
        usage = chunk.get_obj("usage")
        if usage is not None:
            prompt, completion = usage.get_int("prompt_tokens"), usage.get_int("completion_tokens")
            if prompt is not None or completion is not None:
                out.append(Usage(input_tokens=prompt, output_tokens=completion))
        return out

    def _choice(self, choice: Fields) -> list[ContentEvent]:
        out: list[ContentEvent] = []
        delta = choice.get_obj("delta")
        if delta is not None:
            # DeepSeek and older vLLM say reasoning_content; Ollama, OpenRouter
            # and newer vLLM say reasoning. Some send both with the same text.
            reasoning = delta.get_str("reasoning_content") or delta.get_str("reasoning")
            if reasoning:
                out.append(ReasoningDelta(reasoning))
            out.extend(_content(delta))
            refusal = delta.get_str("refusal")
            if refusal:
                out.append(TextDelta(refusal))
            out.extend(_tool_calls(delta))
        reason = choice.get_str("finish_reason")
        if reason:
            self._finish_reason = reason
            out.append(FinishReason(reason))
        return out


def _content(delta: Fields) -> list[ContentEvent]:
    value = delta.obj.get("content")
    if value is None:
        return []
    if isinstance(value, str):
        return [TextDelta(value)] if value else []
    if not isinstance(value, list):
        raise _wire.protocol_error("sent data whose “content” is not text", delta.raw)
    # Content as parts (Mistral and some proxies): text parts are the answer,
    # thinking parts its reasoning; other part types carry nothing to show.
    out: list[ContentEvent] = []
    for item in value:
        part = delta.item(item, "content")
        kind = part.get_str("type")
        if kind == "text":
            text = part.get_str("text")
            if text:
                out.append(TextDelta(text))
        elif kind == "thinking":
            out.extend(_thinking_part(part))
    return out


def _thinking_part(part: Fields) -> list[ContentEvent]:
    # Mistral nests it: {"type": "thinking", "thinking": [{"type": "text", "text": ...}]}.
    thinking = part.obj.get("thinking")
    if isinstance(thinking, str):
        return [ReasoningDelta(thinking)] if thinking else []
    out: list[ContentEvent] = []
    for piece in part.get_list("thinking") or ():
        text = part.item(piece, "thinking").get_str("text")
        if text:
            out.append(ReasoningDelta(text))
    return out


def _tool_calls(delta: Fields) -> list[ContentEvent]:
    out: list[ContentEvent] = []
    for position, item in enumerate(delta.get_list("tool_calls") or ()):
        call = delta.item(item, "tool_calls")
        index = call.get_int("index")
        call_id = call.get_str("id")
        function = call.get_obj("function")
        name = arguments = None
        if function is not None:
            name = function.get_str("name")
            raw_args = function.obj.get("arguments")
            if raw_args is None or isinstance(raw_args, str):
                arguments = raw_args
            else:  # a few servers send the arguments as an object, not a string
                arguments = _wire.dumps_or_raise(raw_args, delta.raw)
        if call_id is None and name is None and not arguments:
            continue  # an empty fragment adds nothing
        out.append(
            ToolCallDelta(
                # Some servers leave out the index on single calls.
                index=position if index is None else index,
                arguments=arguments or "",
                id=call_id,
                name=name,
            )
        )
    return out
