"""Every endpoint over a real socket, checked byte by byte against the real services' framing."""

from __future__ import annotations

import json
import re

import httpx

from server_stub import content
from server_stub.embedded import RunningStub
from tests.stub.wire import (
    FAST,
    anthropic_body,
    anthropic_text,
    fetch,
    generic_body,
    generic_text,
    openai_body,
    openai_text,
)

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def _assert_sse_headers(headers: httpx.Headers) -> None:
    for name, value in SSE_HEADERS.items():
        assert headers[name] == value


def test_healthz(stub: RunningStub, client: httpx.Client) -> None:
    r = client.get(stub.url + "/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["scenario"] == "normal"
    assert body["active_generations"] >= 0


def test_models_openai_shape(stub: RunningStub, client: httpx.Client) -> None:
    body = client.get(stub.url + "/v1/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[0] == "streamdesk-stub"
    assert "stub-drop_mid_stream" in ids
    assert all(m["object"] == "model" and m["owned_by"] for m in body["data"])


def test_models_anthropic_shape(stub: RunningStub, client: httpx.Client) -> None:
    body = client.get(stub.url + "/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    assert body["has_more"] is False
    assert body["first_id"] == "streamdesk-stub"
    assert all(m["type"] == "model" and m["created_at"] for m in body["data"])


def test_openai_stream_frames(stub: RunningStub, client: httpx.Client) -> None:
    prompt = "Tell me about streaming"
    f = fetch(
        client,
        "POST",
        stub.url + "/v1/chat/completions",
        json_body=openai_body(prompt, stream_options={"include_usage": True}),
    )
    assert f.status == 200
    _assert_sse_headers(f.headers)
    # Data-only frames, "data: " prefix, LF LF separators, [DONE] last.
    frames = f.raw.split(b"\n\n")
    assert frames[-1] == b""
    assert frames[-2] == b"data: [DONE]"
    assert all(fr.startswith(b"data: ") and b"\n" not in fr for fr in frames[:-1])
    chunks = [json.loads(fr[6:]) for fr in frames[:-2]]
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert list(chunks[0]) == [
        "id",
        "object",
        "created",
        "model",
        "service_tier",
        "system_fingerprint",
        "choices",
        "usage",
    ]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:-1])
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all(c["usage"] is None for c in chunks[:-1])
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["completion_tokens"] == len(chunks) - 3  # role, finish and usage chunks carry none
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    text = openai_text(f.events)
    assert text == content.demo_answer(prompt, content.seed_for(prompt))
    sizes = [len(c["choices"][0]["delta"]["content"]) for c in chunks[1:-2]]
    assert min(sizes) >= 1
    assert max(sizes) <= 6


def test_openai_stream_without_usage(stub: RunningStub, client: httpx.Client) -> None:
    f = fetch(client, "POST", stub.url + "/v1/chat/completions", json_body=openai_body("hi"))
    chunks = [e.json() for e in f.events if e.data != "[DONE]"]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_openai_non_stream(stub: RunningStub, client: httpx.Client) -> None:
    r = client.post(stub.url + "/v1/chat/completions", json=openai_body("hi", stream=False))
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == content.demo_answer(
        "hi", content.seed_for("hi")
    )
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] > 0


def test_max_tokens_cuts_with_length(stub: RunningStub, client: httpx.Client) -> None:
    f = fetch(
        client, "POST", stub.url + "/v1/chat/completions", json_body=openai_body(max_tokens=5)
    )
    chunks = [e.json() for e in f.events if e.data != "[DONE]"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert len(chunks) == 1 + 5 + 1
    a = fetch(client, "POST", stub.url + "/v1/messages", json_body=anthropic_body(max_tokens=3))
    delta = next(e.json() for e in a.events if e.event == "message_delta")
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 3


def test_anthropic_stream_order(stub: RunningStub, client: httpx.Client) -> None:
    prompt = "Tell me about streaming"
    f = fetch(client, "POST", stub.url + "/v1/messages", json_body=anthropic_body(prompt))
    assert f.status == 200
    _assert_sse_headers(f.headers)
    assert re.fullmatch(rb"(event: [a-z_]+\ndata: [^\n]+\n\n)+", f.raw)
    names = [e.event for e in f.events]
    assert names[:4] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    for e in f.events:
        assert e.json()["type"] == e.event  # the type repeats the event name
    start = f.events[0].json()["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] > 0
    delta = f.events[-2].json()
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == names.count("content_block_delta")
    assert anthropic_text(f.events) == content.demo_answer(prompt, content.seed_for(prompt))


def test_anthropic_non_stream(stub: RunningStub, client: httpx.Client) -> None:
    r = client.post(stub.url + "/v1/messages", json=anthropic_body("hello", stream=False))
    body = r.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["content"] == [
        {"type": "text", "text": content.demo_answer("hello", content.seed_for("hello"))}
    ]
    assert body["stop_reason"] == "end_turn"


def test_generic_chat_stream(stub: RunningStub, client: httpx.Client) -> None:
    prompt = "Compare the formats in a table"
    f = fetch(client, "POST", stub.url + "/api/chat", json_body=generic_body(prompt))
    assert f.status == 200
    _assert_sse_headers(f.headers)
    assert re.fullmatch(r"/api/streams/[0-9a-f]+", f.headers["content-location"])
    assert f.raw.startswith(b"retry: 1000\nid: 1\ndata: ")
    assert f.raw.endswith(b'event: stop\ndata: {"type":"stop"}\n\n')
    ids = [int(e.id) for e in f.events if e.event == "message"]
    assert ids == list(range(1, len(ids) + 1))
    assert f.events[-2].json()["type"] == "done"
    assert generic_text(f.events) == content.demo_answer(prompt, content.seed_for(prompt))
    # A correct decoder dispatches the stop event: it has a data line.
    assert f.events[-1].event == "stop"


def test_generic_non_stream(stub: RunningStub, client: httpx.Client) -> None:
    r = client.post(stub.url + "/api/chat", json={"prompt": "hi", "stream": False})
    assert r.json()["content"] == content.demo_answer("hi", content.seed_for("hi"))


def test_two_step_prompt_then_event_source_get(stub: RunningStub, client: httpx.Client) -> None:
    r = client.post(stub.url + "/api/prompts", json={"prompt": "hi"})
    assert r.status_code == 201
    location = r.headers["location"]
    assert location == r.json()["stream_url"]
    assert re.fullmatch(r"/api/prompts/[0-9a-f]+/stream", location)
    f = fetch(client, "GET", stub.url + location, headers={"accept": "text/event-stream"})
    assert f.status == 200
    _assert_sse_headers(f.headers)
    assert f.events[-1].event == "stop"
    assert generic_text(f.events) == content.demo_answer("hi", content.seed_for("hi"))
    # Reconnecting after the end: 204 tells an EventSource to stop.
    last = f.events[-2].id
    assert last is not None
    again = client.get(stub.url + location, headers={"last-event-id": last})
    assert again.status_code == 204


def test_same_prompt_same_answer(stub: RunningStub, client: httpx.Client) -> None:
    one = fetch(
        client, "POST", stub.url + "/api/chat", json_body=generic_body("show me python code")
    )
    two = fetch(
        client, "POST", stub.url + "/api/chat", json_body=generic_body("show me python code")
    )
    assert one.raw == two.raw
    text = generic_text(one.events)
    assert "```python" in text
    assert "```rust" in text
    assert "| Example |" in text


def test_demo_answer_renders_every_block() -> None:
    text = content.tour_answer("What is SSE?", 0)
    for marker in (
        "## ",
        "### ",
        "1. ",
        "   - ",
        "|---",
        "```",
        "> ",
        "](https://",
        "日本語",
        "🚀",
        "café",
    ):
        assert marker in text, marker
    assert "What is SSE?" in text
    assert len(content.long_answer("x", 0)) > 100_000
    assert len(content.short_answer("hi", 0)) < 300


def test_bad_json_in_each_shape(stub: RunningStub, client: httpx.Client) -> None:
    o = client.post(stub.url + "/v1/chat/completions", content=b"{nope")
    assert o.status_code == 400
    assert set(o.json()["error"]) == {"message", "type", "param", "code"}
    a = client.post(stub.url + "/v1/messages", content=b"{nope")
    assert a.status_code == 400
    assert a.json()["type"] == "error"
    assert a.json()["error"]["type"] == "invalid_request_error"
    g = client.post(stub.url + "/api/chat", json={"nothing": 1})
    assert g.status_code == 400
    assert g.json() == {
        "type": "error",
        "message": "Send 'messages', 'prompt' or 'message'.",
        "code": 400,
    }


def test_unknown_scenario_header_is_a_400(stub: RunningStub, client: httpx.Client) -> None:
    r = client.post(
        stub.url + "/v1/chat/completions", json=openai_body(), headers={"x-stub-scenario": "nope"}
    )
    assert r.status_code == 400
    assert "Known: normal" in r.json()["error"]["message"]


def test_scenario_from_model_name_and_chat(stub: RunningStub, client: httpx.Client) -> None:
    by_model = client.post(
        stub.url + "/v1/chat/completions", json={**openai_body(), "model": "stub-http_500"}
    )
    assert by_model.status_code == 500
    by_bare_name = client.post(
        stub.url + "/v1/messages", json={**anthropic_body(), "model": "http_401"}
    )
    assert by_bare_name.status_code == 401
    by_chat = fetch(
        client,
        "POST",
        stub.url + "/api/chat",
        json_body=generic_body("/scenario reasoning Why is the sky blue?"),
    )
    kinds = [e.json()["type"] for e in by_chat.events if e.event == "message"]
    assert kinds[0] == "reasoning"
    assert "content" in kinds
    # The rest of the message is the prompt.
    assert "Why is the sky blue" in generic_text(by_chat.events)


def test_scenario_list_from_chat(stub: RunningStub, client: httpx.Client) -> None:
    f = fetch(
        client, "POST", stub.url + "/api/chat", json_body=generic_body("/scenarios"), headers=FAST
    )
    text = generic_text(f.events)
    assert "| `drop_then_resume` |" in text
    assert "| `split_utf8` |" in text
    unknown = fetch(
        client,
        "POST",
        stub.url + "/api/chat",
        json_body=generic_body("/scenario bogus hi"),
        headers=FAST,
    )
    assert "| `normal` |" in generic_text(unknown.events)


def test_api_key_checked_like_each_service() -> None:
    from server_stub.embedded import start_stub

    with (
        start_stub(api_key="sekrit", first_token_delay=0.0, tokens_per_second=0) as s,
        httpx.Client(trust_env=False, timeout=10) as c,
    ):
        o = c.post(s.url + "/v1/chat/completions", json=openai_body(stream=False))
        assert o.status_code == 401
        assert o.json()["error"]["type"] == "invalid_request_error"
        o = c.post(
            s.url + "/v1/chat/completions",
            json=openai_body(stream=False),
            headers={"authorization": "Bearer wrong"},
        )
        assert o.json()["error"]["code"] == "invalid_api_key"
        ok = c.post(
            s.url + "/v1/chat/completions",
            json=openai_body(stream=False),
            headers={"authorization": "Bearer sekrit"},
        )
        assert ok.status_code == 200
        a = c.post(
            s.url + "/v1/messages", json=anthropic_body(stream=False), headers={"x-api-key": "no"}
        )
        assert a.status_code == 401
        assert a.json()["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
        assert (
            c.post(
                s.url + "/v1/messages",
                json=anthropic_body(stream=False),
                headers={"x-api-key": "sekrit"},
            ).status_code
            == 200
        )
        g = c.post(s.url + "/api/chat", json={"prompt": "hi"})
        assert g.status_code == 401
        assert g.json()["code"] == 401
        assert c.get(s.url + "/v1/models").status_code == 401
        assert c.get(s.url + "/healthz").status_code == 200
