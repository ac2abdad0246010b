"""Anthropic Messages: golden transcripts, the request (role merging, prefill,
max_tokens), error bodies, malformed data, and the never-raise-anything-else property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import (
    Finished,
    FinishReason,
    ProviderFailed,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from desktop_app.core.providers.anthropic import (
    API_VERSION,
    DEFAULT_MAX_TOKENS,
    AnthropicParser,
    AnthropicProvider,
)
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.sse import ServerSentEvent
from tests.core.provider_transcripts import (
    message,
    parse_checked,
    run,
    sse_events,
    transcript,
)

PROVIDER = AnthropicProvider()


def test_full_sequence_with_thinking_text_tool_use_and_pings() -> None:
    parser = PROVIDER.new_parser()
    assert run(parser, transcript("anthropic_full.jsonl")) == [
        Usage(input_tokens=472, output_tokens=2),
        ReasoningDelta("The user wants Paris weather."),
        ReasoningDelta(" Use the tool."),
        TextDelta("Let me check "),
        TextDelta("the weather."),
        ToolCallDelta(
            index=2, arguments="", id="toolu_01T1x1fJ34qAmk2tNTrN7Up6", name="get_weather"
        ),
        ToolCallDelta(index=2, arguments='{"location":'),
        ToolCallDelta(index=2, arguments=' "Paris"}'),
        FinishReason("tool_use"),
        Usage(input_tokens=472, output_tokens=89),
        Finished("tool_use"),
    ]
    assert parser.finished


def test_overloaded_error_event_mid_stream() -> None:
    parser = PROVIDER.new_parser()
    assert run(parser, transcript("anthropic_overloaded.jsonl")) == [
        Usage(input_tokens=21, output_tokens=1),
        TextDelta("Once upon"),
        ProviderFailed("Overloaded", kind="overloaded_error"),
    ]
    assert not parser.finished


def _ev(kind: str, **fields: object) -> ServerSentEvent:
    return ServerSentEvent(event=kind, data=message({"type": kind, **fields}).data)


def test_data_only_stream_through_a_proxy_uses_the_data_type() -> None:
    parser = AnthropicParser()
    events = [
        message(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "a"},
            }
        ),
        message({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        message({"type": "message_stop"}),
    ]
    assert run(parser, events) == [TextDelta("a"), FinishReason("end_turn"), Finished("end_turn")]


def test_ping_with_any_data_and_unknown_events_are_ignored() -> None:
    parser = AnthropicParser()
    assert parser.parse(ServerSentEvent(event="ping", data="not json")) == []
    assert parser.parse(ServerSentEvent(event="ping", data="")) == []
    assert parser.parse(ServerSentEvent(event="brand_new_event", data="plain text")) == []
    assert parser.parse(_ev("brand_new_event", payload=[1, 2])) == []
    assert parser.parse(_ev("content_block_stop", index=0)) == []
    assert parser.parse(ServerSentEvent(data="")) == []


def test_unknown_delta_types_and_signatures_are_ignored() -> None:
    parser = AnthropicParser()
    for delta in (
        {"type": "signature_delta", "signature": "abc"},
        {"type": "citations_delta", "citation": {"type": "char_location"}},
        {"type": "future_delta", "x": 1},
    ):
        assert parser.parse(_ev("content_block_delta", index=0, delta=delta)) == []


def test_server_tool_use_blocks_are_not_tool_calls() -> None:
    parser = AnthropicParser()
    start = _ev(
        "content_block_start",
        index=1,
        content_block={
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_search",
            "input": {},
        },
    )
    delta = _ev(
        "content_block_delta",
        index=1,
        delta={"type": "input_json_delta", "partial_json": '{"query": "x"}'},
    )
    assert run(parser, [start, delta]) == []


def test_tool_use_with_complete_input_in_the_start_block() -> None:
    start = _ev(
        "content_block_start",
        index=0,
        content_block={"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    )
    assert AnthropicParser().parse(start) == [ToolCallDelta(0, '{"a": 1}', "t1", "f")]


def test_usage_counts_cached_input_and_keeps_both_counts() -> None:
    parser = AnthropicParser()
    start = _ev(
        "message_start",
        message={
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens": 1,
            }
        },
    )
    assert parser.parse(start) == [Usage(input_tokens=1110, output_tokens=1)]
    # message_delta usage is cumulative and may repeat some input fields.
    delta = _ev("message_delta", delta={}, usage={"input_tokens": 12, "output_tokens": 30})
    assert parser.parse(delta) == [Usage(input_tokens=1112, output_tokens=30)]
    # Without usage, no Usage event: the last one still stands.
    assert parser.parse(_ev("message_delta", delta={"stop_reason": "max_tokens"})) == [
        FinishReason("max_tokens")
    ]


def test_nothing_counts_after_message_stop() -> None:
    parser = AnthropicParser()
    assert parser.parse(_ev("message_stop")) == [Finished(None)]
    assert parser.parse(ServerSentEvent(event="error", data="x")) == []
    assert parser.parse(message("garbage")) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            '{"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}',
            ProviderFailed("Internal server error", kind="api_error"),
        ),
        ("not json", ProviderFailed("not json")),
        ("", ProviderFailed("The server reported an error while answering.")),
        ('{"type": "error"}', ProviderFailed("The server reported an error while answering.")),
    ],
)
def test_error_events(data: str, expected: ProviderFailed) -> None:
    assert AnthropicParser().parse(ServerSentEvent(event="error", data=data)) == [expected]


MALFORMED = [
    ("message_start", "{not json"),
    ("message_start", "[]"),
    ("message", '"text"'),
    ("message_start", '{"type": "message_start", "message": "m"}'),
    ("message_start", '{"type": "message_start", "message": {"usage": {"input_tokens": "9"}}}'),
    ("content_block_start", '{"type": "content_block_start", "index": "0", "content_block": {}}'),
    ("content_block_start", '{"type": "content_block_start", "index": 0, "content_block": []}'),
    (
        "content_block_start",
        '{"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": 5}}',
    ),
    ("content_block_delta", '{"type": "content_block_delta", "index": 0, "delta": "x"}'),
    (
        "content_block_delta",
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 1}}',
    ),
    (
        "content_block_delta",
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": {}}}',
    ),
    ("message_delta", '{"type": "message_delta", "delta": {"stop_reason": 3}}'),
    ("message_delta", '{"type": "message_delta", "delta": {}, "usage": {"output_tokens": false}}'),
    ("message_stop", '{"type": 7}'),
]


@pytest.mark.parametrize(("name", "data"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_data_raises_stream_protocol_error(name: str, data: str) -> None:
    with pytest.raises(StreamProtocolError, match=r"^The server .*“"):
        AnthropicParser().parse(ServerSentEvent(event=name, data=data))


def test_input_json_delta_fragment_of_wrong_type_raises() -> None:
    parser = AnthropicParser()
    parser.parse(
        _ev(
            "content_block_start",
            index=0,
            content_block={"type": "tool_use", "id": "t", "name": "f"},
        )
    )
    with pytest.raises(StreamProtocolError):
        parser.parse(
            _ev(
                "content_block_delta",
                index=0,
                delta={"type": "input_json_delta", "partial_json": 1},
            )
        )


@settings(max_examples=200, deadline=None)
@given(
    sse_events(
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "message_delta",
            "message_stop",
        ],
        ["type", "index", "delta", "message", "usage", "content_block", "text", "partial_json"],
        [
            {"type": "message_start", "message": "?"},
            {"type": "message_start", "message": {"usage": "?"}},
            {"type": "content_block_start", "index": "?", "content_block": "?"},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "input": "?"},
            },
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": "?"},
            },
            {"type": "content_block_delta", "index": "?", "delta": "?"},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "?"},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "?"},
            },
            {"type": "message_delta", "delta": "?", "usage": "?"},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "?"},
                "usage": {"output_tokens": "?"},
            },
            {"type": "error", "error": "?"},
            {"type": "?"},
        ],
    )
)
def test_parse_returns_events_or_raises_stream_protocol_error(
    events: list[ServerSentEvent],
) -> None:
    parser = AnthropicParser()
    for event in events:
        parse_checked(parser, event)


# ---------------------------------------------------------------- the request


def _request(*messages: tuple[str, str], **kw: object) -> ChatRequest:
    return ChatRequest(
        messages=tuple(ChatMessage(role, content) for role, content in messages),  # type: ignore[arg-type]
        model="claude-sonnet-4-5",
        **kw,  # type: ignore[arg-type]
    )


def test_request_shape_headers_and_defaults() -> None:
    endpoint = Endpoint(
        "https://api.anthropic.com/v1/",
        api_key="sk-ant-xyz",
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    req = PROVIDER.build_request(_request(("user", "Hi")), endpoint)
    assert req.method == "POST"
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers == {
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
        "accept": "text/event-stream",
        "x-api-key": "sk-ant-xyz",
        "anthropic-beta": "interleaved-thinking-2025-05-14",
    }
    assert req.json == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": DEFAULT_MAX_TOKENS,
        "stream": True,
    }


def test_request_with_system_temperature_and_max_tokens_without_key() -> None:
    req = PROVIDER.build_request(
        _request(("user", "Hi"), system="Be terse.", temperature=0.0, max_tokens=100),
        Endpoint("http://localhost:4000/v1/messages"),
    )
    assert req.url == "http://localhost:4000/v1/messages"
    assert "x-api-key" not in req.headers
    assert req.json == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be terse.",
        "max_tokens": 100,
        "stream": True,
        "temperature": 0.0,
    }


def test_consecutive_roles_merge_system_messages_move_and_empty_ones_drop() -> None:
    req = PROVIDER.build_request(
        _request(
            ("system", "Answer in French."),
            ("user", "Hello"),
            ("user", "Are you there?"),
            ("assistant", ""),
            ("user", "Hello?"),
            ("assistant", "Oui."),
            ("assistant", "Bonjour."),
            system="Be terse.",
        ),
        Endpoint("https://api.anthropic.com/v1"),
    )
    assert isinstance(req.json, dict)
    assert req.json["system"] == "Be terse.\n\nAnswer in French."
    assert req.json["messages"] == [
        {"role": "user", "content": "Hello\n\nAre you there?\n\nHello?"},
        {"role": "assistant", "content": "Oui.\n\nBonjour."},
    ]


def test_continue_sends_prefill_as_last_assistant_turn_without_trailing_space() -> None:
    req = PROVIDER.build_request(
        _request(("user", "Tell a story"), prefill="Once upon a time \n"),
        Endpoint("https://api.anthropic.com/v1"),
    )
    assert isinstance(req.json, dict)
    assert req.json["messages"] == [
        {"role": "user", "content": "Tell a story"},
        {"role": "assistant", "content": "Once upon a time"},
    ]


def test_the_continuation_joins_the_prefill_as_sent() -> None:
    # The model continues from "Once upon a time" and starts with " there": joining that to
    # the unstripped partial text would double the space.
    assert PROVIDER.continues_after("Once upon a time \n") == "Once upon a time"
    assert PROVIDER.continues_after("Once upon a time") + " there" == "Once upon a time there"
    assert PROVIDER.continues_after(" \n") == ""  # not sent: the answer starts afresh


def test_whitespace_only_prefill_is_not_sent() -> None:
    req = PROVIDER.build_request(_request(("user", "Hi"), prefill="  \n"), Endpoint("http://h/v1"))
    assert isinstance(req.json, dict)
    assert req.json["messages"] == [{"role": "user", "content": "Hi"}]


def test_models_url() -> None:
    assert PROVIDER.models_url(Endpoint("https://api.anthropic.com/v1")) == (
        "https://api.anthropic.com/v1/models"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_1"}',
            "invalid x-api-key",
        ),
        (
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded",
        ),
        ("<html><head><title>504 Gateway Time-out</title></head></html>", "504 Gateway Time-out"),
        ("", ""),
    ],
)
def test_error_message(body: str, expected: str) -> None:
    assert PROVIDER.error_message(body) == expected
