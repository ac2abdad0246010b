"""Provider wire formats: OpenAI Chat Completions, Anthropic Messages, and a generic format.

Each format builds the HTTP request for a turn (``build_request``) and turns
the decoded SSE events of its answer into content events (``new_parser()``,
then ``parse(event)``). Everything here is sans-IO: no sockets, no awaits, no
clock; ``desktop_app.core.transport`` does the network. A parser raises
``StreamProtocolError`` and nothing else on data it cannot read.

Modules: ``base`` (the contracts), ``openai_chat``, ``anthropic``, ``generic``
(the formats), ``registry`` (format name -> provider); private helpers shared
by the formats: ``_wire`` (JSON and error bodies), ``_request`` (URLs, headers,
the conversation), ``_surrogates`` (no lone UTF-16 surrogates in events).
"""

from __future__ import annotations

from desktop_app.core.providers.anthropic import AnthropicProvider
from desktop_app.core.providers.base import (
    ChatMessage,
    ChatRequest,
    Endpoint,
    HttpRequest,
    Provider,
    StreamParser,
)
from desktop_app.core.providers.generic import GenericProvider
from desktop_app.core.providers.openai_chat import OpenAIChatProvider
from desktop_app.core.providers.registry import PROVIDER_NAMES, get_provider

__all__ = [
    "PROVIDER_NAMES",
    "AnthropicProvider",
    "ChatMessage",
    "ChatRequest",
    "Endpoint",
    "GenericProvider",
    "HttpRequest",
    "OpenAIChatProvider",
    "Provider",
    "StreamParser",
    "get_provider",
]
