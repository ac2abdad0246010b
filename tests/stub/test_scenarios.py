"""Every scenario in every format, over a real socket: each test asserts the specific fault."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server_stub import content, scenarios
from server_stub.embedded import RunningStub
from tests.stub.wire import (
    FAST,
    Event,
    Fetched,
    anthropic_body,
    anthropic_text,
    fetch,
    generic_body,
    generic_text,
    openai_body,
    openai_text,
)


@dataclass(frozen=True)
class Fmt:
    name: str
    path: str
    body: Callable[..., dict[str, Any]]
    text: Callable[[list[Event]], str]
    terminated: Callable[[Fetched], bool]


OPENAI = Fmt(
    "openai",
    "/v1/chat/completions",
    openai_body,
    openai_text,
    lambda f: f.raw.replace(b"\r\n", b"\n").endswith(b"data: [DONE]\n\n"),
)
ANTHROPIC = Fmt(
    "anthropic",
    "/v1/messages",
    anthropic_body,
    anthropic_text,
    lambda f: bool(f.events) and f.events[-1].event == "message_stop",
)
GENERIC = Fmt(
    "generic",
    "/api/chat",
    generic_body,
    generic_text,
    lambda f: bool(f.events) and f.events[-1].event == "stop",
)
FORMATS = [OPENAI, ANTHROPIC, GENERIC]
by_format = pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)

PROMPT = "Tell me about streaming"
EXPECTED = content.demo_answer(PROMPT, content.seed_for(PROMPT))


def run(
    stub: RunningStub,
    client: httpx.Client,
    fmt: Fmt,
    scenario: str,
    *,
    stream: bool = True,
    prompt: str = PROMPT,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Fetched:
    body = fmt.body(prompt, **extra)
    body["stream"] = stream
    return fetch(
        client,
        "POST",
        stub.url + fmt.path,
        json_body=body,
        headers={**FAST, "x-stub-scenario": scenario, **(headers or {})},
    )


def _error_shape(fmt: Fmt, body: Any) -> str:
    """Check the format's error shape; return the error type."""
    if fmt is OPENAI:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        return str(body["error"]["type"])
    if fmt is ANTHROPIC:
        assert body["type"] == "error"
        assert set(body["error"]) == {"type", "message"}
        return str(body["error"]["type"])
    assert set(body) == {"type", "message", "code"}
    assert body["type"] == "error"
    return str(body["code"])


# --- every scenario answers in every format, streamed and not --------------------------------

QUICK = {
    "x-stub-stall-seconds": "0.05",
    "x-stub-first-token-delay": "0",
    "x-stub-keepalive-interval": "0.02",
}
EXPECTED_STATUS = {
    "http_401": 401,
    "http_404_model": 404,
    "http_429_retry_after": 429,
    "http_500": 500,
    "html_error_page": 502,
}


# split_utf8 streamed is slow by design; test_split_utf8_cuts_characters_and_crlf covers it.
MATRIX = [
    (name, stream)
    for name in scenarios.SCENARIOS
    for stream in (True, False)
    if not (stream and name == "split_utf8")
]


@by_format
@pytest.mark.parametrize(
    ("name", "stream"), MATRIX, ids=[f"{n}-{'stream' if s else 'body'}" for n, s in MATRIX]
)
def test_every_scenario_answers(
    stub: RunningStub, client: httpx.Client, fmt: Fmt, stream: bool, name: str
) -> None:
    f = run(stub, client, fmt, name, stream=stream, prompt="hi", headers=QUICK)
    status = EXPECTED_STATUS.get(name, 200)
    if not stream:
        status = {
            "error_event_mid_stream": 500,
            "overloaded": {"anthropic": 529}.get(fmt.name, 503),
            "keepalive_only": 504,
        }.get(name, status)
    assert f.status == status
    if status == 200 and stream:
        assert f.headers["content-type"].startswith(
            "text/plain" if name == "wrong_content_type" else "text/event-stream"
        )
    expect_broken = name in ("drop_mid_stream", "drop_then_resume")
    assert (f.error is not None) == expect_broken, f.error


# --- the specific faults ----------------------------------------------------------------------


@by_format
def test_slow_first_token_sends_keepalives_first(
    stub: RunningStub, client: httpx.Client, fmt: Fmt
) -> None:
    f = run(
        stub,
        client,
        fmt,
        "slow_first_token",
        headers={"x-stub-first-token-delay": "0.35", "x-stub-keepalive-interval": "0.1"},
    )
    head = f.raw.split(b"\n\n: keep-alive\n\n")[0]
    first_content = f.raw.index(b"Tell" if fmt is not GENERIC else b"id: 1")
    assert f.raw[:first_content].count(b": keep-alive\n\n") >= 2
    if fmt is ANTHROPIC:  # message_start and ping come before the wait, as the API does
        assert head.startswith(b"event: message_start")
        assert b"event: ping" in head
    assert fmt.text(f.events) == EXPECTED
    assert fmt.terminated(f)


def test_slow_first_token_defaults() -> None:
    sc = scenarios.SCENARIOS["slow_first_token"]
    assert sc.first_token_delay == 8.0
    assert sc.keepalive_interval == 2.0


def test_fast_batches_tens_of_thousands_of_tokens(stub: RunningStub, client: httpx.Client) -> None:
    f = fetch(
        client,
        "POST",
        stub.url + "/v1/chat/completions",
        json_body=openai_body(PROMPT, max_tokens=8000),
        headers={"x-stub-scenario": "fast"},
    )
    assert content.long_answer(PROMPT, content.seed_for(PROMPT)).startswith(openai_text(f.events))
    assert len(f.events) == 8000 + 3
    # Frames due together leave in one write, so reads carry many events each.
    assert len(f.chunks) < len(f.events) / 4
    assert scenarios.SCENARIOS["fast"].tokens_per_second == 20_000


@pytest.mark.parametrize("fmt", [ANTHROPIC, GENERIC], ids=lambda f: f.name)
def test_long_answer(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(stub, client, fmt, "long", max_tokens=100_000)
    text = fmt.text(f.events)
    assert text == content.long_answer(PROMPT, content.seed_for(PROMPT))
    assert len(f.events) > 25_000
    assert fmt.terminated(f)


@by_format
def test_stall_mid_stream_is_silent_then_finishes(
    stub: RunningStub, client: httpx.Client, fmt: Fmt
) -> None:
    f = run(
        stub,
        client,
        fmt,
        "stall_mid_stream",
        headers={"x-stub-stall-seconds": "0.3"},
    )
    gaps = [b - a for a, b in zip(f.times, f.times[1:], strict=False)]
    assert max(gaps) >= 0.25
    assert f.comments == []  # silent: no keep-alive hides the stall
    assert fmt.text(f.events) == EXPECTED
    assert fmt.terminated(f)


@by_format
@pytest.mark.parametrize("name", ["drop_mid_stream", "drop_then_resume"])
def test_drop_closes_without_terminator(
    stub: RunningStub, client: httpx.Client, fmt: Fmt, name: str
) -> None:
    f = run(stub, client, fmt, name)
    assert isinstance(f.error, httpx.RemoteProtocolError)  # the chunked body never ended
    assert not fmt.terminated(f)
    text = fmt.text(f.events)
    assert text
    assert EXPECTED.startswith(text)
    assert len(text) < len(EXPECTED) * 0.7
    if fmt is OPENAI:
        assert b"[DONE]" not in f.raw


@by_format
def test_drop_in_a_body_cuts_it(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(stub, client, fmt, "drop_mid_stream", stream=False)
    assert f.status == 200
    assert isinstance(f.error, httpx.RemoteProtocolError)
    with pytest.raises(ValueError, match=r"."):
        json.loads(f.raw)


@by_format
@pytest.mark.parametrize("name", ["error_event_mid_stream", "overloaded"])
def test_error_event_then_end(stub: RunningStub, client: httpx.Client, fmt: Fmt, name: str) -> None:
    f = run(stub, client, fmt, name)
    assert f.status == 200
    assert f.error is None  # a clean end, just no terminator
    assert not fmt.terminated(f)
    last = f.events[-1]
    if fmt is OPENAI:
        assert last.event == "message"
        assert _error_shape(OPENAI, last.json()) == "server_error"
        assert b"[DONE]" not in f.raw
    elif fmt is ANTHROPIC:
        assert last.event == "error"
        kind = "overloaded_error" if name == "overloaded" else "api_error"
        assert last.json() == {
            "type": "error",
            "error": {"type": kind, "message": last.json()["error"]["message"]},
        }
        assert kind == last.json()["error"]["type"]
    else:
        assert last.json()["type"] == "error"
        assert last.json()["code"] == (529 if name == "overloaded" else 500)
    assert EXPECTED.startswith(fmt.text(f.events))


HTTP_ERRORS = [
    ("http_401", 401, {"openai": "invalid_request_error", "anthropic": "authentication_error"}),
    ("http_404_model", 404, {"openai": "invalid_request_error", "anthropic": "not_found_error"}),
    ("http_429_retry_after", 429, {"openai": "requests", "anthropic": "rate_limit_error"}),
    ("http_500", 500, {"openai": "server_error", "anthropic": "api_error"}),
]


@by_format
@pytest.mark.parametrize(("name", "status", "types"), HTTP_ERRORS, ids=[e[0] for e in HTTP_ERRORS])
def test_http_errors_in_the_service_shape(
    stub: RunningStub,
    client: httpx.Client,
    fmt: Fmt,
    name: str,
    status: int,
    types: dict[str, str],
) -> None:
    f = run(stub, client, fmt, name)
    assert f.status == status
    assert f.headers["content-type"] == "application/json"
    kind = _error_shape(fmt, f.json())
    assert kind == types.get(fmt.name, str(status))
    if name == "http_429_retry_after":
        assert f.headers["retry-after"] == "2"
    if name == "http_404_model":
        assert ("streamdesk-stub" if fmt is GENERIC else "test") in f.text()  # names the model


def test_overloaded_body_is_anthropic_529(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, ANTHROPIC, "overloaded", stream=False)
    assert f.status == 529
    assert f.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}


@by_format
def test_malformed_json_event(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(stub, client, fmt, "malformed_json")
    bad = []
    for e in f.events:
        if e.data == "[DONE]":
            continue
        try:
            json.loads(e.data)
        except ValueError:
            bad.append(e)
    assert len(bad) == 1
    assert fmt.terminated(f)
    assert f.events.index(bad[0]) > 3  # mid-stream, not at the start
    body = run(stub, client, fmt, "malformed_json", stream=False)
    with pytest.raises(ValueError, match=r"."):
        json.loads(body.raw)


@by_format
@pytest.mark.parametrize("stream", [True, False])
def test_html_error_page(stub: RunningStub, client: httpx.Client, fmt: Fmt, stream: bool) -> None:
    f = run(stub, client, fmt, "html_error_page", stream=stream)
    assert f.status == 502
    assert f.headers["content-type"].startswith("text/html")
    assert b"<title>502 Bad Gateway</title>" in f.raw


@by_format
def test_wrong_content_type(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(stub, client, fmt, "wrong_content_type")
    assert f.headers["content-type"] == "text/plain; charset=utf-8"
    assert fmt.text(f.events) == EXPECTED  # the body is fine; only the label is wrong


def test_unknown_event_types_anthropic(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, ANTHROPIC, "unknown_event_types")
    known = {
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    }
    assert {e.event for e in f.events} - known == {"stub_future_event"}
    deltas = {e.json()["delta"]["type"] for e in f.events if e.event == "content_block_delta"}
    assert "stub_future_delta" in deltas
    assert anthropic_text(f.events) == EXPECTED
    assert ANTHROPIC.terminated(f)


def test_unknown_event_types_openai(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, OPENAI, "unknown_event_types")
    first = f.events[0].json()
    assert first["choices"] == []
    assert "prompt_filter_results" in first
    assert any("x_stub_unknown" in e.data for e in f.events)
    assert f.comments
    assert openai_text(f.events) == EXPECTED
    assert OPENAI.terminated(f)


def test_unknown_event_types_generic(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, GENERIC, "unknown_event_types")
    assert "progress" in {e.event for e in f.events}
    assert "metadata" in {e.json()["type"] for e in f.events if e.event == "message"}
    assert generic_text(f.events) == EXPECTED


def _ends_inside_utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


@by_format
def test_split_utf8_cuts_characters_and_crlf(
    stub: RunningStub, client: httpx.Client, fmt: Fmt
) -> None:
    f = run(stub, client, fmt, "split_utf8")
    assert sum(_ends_inside_utf8(c) for c in f.chunks) >= 3
    cr_lf = sum(
        a.endswith(b"\r") and b.startswith(b"\n")
        for a, b in zip(f.chunks, f.chunks[1:], strict=False)
    )
    assert cr_lf >= 3
    assert fmt.text(f.events) == content.multilingual_answer(PROMPT, 0)
    assert fmt.terminated(f)


@by_format
def test_crlf_line_endings(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(stub, client, fmt, "crlf_line_endings")
    assert f.raw.count(b"\n") == f.raw.count(b"\r\n") > 0
    assert fmt.text(f.events) == EXPECTED
    assert fmt.terminated(f)


@by_format
def test_keepalive_only(stub: RunningStub, client: httpx.Client, fmt: Fmt) -> None:
    f = run(
        stub,
        client,
        fmt,
        "keepalive_only",
        headers={"x-stub-keepalive-interval": "0.04", "x-stub-stall-seconds": "0.25"},
    )
    assert f.events == []
    assert len(f.comments) >= 4
    assert set(f.comments) == {"keep-alive"}
    assert f.error is None


def _complete_text(fmt: Fmt, body: Any) -> str:
    """The answer text of a non-streamed reply."""
    if fmt is OPENAI:
        return str(body["choices"][0]["message"]["content"])
    if fmt is ANTHROPIC:
        return "".join(block["text"] for block in body["content"] if block["type"] == "text")
    return str(body["content"])


@by_format
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
def test_an_unknown_scenario_in_the_chat_says_so_before_the_list(
    stub: RunningStub, client: httpx.Client, fmt: Fmt, stream: bool
) -> None:
    body = fmt.body("/scenario nope Tell me more")
    body["stream"] = stream
    if stream:
        f = fetch(client, "POST", stub.url + fmt.path, json_body=body, headers=FAST)
        assert f.status == 200
        assert fmt.terminated(f)  # a normal answer, not an error
        text = fmt.text(f.events)
    else:
        r = client.post(stub.url + fmt.path, json=body, headers=FAST)
        assert r.status_code == 200
        text = _complete_text(fmt, r.json())
    first, _, rest = text.partition("\n")
    assert first == "Unknown scenario “nope”."
    assert "| `normal` |" in rest
    assert "| `keepalive_only` |" in rest
    # A known name typed the same way gets no such sentence.
    known = fetch(
        client,
        "POST",
        stub.url + fmt.path,
        json_body=fmt.body("/scenarios"),
        headers=FAST,
    )
    assert fmt.text(known.events).startswith("## Scenarios")


@by_format
def test_keepalive_only_without_streaming_is_a_504_page_after_the_stall(
    stub: RunningStub, client: httpx.Client, fmt: Fmt
) -> None:
    started = time.monotonic()
    f = run(
        stub, client, fmt, "keepalive_only", stream=False, headers={"x-stub-stall-seconds": "0.25"}
    )
    assert time.monotonic() - started >= 0.25
    assert f.status == 504
    assert f.headers["content-type"].startswith("text/html")
    assert b"<title>504 Gateway Time-out</title>" in f.raw
    # What --list-scenarios says is what it does.
    description = scenarios.SCENARIOS["keepalive_only"].description
    assert "504 Gateway Time-out HTML page" in description
    assert "hang" not in description


@by_format
def test_unicode_line_separators_raw_in_json(
    stub: RunningStub, client: httpx.Client, fmt: Fmt
) -> None:
    f = run(stub, client, fmt, "unicode_line_separators")
    for ch in ("\u2028", "\u2029", "\x85"):
        assert ch.encode() in f.raw  # raw, not escaped as \\u2028
    assert b"\\u2028" not in f.raw
    assert fmt.text(f.events) == content.line_separator_answer(PROMPT, 0)


# --- tool calls and reasoning -----------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def test_tool_call_openai(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, OPENAI, "tool_call", tools=[WEATHER_TOOL])
    chunks = [e.json() for e in f.events if e.data != "[DONE]"]
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "lookup_city", "arguments": ""}
    assert all(set(c) == {"index", "function"} for c in calls[1:])
    args = json.loads("".join(c["function"]["arguments"] for c in calls))
    assert args == {"city": "Paris", "days": 3}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert openai_text(f.events) == "I'll call `lookup_city` to find that out."


def test_tool_call_anthropic_without_tools_uses_get_weather(
    stub: RunningStub, client: httpx.Client
) -> None:
    f = run(stub, client, ANTHROPIC, "tool_call")
    starts = [e.json()["content_block"] for e in f.events if e.event == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use"]
    assert starts[1]["name"] == "get_weather"
    assert starts[1]["input"] == {}
    assert starts[1]["id"].startswith("toolu_")
    partial = [
        e.json()["delta"]["partial_json"]
        for e in f.events
        if e.event == "content_block_delta" and e.json()["delta"]["type"] == "input_json_delta"
    ]
    assert partial[0] == ""
    assert json.loads("".join(partial)) == {"location": "Paris", "unit": "celsius"}
    delta = next(e.json() for e in f.events if e.event == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"


def test_tool_result_gets_an_answer(stub: RunningStub, client: httpx.Client) -> None:
    body = {
        "model": "stub-tool_call",
        "stream": True,
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        ],
    }
    f = fetch(client, "POST", stub.url + "/v1/chat/completions", json_body=body, headers=FAST)
    text = openai_text(f.events)
    assert "`get_weather` returned" in text
    assert '"temp": 21' in text
    assert f.events[-2].json()["choices"][0]["finish_reason"] == "stop"


def test_tool_call_generic_is_text_only(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, GENERIC, "tool_call")
    assert {e.json()["type"] for e in f.events if e.event == "message"} == {"content", "done"}


def test_reasoning_openai(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, OPENAI, "reasoning", stream_options={"include_usage": True})
    chunks = [e.json() for e in f.events if e.data != "[DONE]"]
    thinking = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]
    )
    assert thinking == content.reasoning_text(PROMPT)
    first_text = next(
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("content")
    )
    last_think = max(
        i
        for i, c in enumerate(chunks)
        if c["choices"] and "reasoning_content" in c["choices"][0]["delta"]
    )
    assert last_think < first_text
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 10


def test_reasoning_anthropic(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, ANTHROPIC, "reasoning")
    starts = [e.json() for e in f.events if e.event == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "thinking"),
        (1, "text"),
    ]
    deltas = [e.json()["delta"] for e in f.events if e.event == "content_block_delta"]
    kinds = [d["type"] for d in deltas]
    assert kinds.index("signature_delta") == kinds.index("text_delta") - 1
    assert "".join(d.get("thinking", "") for d in deltas) == content.reasoning_text(PROMPT)
    assert anthropic_text(f.events) == EXPECTED


def test_reasoning_generic(stub: RunningStub, client: httpx.Client) -> None:
    f = run(stub, client, GENERIC, "reasoning")
    kinds = [e.json()["type"] for e in f.events if e.event == "message"]
    assert kinds[0] == "reasoning"
    assert kinds[-1] == "done"
    assert kinds.index("content") > max(i for i, k in enumerate(kinds) if k == "reasoning")
