"""OpenAI Chat Completions: golden transcripts (OpenAI and the servers that copy it),
the request, error bodies, malformed data, and a property: parse never raises
anything but StreamProtocolError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from desktop_app.core.errors import ConfigError, StreamProtocolError
from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    ProviderFailed,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from desktop_app.core.providers import PROVIDER_NAMES, get_provider
from desktop_app.core.providers._request import CONTINUE_PROMPT
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.openai_chat import OpenAIChatParser, OpenAIChatProvider
from desktop_app.core.sse import ServerSentEvent
from tests.core.provider_transcripts import (
    message,
    parse_checked,
    run,
    sse_events,
    transcript,
)

PROVIDER = OpenAIChatProvider()

GOLDEN: dict[str, tuple[list[ContentEvent], bool]] = {
    "openai_basic.jsonl": (
        [
            TextDelta("Hello"),
            TextDelta("! How"),
            TextDelta(" can I help?"),
            FinishReason("stop"),
            Usage(input_tokens=9, output_tokens=6),
            Finished("stop"),
        ],
        True,
    ),
    "openai_tool_calls.jsonl": (
        [
            ToolCallDelta(index=0, arguments="", id="call_Fk3x", name="get_weather"),
            ToolCallDelta(index=0, arguments='{"ci'),
            ToolCallDelta(index=0, arguments='ty": "Paris"}'),
            ToolCallDelta(index=1, arguments="", id="call_9Qz", name="get_time"),
            ToolCallDelta(index=1, arguments='{"tz": "Europe/Paris"}'),
            FinishReason("tool_calls"),
            Usage(input_tokens=82, output_tokens=41),
            Finished("tool_calls"),
        ],
        True,
    ),
    "openai_error_in_stream.jsonl": (
        [
            TextDelta("The answer"),
            ProviderFailed(
                "The server had an error while processing your request. Sorry about that!",
                kind="server_error",
            ),
        ],
        False,
    ),
    "ollama_reasoning.jsonl": (
        [
            ReasoningDelta("Okay, the user"),
            ReasoningDelta(" says hi."),
            TextDelta("Hi"),
            TextDelta(" there!"),
            FinishReason("stop"),
            Usage(input_tokens=11, output_tokens=20),
            Finished("stop"),
        ],
        True,
    ),
    "deepseek_reasoning.jsonl": (
        [
            ReasoningDelta("9.11 vs 9.9"),
            ReasoningDelta(": compare tenths."),
            TextDelta("9.9 is larger."),
            FinishReason("stop"),
            Usage(input_tokens=16, output_tokens=30),
            Finished("stop"),
        ],
        True,
    ),
    "llamacpp.jsonl": (
        [
            TextDelta("Paris"),
            TextDelta("."),
            FinishReason("stop"),
            Usage(input_tokens=14, output_tokens=2),
            Finished("stop"),
        ],
        True,
    ),
    # Continuous usage on every chunk; the n=2 second choice ("No") is not ours.
    "vllm.jsonl": (
        [
            Usage(input_tokens=12, output_tokens=0),
            ReasoningDelta("Short question."),
            Usage(input_tokens=12, output_tokens=3),
            TextDelta("Yes"),
            Usage(input_tokens=12, output_tokens=4),
            TextDelta("."),
            Usage(input_tokens=12, output_tokens=5),
            FinishReason("length"),
            Usage(input_tokens=12, output_tokens=5),
            Finished("length"),
        ],
        True,
    ),
    "vllm_error.jsonl": (
        [
            ProviderFailed(
                "This model's maximum context length is 4096 tokens.",
                kind="BadRequestError",
                code="400",
            )
        ],
        False,
    ),
    # Unknown event names skipped, a named chunk event read, data after [DONE] ignored.
    "lmstudio_habits.jsonl": (
        [TextDelta("Bonjour"), TextDelta(" !"), FinishReason("stop"), Finished("stop")],
        True,
    ),
    "openrouter.jsonl": (
        [
            ReasoningDelta("Think"),
            ReasoningDelta("ing done."),
            TextDelta("42"),
            FinishReason("stop"),
            Usage(input_tokens=10, output_tokens=7),
            Finished("stop"),
        ],
        True,
    ),
    "openrouter_error.jsonl": (
        [TextDelta("Partial"), ProviderFailed("Provider returned error", code="502")],
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_transcript(name: str) -> None:
    expected, finished = GOLDEN[name]
    parser = PROVIDER.new_parser()
    assert run(parser, transcript(name)) == expected
    assert parser.finished is finished


def test_done_without_finish_reason_has_no_reason() -> None:
    parser = OpenAIChatParser()
    assert run(
        parser, [message({"choices": [{"delta": {"content": "x"}}]}), message("[DONE]")]
    ) == [
        TextDelta("x"),
        Finished(None),
    ]


def test_nothing_counts_after_done() -> None:
    parser = OpenAIChatParser()
    parser.parse(message("[DONE]"))
    assert parser.parse(message("not json at all")) == []
    assert parser.parse(ServerSentEvent(event="error", data="boom")) == []


@pytest.mark.parametrize("data", ["", "   ", "\n"])
def test_empty_data_is_ignored(data: str) -> None:
    assert OpenAIChatParser().parse(message(data)) == []


def test_done_sentinel_is_recognised_with_surrounding_space_and_any_event_name() -> None:
    parser = OpenAIChatParser()
    assert parser.parse(ServerSentEvent(event="done", data=" [DONE] ")) == [Finished(None)]
    assert parser.finished


def test_unknown_event_with_non_chunk_json_is_ignored() -> None:
    parser = OpenAIChatParser()
    assert parser.parse(ServerSentEvent(event="ping", data="{}")) == []
    assert parser.parse(ServerSentEvent(event="progress", data="{bad")) == []
    assert parser.parse(ServerSentEvent(event="progress", data="[1, 2]")) == []


def test_message_json_without_choices_is_ignored() -> None:
    assert OpenAIChatParser().parse(message({"type": "ping"})) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            '{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}',
            ProviderFailed("Rate limit reached", kind="requests", code="rate_limit_exceeded"),
        ),
        ('{"error": "model \\"llama9\\" not found"}', ProviderFailed('model "llama9" not found')),
        ("upstream timed out", ProviderFailed("upstream timed out")),
        ("", ProviderFailed("The server reported an error while answering.")),
        ('{"message": "bad things", "code": 500}', ProviderFailed("bad things", code="500")),
    ],
)
def test_error_event_becomes_provider_failed(data: str, expected: ProviderFailed) -> None:
    assert OpenAIChatParser().parse(ServerSentEvent(event="error", data=data)) == [expected]


def test_error_object_with_odd_shape_still_fails_the_turn() -> None:
    [event] = OpenAIChatParser().parse(message({"error": 42}))
    assert isinstance(event, ProviderFailed)
    assert event.message == "The server reported an error while answering."


def test_error_null_is_not_an_error() -> None:
    parser = OpenAIChatParser()
    chunk = {"error": None, "choices": [{"index": 0, "delta": {"content": "ok"}}]}
    assert parser.parse(message(chunk)) == [TextDelta("ok")]


def test_reasoning_content_wins_when_a_server_sends_both_fields() -> None:
    chunk = {"choices": [{"delta": {"reasoning_content": "r", "reasoning": "r"}}]}
    assert OpenAIChatParser().parse(message(chunk)) == [ReasoningDelta("r")]


def test_content_as_parts_and_refusal() -> None:
    chunk = {
        "choices": [
            {
                "delta": {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                        {"type": "thinking", "thinking": "plain"},
                        {"type": "text", "text": "Hi"},
                        {"type": "image_url", "image_url": {"url": "x"}},
                    ],
                    "refusal": "I can't help with that.",
                }
            }
        ]
    }
    assert OpenAIChatParser().parse(message(chunk)) == [
        ReasoningDelta("hmm"),
        ReasoningDelta("plain"),
        TextDelta("Hi"),
        TextDelta("I can't help with that."),
    ]


def test_tool_call_quirks_missing_index_object_arguments_empty_fragment() -> None:
    chunk = {
        "choices": [
            {
                "delta": {
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "f", "arguments": {"a": 1}}},
                        {"index": 0},
                        {"id": "c2", "type": "function", "function": {"name": "g"}},
                    ]
                }
            }
        ]
    }
    assert OpenAIChatParser().parse(message(chunk)) == [
        ToolCallDelta(index=0, arguments='{"a": 1}', id="c1", name="f"),
        ToolCallDelta(index=2, arguments="", id="c2", name="g"),
    ]


def test_usage_counts_written_as_floats_are_accepted() -> None:
    chunk = {"choices": [], "usage": {"prompt_tokens": 3.0, "completion_tokens": 4}}
    assert OpenAIChatParser().parse(message(chunk)) == [Usage(3, 4)]


def test_usage_without_counts_is_not_reported() -> None:
    assert OpenAIChatParser().parse(message({"choices": [], "usage": {"total_tokens": 5}})) == []


def test_an_emoji_split_across_chunks_is_joined() -> None:
    # JavaScript servers slice UTF-16 strings, so a pair can straddle two chunks.
    parser = OpenAIChatParser()
    first = r'{"choices": [{"delta": {"content": "a\ud83d"}}]}'
    second = r'{"choices": [{"delta": {"content": "\ude00b"}}]}'
    assert run(parser, [message(first), message(second)]) == [TextDelta("a"), TextDelta("😀b")]


def test_lone_surrogates_become_replacement_characters() -> None:
    parser = OpenAIChatParser()
    events = [
        message(r'{"choices": [{"delta": {"content": "x\ude00y\ud83d"}}]}'),
        message(r'{"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "\ud800"}]}}]}'),
        message("[DONE]"),
    ]
    assert run(parser, events) == [
        TextDelta("x\ufffdy"),
        ToolCallDelta(index=0, id="\ufffd"),
        TextDelta("\ufffd"),
        Finished(None),
    ]


# ---------------------------------------------------------------- malformed data

MALFORMED = [
    '{"choices": [{"delta": {"content": "unterminated',
    "[1, 2, 3]",
    '"just a string"',
    "42",
    "null",
    '{"choices": "everything"}',
    '{"choices": ["not an object"]}',
    '{"choices": [{"index": "zero", "delta": {}}]}',
    '{"choices": [{"index": true, "delta": {}}]}',
    '{"choices": [{"delta": "text"}]}',
    '{"choices": [{"delta": {"content": 5}}]}',
    '{"choices": [{"delta": {"content": [1]}}]}',
    '{"choices": [{"delta": {"content": {"text": "x"}}}]}',
    '{"choices": [{"delta": {"reasoning_content": ["x"]}}]}',
    '{"choices": [{"delta": {"tool_calls": {"index": 0}}}]}',
    '{"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]}',
    '{"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": 1}}]}}]}',
    '{"choices": [{"delta": {}, "finish_reason": 1}]}',
    '{"choices": [], "usage": {"prompt_tokens": "nine"}}',
    '{"choices": [], "usage": {"prompt_tokens": 1.5}}',
    '{"choices": [], "usage": []}',
    "[" * 100_000,
]


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_data_raises_stream_protocol_error(data: str) -> None:
    with pytest.raises(StreamProtocolError) as info:
        OpenAIChatParser().parse(message(data))
    text = str(info.value)
    assert text.startswith("The server ")
    assert data[:20] in text or "…" in text  # it quotes the data
    assert len(text) < 200


def test_error_message_quotes_a_short_excerpt_of_long_data() -> None:
    data = '{"choices": "' + "x" * 500 + '"}'
    with pytest.raises(StreamProtocolError) as info:
        OpenAIChatParser().parse(message(data))
    assert "…" in str(info.value)
    assert info.value.hint


@settings(max_examples=200, deadline=None)
@given(
    sse_events(
        ["completion", "done"],
        ["choices", "delta", "content", "tool_calls", "function", "usage", "error", "index"],
        [
            {"choices": "?"},
            {"choices": ["?"]},
            {"choices": [{"index": 0, "delta": "?", "finish_reason": "?"}]},
            {"choices": [{"delta": {"content": "?", "reasoning": "?", "tool_calls": "?"}}]},
            {"choices": [{"delta": {"tool_calls": [{"index": "?", "function": "?"}]}}]},
            {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "?"}}]}}]},
            {"choices": [{"delta": {"content": ["?"]}}]},
            {"choices": [{"delta": {"content": [{"type": "thinking", "thinking": "?"}]}}]},
            {"choices": [], "usage": "?"},
            {"error": "?"},
            {"object": "error", "message": "?", "code": "?"},
        ],
    )
)
def test_parse_returns_events_or_raises_stream_protocol_error(
    events: list[ServerSentEvent],
) -> None:
    parser = OpenAIChatParser()
    for event in events:
        parse_checked(parser, event)


# ---------------------------------------------------------------- the request


def _request(**kw: object) -> ChatRequest:
    base: dict[str, object] = {
        "messages": (
            ChatMessage("user", "Hi"),
            ChatMessage("assistant", "Hello"),
            ChatMessage("user", "Again"),
        ),
        "model": "gpt-4o-mini",
    }
    base.update(kw)
    return ChatRequest(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"),
        ("http://localhost:11434/v1//", "http://localhost:11434/v1/chat/completions"),
        ("http://localhost:8080", "http://localhost:8080/chat/completions"),
        (" https://x.test/v1/chat/completions/ ", "https://x.test/v1/chat/completions"),
        (
            "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
        ),
    ],
)
def test_url_joins_without_doubling_slashes(base_url: str, url: str) -> None:
    assert PROVIDER.build_request(_request(), Endpoint(base_url)).url == url


def test_request_with_key_system_and_settings() -> None:
    endpoint = Endpoint(
        "https://api.openai.com/v1",
        api_key=" sk-test\n",
        extra_headers={"OpenAI-Organization": "org-1"},
    )
    req = PROVIDER.build_request(
        _request(system="Be brief.", temperature=0.2, max_tokens=50), endpoint
    )
    assert req.method == "POST"
    assert req.headers == {
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-test",
        "OpenAI-Organization": "org-1",
    }
    assert req.json == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 50,
    }


@pytest.mark.parametrize("key", [None, "", "   "])
def test_request_without_key_has_no_authorization(key: str | None) -> None:
    req = PROVIDER.build_request(_request(), Endpoint("http://localhost:11434/v1", api_key=key))
    assert "Authorization" not in req.headers
    assert isinstance(req.json, dict)
    assert "temperature" not in req.json
    assert "max_tokens" not in req.json
    assert req.json["messages"][0] == {"role": "user", "content": "Hi"}


def test_extra_headers_override_case_insensitively() -> None:
    endpoint = Endpoint("http://h/v1", api_key="k", extra_headers={"authorization": "Token abc"})
    headers = PROVIDER.build_request(_request(), endpoint).headers
    assert [k for k in headers if k.lower() == "authorization"] == ["authorization"]
    assert headers["authorization"] == "Token abc"


def test_continue_appends_the_partial_answer_and_a_request_to_go_on() -> None:
    req = PROVIDER.build_request(_request(prefill="Once upon a ti"), Endpoint("http://h/v1"))
    assert isinstance(req.json, dict)
    assert req.json["messages"][-2:] == [
        {"role": "assistant", "content": "Once upon a ti"},
        {"role": "user", "content": CONTINUE_PROMPT},
    ]
    assert "Do not repeat" in CONTINUE_PROMPT
    # Sent back whole, so the continuation joins the whole partial text.
    assert PROVIDER.continues_after("Once upon a time \n") == "Once upon a time \n"


def test_api_key_is_not_in_the_request_repr() -> None:
    # Requests get logged when things go wrong; the key must not go with them.
    req = PROVIDER.build_request(_request(), Endpoint("http://h/v1", api_key="sk-secret"))
    assert req.headers["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in repr(req)


def test_models_url() -> None:
    assert (
        PROVIDER.models_url(Endpoint("https://api.openai.com/v1/"))
        == "https://api.openai.com/v1/models"
    )
    assert PROVIDER.models_url(Endpoint("http://h/v1/chat/completions")) == "http://h/v1/models"


# ---------------------------------------------------------------- error bodies

NGINX_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"error": {"message": "Incorrect API key provided: sk-abc***.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}',
            "Incorrect API key provided: sk-abc***.",
        ),
        (
            '{"error": "model \\"llama3\\" not found, try pulling it first"}',
            'model "llama3" not found, try pulling it first',
        ),
        ('{"message": "Unauthorized"}', "Unauthorized"),
        ('{"detail": "Not Found"}', "Not Found"),
        (
            '{"detail": [{"loc": ["body", "model"], "msg": "Field required", "type": "missing"}]}',
            "Field required",
        ),
        (
            '{"object": "error", "message": "The model `x` does not exist.", "code": 404}',
            "The model `x` does not exist.",
        ),
        (NGINX_502, "502 Bad Gateway"),
        (
            "<html><body><h1>Service   Unavailable</h1><p>Try &amp; again</p></body></html>",
            "Service Unavailable Try & again",
        ),
        (
            "<!DOCTYPE html><html><head><title> Just a moment...</title><style>body{}</style></head></html>",
            "Just a moment...",
        ),
        (
            "upstream connect error or disconnect/reset before headers",
            "upstream connect error or disconnect/reset before headers",
        ),
        ("", ""),
        ("   \n", ""),
        ("{}", ""),
        ('{"error": {"code": 5}}', ""),
        ("[1, 2]", ""),
    ],
)
def test_error_message(body: str, expected: str) -> None:
    assert PROVIDER.error_message(body) == expected


def test_error_message_of_a_huge_page_is_short() -> None:
    body = "<html><body>" + "word " * 5000 + "</body></html>"
    message_ = PROVIDER.error_message(body)
    assert 0 < len(message_) <= 300
    assert "<" not in message_


# ---------------------------------------------------------------- registry


def test_registry() -> None:
    assert PROVIDER_NAMES == ("openai", "anthropic", "generic")
    for name in PROVIDER_NAMES:
        provider = get_provider(name)
        assert provider.name == name
        assert provider.new_parser().finished is False
    assert get_provider(" OpenAI ").name == "openai"
    assert get_provider("generic").resumable is True
    assert get_provider("openai").resumable is False
    with pytest.raises(ConfigError, match="gemini"):
        get_provider("gemini")
