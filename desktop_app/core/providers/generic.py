"""The generic format of app-defined servers (tutorial backends, Laravel ``eventStream``).

Owns: the request (``POST`` to the configured URL itself, the conversation as
JSON) and reading the loose family of streams such servers send
(research/sse.md §6):

- JSON objects: ``{"type": "content", "content": ...}`` or a bare
  ``{"content" | "delta" | "text" | "token": ...}`` is answer text;
  ``{"type": "reasoning" | "thinking", ...}`` is reasoning;
  ``{"type": "done", "finish_reason"?, "usage"?}`` (or ``"done": true`` /
  ``"stop": true`` on a bare object, as llama.cpp's native endpoint does) ends
  the answer; ``{"type": "error", "message", "code"}`` is a failure; objects of
  other types (status, progress) are ignored.
- Named terminators ``event: stop`` / ``end`` / ``done`` end the answer whatever
  their data (empty, JSON, or Laravel's ``</stream>``); so does the data
  ``[DONE]`` or ``</stream>`` on any event. ``event: error`` is a failure.
- Plain text: data that is not a JSON object, on a ``message`` event (or one
  of the content-sounding names below), is answer text exactly as sent,
  whitespace included, because some servers stream bare tokens. A JSON
  string (``data: "Hello\\n"``) is decoded first, since servers that escape
  newlines send that. The price: a bare token that is itself a JSON object
  would be read as an (ignored) object.

A stream of JSON objects none of which was one of these shapes (no text, no
end, no error), ended by ``[DONE]`` or by the body's end (``flush()``), is
another format read by mistake (OpenAI chunks, Anthropic events): that is a
``StreamProtocolError`` naming the profile's format, not an empty answer.

Event ids and resumption are the transport's business; this parser ignores them.

Must not: do I/O, read a clock, or guess beyond the shapes listed here.
"""

from __future__ import annotations

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import (
    ContentEvent,
    Finished,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from desktop_app.core.providers import _request, _surrogates, _wire
from desktop_app.core.providers._wire import Fields
from desktop_app.core.providers.base import ChatRequest, Endpoint, HttpRequest
from desktop_app.core.sse import ServerSentEvent

_TERMINATOR_EVENTS = frozenset({"stop", "end", "done"})
_TERMINATOR_DATA = frozenset({"[DONE]", "</stream>"})
# Event names whose plain-text data is answer text (Laravel sends "update").
_TEXT_EVENTS = frozenset({"message", "update", "content", "delta", "token", "text", "chunk"})

_CONTENT_TYPES = frozenset({"content", "text", "delta", "token", "chunk", "message"})
_REASONING_TYPES = frozenset({"reasoning", "thinking"})
_DONE_TYPES = frozenset({"done", "end", "stop", "finish", "finished", "complete"})
_KNOWN_TYPES = _CONTENT_TYPES | _REASONING_TYPES | _DONE_TYPES | {"error", "usage"}

_TEXT_KEYS = ("content", "delta", "text", "token")
_REASONING_KEYS = ("reasoning", "thinking", "content", "text", "delta")
# Keys that make an untyped object this format's (text, reasoning, an end).
_UNTYPED_KEYS = ("content", "delta", "text", "token", "reasoning", "thinking", "done", "stop")

# Said when only unknown objects came: the OpenAI or Anthropic format read as generic.
NOT_GENERIC = (
    "The server sent events, but none looked like the generic format "
    "(answer text, an end or an error)."
)
NOT_GENERIC_HINT = (
    "Check the profile's format (OpenAI, Anthropic or generic): this server may speak "
    "OpenAI or Anthropic."
)


class GenericProvider:
    """``Provider`` for app-defined SSE servers; the base URL is the chat URL itself."""

    name: str = "generic"
    # These servers may send ids and a resume URL; the transport decides.
    resumable: bool = True

    def build_request(self, request: ChatRequest, endpoint: Endpoint) -> HttpRequest:
        # The system prompt goes in its own field, not as a first message, so a
        # server that keeps a history of "messages" does not store it as a turn.
        body: _request.JSONObject = {
            "model": request.model,
            "messages": _request.message_dicts(request),
        }
        if request.system:
            body["system"] = request.system
        body["stream"] = True
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
            url=endpoint.base_url.strip(),
            headers=_request.merge_headers(headers, endpoint.extra_headers),
            json=body,
        )

    def new_parser(self) -> GenericParser:
        return GenericParser()

    def error_message(self, body: str) -> str:
        return _wire.server_message(body)

    def models_url(self, endpoint: Endpoint) -> str | None:
        return None  # app-defined servers have no agreed model list

    def continues_after(self, prefill: str) -> str:
        return prefill  # sent back whole as the assistant's turn (see _request.CONTINUE_PROMPT)


class GenericParser:
    """Reads one generic stream (see the module docstring for the shapes)."""

    def __init__(self) -> None:
        self._finished = False
        self._mender = _surrogates.SurrogateMender()
        # Whether JSON objects came, and whether any had a shape this format knows.
        self._objects = False
        self._recognised = False

    @property
    def finished(self) -> bool:
        return self._finished

    def parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        return self._mender.apply(self._parse(event))

    def flush(self) -> list[ContentEvent]:
        """The body ended without a terminator: raise if nothing in it was this format.

        Otherwise there is nothing left to give (the answer was merely cut short).
        """
        if not self._finished:
            self._check_format()
        return self._mender.flush()

    def _check_format(self) -> None:
        if self._objects and not self._recognised:
            self._finished = True  # the stream is over either way; nothing more counts
            raise StreamProtocolError(NOT_GENERIC, hint=NOT_GENERIC_HINT)

    def _parse(self, event: ServerSentEvent) -> list[ContentEvent]:
        if self._finished:
            return []
        data = event.data
        stripped = data.strip()
        name = event.event.lower()
        if name == "error":
            self._recognised = True
            return [_wire.failure_from_data(stripped)]
        if name in _TERMINATOR_EVENTS or stripped in _TERMINATOR_DATA:
            if name in _TERMINATOR_EVENTS or stripped != "[DONE]":
                self._recognised = True  # OpenAI ends with [DONE] too; the others are ours
            return self._terminator(stripped)
        if not data:
            return []
        ok, value = _wire.try_json(data) if stripped else (False, None)
        if ok and isinstance(value, dict):
            self._objects = True
            return self._object(Fields(value, stripped))
        if name not in _TEXT_EVENTS:
            return []  # progress or status events of unknown shape carry no answer
        self._recognised = True
        if ok and isinstance(value, str):
            return [TextDelta(value)] if value else []
        return [TextDelta(data)]  # plain text (numbers and `true` included), as sent

    def _terminator(self, data: str) -> list[ContentEvent]:
        """A terminator event ends the answer even if its data cannot be read."""
        self._check_format()
        ok, value = _wire.try_json(data)
        if ok and isinstance(value, dict):
            try:
                return self._done(Fields(value, data))
            except StreamProtocolError:
                pass  # the answer still ended; the usage figures are lost
        self._finished = True
        return [Finished()]

    def _object(self, fields: Fields) -> list[ContentEvent]:
        kind = fields.get_str("type")
        if kind is None:
            return self._untyped(fields)
        kind = kind.lower()
        # Not "start", "status" and other app-specific types, nor any Anthropic event.
        self._recognised |= kind in _KNOWN_TYPES
        if kind == "error":
            return [_wire.failure(fields.obj, fields.raw)]
        if kind in _CONTENT_TYPES:
            text = _text(fields, _TEXT_KEYS)
            return [TextDelta(text)] if text else []
        if kind in _REASONING_TYPES:
            text = _text(fields, _REASONING_KEYS)
            return [ReasoningDelta(text)] if text else []
        if kind in _DONE_TYPES:
            return self._done(fields)
        if kind == "usage":
            usage = _usage(fields)
            return [usage] if usage is not None else []
        return []  # "start", "status", "progress" and other app-specific types

    def _untyped(self, fields: Fields) -> list[ContentEvent]:
        error = fields.obj.get("error")
        if error is not None and error is not False:
            self._recognised = True
            return [_wire.failure(fields.obj, fields.raw)]
        if any(fields.obj.get(key) is not None for key in _UNTYPED_KEYS):
            # OpenAI chunks have none of these at the top level ("choices" holds the text).
            self._recognised = True
        out: list[ContentEvent] = []
        reasoning = _text(fields, ("reasoning", "thinking"))
        if reasoning:
            out.append(ReasoningDelta(reasoning))
        text = _text(fields, _TEXT_KEYS)
        if text:
            out.append(TextDelta(text))
        if fields.obj.get("done") is True or fields.obj.get("stop") is True:
            out.extend(self._done(fields))
        return out

    def _done(self, fields: Fields) -> list[ContentEvent]:
        out: list[ContentEvent] = []
        usage = _usage(fields)
        if usage is not None:
            out.append(usage)
        reason = fields.get_str("finish_reason") or fields.get_str("reason")
        self._finished = True
        out.append(Finished(reason=reason or None))
        return out


def _text(fields: Fields, keys: tuple[str, ...]) -> str | None:
    """The first present text field; ``{"delta": {"content": ...}}`` nests once."""
    for key in keys:
        value = fields.obj.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            inner = Fields(value, fields.raw)
            return inner.get_str("content") or inner.get_str("text")
        raise _wire.protocol_error(f"sent data whose “{key}” is not text", fields.raw)
    return None


def _usage(fields: Fields) -> Usage | None:
    usage = fields.get_obj("usage")
    if usage is None:
        return None
    prompt = usage.get_int("prompt_tokens")
    if prompt is None:
        prompt = usage.get_int("input_tokens")
    completion = usage.get_int("completion_tokens")
    if completion is None:
        completion = usage.get_int("output_tokens")
    if prompt is None and completion is None:
        return None
    return Usage(input_tokens=prompt, output_tokens=completion)
