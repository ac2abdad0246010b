"""The official openai and anthropic SDKs stream from the stub with no error and the right data.

Strict response validation is on, so every body and chunk must match the SDKs' own models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from server_stub import content
from server_stub.embedded import RunningStub, start_stub
from tests.stub.wire import FAST

PROMPT = "Tell me about streaming"
EXPECTED = content.demo_answer(PROMPT, content.seed_for(PROMPT))
MESSAGES: Any = [{"role": "user", "content": PROMPT}]
TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(trust_env=False, timeout=10.0) as c:
        yield c


@pytest.fixture(scope="module")
def oai(stub: RunningStub, http: httpx2.Client) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=stub.url + "/v1",
        api_key="x",
        http_client=http,
        max_retries=0,
        default_headers=FAST,
        _strict_response_validation=True,
    )


@pytest.fixture(scope="module")
def ant(stub: RunningStub, http: httpx2.Client) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=stub.url,
        api_key="x",
        http_client=http,
        max_retries=0,
        default_headers=FAST,
        _strict_response_validation=True,
    )


def _scenario(name: str) -> dict[str, str]:
    return {"x-stub-scenario": name}


# --- OpenAI -----------------------------------------------------------------------------------


def test_openai_stream_text_and_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = [], None, None
    for chunk in stream:
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(text) == EXPECTED
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens > 50
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_openai_stream_helper_final_completion(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == EXPECTED
    assert final.choices[0].message.content == EXPECTED
    assert final.choices[0].finish_reason == "stop"


def test_openai_tool_call_stream(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="stub-tool_call", messages=MESSAGES, tools=[TOOL]
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"location": "Paris"}  # type: ignore[union-attr]


def test_openai_tool_round_trip_non_stream(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(model="stub-tool_call", messages=MESSAGES, tools=[TOOL])
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    second = oai.chat.completions.create(
        model="stub-tool_call",
        tools=[TOOL],
        messages=[
            *MESSAGES,
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 19}'},
        ],
    )
    assert second.choices[0].finish_reason == "stop"
    assert '"temp_c": 19' in (second.choices[0].message.content or "")


def test_openai_reasoning_and_usage_details(oai: openai.OpenAI) -> None:
    done = oai.chat.completions.create(model="stub-reasoning", messages=MESSAGES)
    assert done.choices[0].message.content == EXPECTED
    assert done.usage is not None
    assert done.usage.completion_tokens_details is not None
    assert (done.usage.completion_tokens_details.reasoning_tokens or 0) > 10


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        ("http_401", openai.AuthenticationError),
        ("http_404_model", openai.NotFoundError),
        ("http_429_retry_after", openai.RateLimitError),
        ("http_500", openai.InternalServerError),
        ("overloaded", openai.InternalServerError),
    ],
)
def test_openai_http_errors(oai: openai.OpenAI, scenario: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers=_scenario(scenario)
        )
    assert isinstance(info.value, openai.APIStatusError)
    assert info.value.message  # parsed from {"error": {"message": ...}}


def test_openai_error_event_mid_stream(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        extra_headers=_scenario("error_event_mid_stream"),
    )
    got: list[str] = []
    with pytest.raises(openai.APIError, match="server had an error"):
        got.extend(c.choices[0].delta.content or "" for c in stream)
    assert EXPECTED.startswith("".join(got))


def test_openai_line_separators_survive(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="stub-unicode_line_separators", messages=MESSAGES, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == content.line_separator_answer(PROMPT, 0)


def test_openai_split_utf8_and_crlf(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="stub-split_utf8", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == content.multilingual_answer(PROMPT, 0)


# --- Anthropic --------------------------------------------------------------------------------


def test_anthropic_stream_helper(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model="streamdesk-stub", max_tokens=4096, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == EXPECTED
    assert final.stop_reason == "end_turn"
    assert final.content[0].type == "text"
    assert final.content[0].text == EXPECTED
    assert final.usage.output_tokens > 50
    assert final.usage.input_tokens > 0


def test_anthropic_raw_events(ant: anthropic.Anthropic) -> None:
    events = list(
        ant.messages.create(
            model="streamdesk-stub", max_tokens=4096, messages=MESSAGES, stream=True
        )
    )
    types = [e.type for e in events]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"  # ping is consumed by the SDK


def test_anthropic_tool_use(ant: anthropic.Anthropic) -> None:
    tools: Any = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": TOOL["function"]["parameters"],
        }
    ]
    with ant.messages.stream(
        model="stub-tool_call", max_tokens=4096, messages=MESSAGES, tools=tools
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    kinds = [b.type for b in final.content]
    assert kinds == ["text", "tool_use"]
    block = final.content[1]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"location": "Paris"}
    followup = ant.messages.create(
        model="stub-tool_call",
        max_tokens=4096,
        tools=tools,
        messages=[
            *MESSAGES,
            {"role": "assistant", "content": [b.model_dump() for b in final.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": block.id, "content": "19 C, sunny"}
                ],
            },
        ],
    )
    assert followup.stop_reason == "end_turn"
    assert "19 C, sunny" in followup.content[0].text  # type: ignore[union-attr]


def test_anthropic_thinking(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model="stub-reasoning", max_tokens=4096, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking"
    assert thinking.thinking == content.reasoning_text(PROMPT)
    assert thinking.signature
    assert text.type == "text"
    assert text.text == EXPECTED


def test_anthropic_ignores_unknown_events(stub: RunningStub, http: httpx2.Client) -> None:
    # Default (lenient) validation, as apps use it: strict mode rejects any new event type.
    ant = anthropic.Anthropic(
        base_url=stub.url, api_key="x", http_client=http, max_retries=0, default_headers=FAST
    )
    with ant.messages.stream(
        model="stub-unknown_event_types", max_tokens=4096, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == EXPECTED


def test_anthropic_overloaded(ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as info:
        ant.messages.create(model="stub-overloaded", max_tokens=4096, messages=MESSAGES)
    assert info.value.status_code == 529
    stream = ant.messages.create(
        model="stub-overloaded", max_tokens=4096, messages=MESSAGES, stream=True
    )
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        list(stream)


@pytest.mark.parametrize(
    ("scenario", "error"),
    [
        ("http_401", anthropic.AuthenticationError),
        ("http_404_model", anthropic.NotFoundError),
        ("http_429_retry_after", anthropic.RateLimitError),
        ("http_500", anthropic.InternalServerError),
    ],
)
def test_anthropic_http_errors(
    ant: anthropic.Anthropic, scenario: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ant.messages.create(
            model="streamdesk-stub",
            max_tokens=10,
            messages=MESSAGES,
            extra_headers=_scenario(scenario),
        )


def test_sdks_send_keys_the_way_the_stub_checks(http: httpx2.Client) -> None:
    with start_stub(api_key="sk-right", first_token_delay=0.0, tokens_per_second=0) as s:
        good = openai.OpenAI(
            base_url=s.url + "/v1", api_key="sk-right", http_client=http, max_retries=0
        )
        assert good.models.list().data[0].id == "streamdesk-stub"
        bad = openai.OpenAI(
            base_url=s.url + "/v1", api_key="sk-wrong", http_client=http, max_retries=0
        )
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=MESSAGES)
        ant_good = anthropic.Anthropic(
            base_url=s.url, api_key="sk-right", http_client=http, max_retries=0
        )
        reply = ant_good.messages.create(model="m", max_tokens=50, messages=MESSAGES)
        assert reply.stop_reason == "max_tokens"
        ant_bad = anthropic.Anthropic(
            base_url=s.url, api_key="sk-wrong", http_client=http, max_retries=0
        )
        with pytest.raises(anthropic.AuthenticationError):
            ant_bad.messages.create(model="m", max_tokens=50, messages=MESSAGES)


def test_openai_tolerates_unknown_chunks(stub: RunningStub, http: httpx2.Client) -> None:
    lenient = openai.OpenAI(
        base_url=stub.url + "/v1",
        api_key="x",
        http_client=http,
        max_retries=0,
        default_headers=FAST,
    )
    stream = lenient.chat.completions.create(
        model="stub-unknown_event_types", messages=MESSAGES, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices == []  # the Azure-style prompt_filter_results chunk
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == EXPECTED


def test_openai_drop_is_a_connection_error(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="stub-drop_mid_stream", messages=MESSAGES, stream=True
    )
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        got.extend(c.choices[0].delta.content or "" for c in stream)
    assert got
    assert EXPECTED.startswith("".join(got))
