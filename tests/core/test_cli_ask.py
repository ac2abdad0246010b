"""``streamdesk ask`` as a user runs it: a subprocess against loopback servers.

Exit codes, what goes to stdout and stderr, --stats, --raw, reasoning, keys
from the environment, escape sequences stripped (piped and on a terminal),
Ctrl-C, and the three formats against the bundled stub. Also what used to go
wrong: prompts that are not UTF-8, malformed base URLs, the window's words in
hints, answers cut at the token limit, and tool calls shown only with --raw.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from desktop_app.core.http_errors import host_of
from desktop_app.core.providers.anthropic import DEFAULT_MAX_TOKENS
from desktop_app.core.storage import HistoryStore
from server_stub.embedded import RunningStub, start_stub
from tests.core.byte_server import (
    OPENAI_DONE,
    ByteServer,
    Pause,
    Reply,
    free_port,
    openai_delta,
    sse,
)

pytestmark = pytest.mark.asyncio


@dataclass
class Result:
    code: int
    out: str
    err: str


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


async def ask(
    *args: str | bytes,
    stdin: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    stdout: int | None = None,
) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        "ask",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=stdout if stdout is not None else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env or environment()),
    )
    async with asyncio.timeout(30):
        sent = stdin.encode() if isinstance(stdin, str) else stdin
        out, err = await process.communicate(sent)
    assert process.returncode is not None
    return Result(process.returncode, (out or b"").decode(), err.decode())


def openai(server: ByteServer, *args: str | bytes) -> tuple[str | bytes, ...]:
    return ("--provider", "openai", "--base-url", server.url("/v1"), "--model", "m", *args)


STREAM = Reply(body=sse(openai_delta("Hello, "), openai_delta("world!"), OPENAI_DONE))


def openai_chunk(delta: dict[str, object], finish_reason: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}) + "\n\n"


def openai_tool_call(index: int, arguments: str, *, name: str | None = None) -> str:
    function: dict[str, object] = {"arguments": arguments}
    call: dict[str, object] = {"index": index, "function": function}
    if name is not None:  # the first fragment of a call names it
        function["name"] = name
        call.update(id=f"call_{index}", type="function")
    return openai_chunk({"tool_calls": [call]})


def anthropic_frame(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n"


def anthropic_answer(text: str, stop_reason: str) -> list[bytes]:
    return sse(
        anthropic_frame("message_start", {"message": {"usage": {"input_tokens": 3}}}),
        anthropic_frame("content_block_start", {"index": 0, "content_block": {"type": "text"}}),
        anthropic_frame(
            "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}
        ),
        anthropic_frame("content_block_stop", {"index": 0}),
        anthropic_frame(
            "message_delta", {"delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 2}}
        ),
        anthropic_frame("message_stop", {}),
    )


# ---------------------------------------------------------------- success


async def test_the_answer_streams_to_stdout_and_exits_0() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("Say hello", *openai(server))
        body = json.loads(server.requests[0].body)
    assert (result.code, result.out, result.err) == (0, "Hello, world!", "")
    assert body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert body["model"] == "m"


async def test_the_prompt_can_come_from_stdin_with_a_system_prompt() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask(*openai(server, "--system", "Be brief."), stdin="From stdin\n")
        messages = json.loads(server.requests[0].body)["messages"]
    assert result.code == 0
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "From stdin\n"},
    ]


async def test_the_key_comes_from_the_named_variable() -> None:
    async with ByteServer(STREAM) as server:
        env = environment(MY_KEY="sk-from-env", OPENAI_API_KEY="sk-default")
        await ask("hi", *openai(server, "--api-key-env", "MY_KEY"), env=env)
        await ask("hi", *openai(server), env=env)
        keys = [r.headers["authorization"] for r in server.requests]
    assert keys == ["Bearer sk-from-env", "Bearer sk-default"]


async def test_stats_go_to_stderr() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("hi", *openai(server, "--stats"))
    assert result.code == 0
    assert result.out == "Hello, world!"
    assert "outcome: complete" in result.err
    assert "output tokens: 2 (counted)" in result.err
    assert "time to first token: " in result.err
    assert "attempts: 1" in result.err


async def test_raw_prints_each_decoded_event() -> None:
    body = sse(": keep-alive\n\n", "id: 7\n" + openai_delta("Hi"), OPENAI_DONE)
    async with ByteServer(Reply(body=body)) as server:
        result = await ask("hi", *openai(server, "--raw"))
    assert result.code == 0
    blocks = result.out.split("\n\n")
    assert blocks[0] == ": keep-alive"
    event_lines = blocks[1].split("\n")
    assert event_lines[:2] == ["event: message", "id: 7"]
    assert json.loads(event_lines[2].removeprefix("data: "))["choices"][0]["delta"] == {
        "content": "Hi"
    }
    assert blocks[2] == "event: message\nid: 7\ndata: [DONE]"


async def test_reasoning_goes_to_stderr_only_when_asked() -> None:
    thinking = (
        'data: {"choices": [{"index": 0, "delta": {"reasoning_content": "Let me think."}}]}\n\n'
    )
    reply = Reply(body=sse(thinking, openai_delta("Answer."), OPENAI_DONE))
    async with ByteServer(reply) as server:
        quiet = await ask("hi", *openai(server))
        shown = await ask("hi", *openai(server, "--show-reasoning"))
    assert (quiet.out, quiet.err) == ("Answer.", "")
    assert shown.out == "Answer."
    assert shown.err == "Let me think.\n"


# ---------------------------------------------------------------- text that is not UTF-8


async def test_a_prompt_that_is_not_utf8_goes_out_with_replacement_characters() -> None:
    # $'caf\xe9' in a UTF-8 shell: Python hands argv over with lone surrogates, which
    # crashed the JSON encoding (exit 1, a traceback). Such bytes become U+FFFD, quietly.
    async with ByteServer(STREAM) as server:
        result = await ask(b"caf\xe9 cr\xe8me", *openai(server, "--system", b"Be br\xefef."))
        body = json.loads(server.requests[0].body)
    assert (result.code, result.out, result.err) == (0, "Hello, world!", "")
    assert body["messages"] == [
        {"role": "system", "content": "Be br\ufffdef."},
        {"role": "user", "content": "caf\ufffd cr\ufffdme"},
    ]
    with HistoryStore.open(maintenance=False) as store:  # and it was saved
        (conversation,) = store.list_conversations()
        user, answer = store.messages(conversation.id)
    assert (user.text, answer.text) == ("caf\ufffd cr\ufffdme", "Hello, world!")


async def test_a_latin1_prompt_on_stdin_goes_out_with_replacement_characters() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask(*openai(server), stdin="Caf\xe9 cr\xe8me\r\n".encode("latin-1"))
        body = json.loads(server.requests[0].body)
    assert (result.code, result.out, result.err) == (0, "Hello, world!", "")
    assert body["messages"] == [{"role": "user", "content": "Caf\ufffd cr\ufffdme\n"}]


# ---------------------------------------------------------------- terminal safety


HOSTILE = "A\x1b[2J\x1b]0;pwned\x07B\x9b31mC\x1b]52;c;ZXZpbA==\x1b\\D\rE\x07F"


async def test_escape_sequences_are_stripped_when_piped() -> None:
    pieces = [HOSTILE[:3], HOSTILE[3:11], HOSTILE[11:]]  # sequences split across deltas
    reply = Reply(body=sse(*(openai_delta(p) for p in pieces), OPENAI_DONE))
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 0
    assert result.out == "ABCD\rE\x07F"  # piped: ESC and C1 go, other C0 stay as data


async def test_every_control_is_stripped_on_a_terminal() -> None:
    reply = Reply(body=sse(openai_delta(HOSTILE), OPENAI_DONE))
    primary, secondary = pty.openpty()
    try:
        async with ByteServer(reply) as server:
            result = await ask("hi", *openai(server), stdout=secondary)
        os.close(secondary)
        secondary = -1
        shown = _read_all(primary)
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert result.code == 0
    # A terminal gets no control at all; the trailing newline keeps the prompt off the answer
    # (the pty turns \n into \r\n).
    assert shown == b"ABCDEF\r\n"


def _read_all(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            return data
        if not chunk:
            return data
        data += chunk


async def test_a_hostile_error_message_is_sanitised_on_stderr() -> None:
    body = json.dumps({"error": {"message": "bad \x1b]0;evil\x07key"}}).encode()
    reply = Reply(
        status=401, headers=(("Content-Type", "application/json"),), body=[body], framing="length"
    )
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 3
    assert "\x1b" not in result.err
    assert "bad key" in result.err


# ---------------------------------------------------------------- failures and exit codes


async def test_http_errors_exit_3_with_one_line_on_stderr() -> None:
    body = json.dumps({"error": {"message": "Incorrect API key provided."}}).encode()
    reply = Reply(
        status=401, headers=(("Content-Type", "application/json"),), body=[body], framing="length"
    )
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 3
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("streamdesk ask: The server 127.0.0.1:")
    assert "refused the API key (HTTP 401): Incorrect API key provided." in lines[0]
    assert "Check the API key" in lines[0]  # the hint follows the sentence


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            Reply(
                status=301,
                headers=(("Location", "https://elsewhere.example/v1/chat/completions"),),
                framing="length",
            ),
            "redirected the request to https://elsewhere.example/v1/chat/completions "
            "(HTTP 301). Update the base URL to the new address.",
        ),
        (
            Reply(
                status=400,
                headers=(("Content-Type", "application/json"),),
                body=[json.dumps({"error": {"message": "max_tokens is too large"}}).encode()],
                framing="length",
            ),
            "rejected the request (HTTP 400 Bad Request): max_tokens is too large. "
            "Check the model name and the other request settings",
        ),
    ],
)
async def test_status_hints_do_not_speak_of_a_profile(reply: Reply, words: str) -> None:
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 3
    assert words in result.err
    assert "profile" not in result.err
    assert "Settings" not in result.err


async def test_connection_refused_exits_3() -> None:
    port = free_port()
    args = ("--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--timeout", "1")
    result = await ask("hi", *args)
    assert result.code == 3
    assert "connection was refused" in result.err


async def test_a_first_token_timeout_exits_3() -> None:
    async with ByteServer(Reply(body=[b": waiting\n\n"], ending="hang")) as server:
        result = await ask("hi", *openai(server, "--timeout", "0.5"))
    assert result.code == 3
    assert "did not start answering within 0.5 s" in result.err


async def test_a_drop_exits_4_and_keeps_the_partial_text() -> None:
    reply = Reply(body=sse(openai_delta("Partial ans")), ending="close")
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 4
    assert result.out == "Partial ans"
    assert "before the answer finished" in result.err


async def test_a_provider_error_exits_4() -> None:
    error = 'data: {"error": {"message": "The model crashed"}}\n\n'
    async with ByteServer(Reply(body=sse(openai_delta("So far"), error))) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 4
    assert result.out == "So far"
    assert "The model crashed" in result.err


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (("hi",), {}, "--model is required"),
        (("hi", "--provider", "generic", "--model", "m"), {}, "--base-url is required"),
        (("hi", "--model", "gpt"), {}, "OPENAI_API_KEY"),
        (("hi", "--provider", "anthropic", "--model", "c"), {}, "ANTHROPIC_API_KEY"),
        (("hi", "--model", "m", "--api-key-env", "NOPE_KEY"), {}, "NOPE_KEY is not set"),
        (("hi", "--model", "m", "--base-url", "ftp://x"), {}, "http:// or https://"),
        (("   ", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"), {}, "prompt is empty"),
        (("hi", "--provider", "nope"), {}, "invalid choice"),
        (("hi", "--model", "m", "--timeout", "0"), {}, "must be more than 0"),
        (("hi", "--model", "m", "--max-tokens", "0"), {}, "must be at least 1"),
        (("hi", "--model", "m", "--max-tokens", "1.5"), {}, "not a whole number"),
        (
            ("hi", "--model", "m", "--base-url", "http://[::1"),
            {},
            "--base-url is not a valid URL: invalid IPv6 URL (got 'http://[::1').",
        ),
        (
            ("hi", "--model", "m", "--base-url", "http://h:99999/v1"),
            {},
            "--base-url has a port that is not a number from 1 to 65535 (got 'http://h:99999/v1')",
        ),
        (("hi", "--model", "m", "--base-url", "http://h:x/v1"), {}, "not a number from 1 to"),
        (("hi", "--model", "m", "--base-url", "http://"), {}, "--base-url has no host name"),
        (  # echoed without what may be secret: credentials, a ?key= query
            ("hi", "--model", "m", "--base-url", "http://me:pw@h:0/v1?key=sk-secret"),
            {},
            "(got 'http://***@h:0/v1?…')",
        ),
        # Past our checks, refused by httpx: the hint speaks of the URL, not of a profile.
        (("hi", "--model", "m", "--base-url", "http://[::1]x/v1"), {}, "URL. Check the base URL."),
    ],
)
async def test_usage_errors_exit_2(args: tuple[str, ...], env: dict[str, str], words: str) -> None:
    result = await ask(*args, env=environment(**env))
    assert result.code == 2
    assert words in result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1 or result.err.startswith("usage:")


async def test_a_url_python_cannot_split_still_names_its_host() -> None:
    # Was "the server": "Could not find the server the server."
    assert host_of("http://h:99999/v1") == "h:99999"
    assert host_of("http://user:pw@[::1/v1?key=k") == "[::1"


async def test_ctrl_c_cancels_the_turn_and_exits_130() -> None:
    reply = Reply(body=[*sse(openai_delta("Started")), Pause(30)])
    async with ByteServer(reply) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "desktop_app",
            "ask",
            "hi",
            *openai(server),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment(),
        )
        assert process.stdout is not None
        async with asyncio.timeout(20):
            first = await process.stdout.readexactly(len("Started"))
            assert not server.client_gone.is_set()
            process.send_signal(signal.SIGINT)
            out, err = await process.communicate()
            await server.wait_disconnect(2.0)
    assert first == b"Started"
    assert process.returncode == 130
    assert out == b""
    assert err.decode().strip() == "streamdesk ask: cancelled."


# ---------------------------------------------------------------- against the bundled stub


@pytest.fixture(scope="module")
def stub() -> Iterator[RunningStub]:
    with start_stub(tokens_per_second=5000, first_token_delay=0.0) as running:
        yield running


@pytest.mark.parametrize(
    ("provider", "path"),
    [("openai", "/v1"), ("anthropic", "/v1"), ("generic", "/api/chat")],
)
async def test_every_format_against_the_stub(stub: RunningStub, provider: str, path: str) -> None:
    args = ("--provider", provider, "--base-url", stub.url + path, "--model", "stub", "--stats")
    result = await ask("Hello there", *args)
    assert result.code == 0, result.err
    assert "Streamdesk demo server" in result.out
    assert "outcome: complete" in result.err
    assert "(server)" in result.err


async def test_the_stub_resumes_a_dropped_generic_stream(stub: RunningStub) -> None:
    # Exactness (no token lost or repeated) is proven in test_session_resume against the stub.
    args = ("--provider", "generic", "--base-url", stub.url + "/api/chat", "--model", "stub")
    resumed = await ask("/scenario drop_then_resume", *args, "--stats")
    assert resumed.code == 0, resumed.err
    assert "reconnects: 1" in resumed.err
    assert "Streamdesk demo server" in resumed.out


async def test_stub_failures_map_to_exit_codes(stub: RunningStub) -> None:
    args = ("--base-url", stub.url + "/v1", "--model", "stub", "--timeout", "5")
    assert (await ask("/scenario http_404_model", *args)).code == 3
    assert (await ask("/scenario wrong_content_type", *args)).code == 3
    dropped = await ask("/scenario drop_mid_stream", *args)
    assert dropped.code == 4
    assert dropped.out


# ---------------------------------------------------------------- the token limit


async def test_an_answer_cut_at_the_token_limit_exits_0_with_a_note() -> None:
    reply = Reply(body=sse(openai_delta("Cut sh"), openai_chunk({}, "length"), OPENAI_DONE))
    async with ByteServer(reply) as server:
        limited = await ask("hi", *openai(server, "--max-tokens", "7"))
        unlimited = await ask("hi", *openai(server))
        bodies = [json.loads(r.body) for r in server.requests]
    assert (limited.code, limited.out) == (0, "Cut sh")
    assert limited.err == (
        "streamdesk ask: note: the answer stopped at the token limit (max tokens 7); "
        "ask with --max-tokens for more.\n"
    )
    assert bodies[0]["max_tokens"] == 7
    # Without --max-tokens the limit was the server's own: no number to give.
    assert unlimited.code == 0
    assert "max_tokens" not in bodies[1]
    assert unlimited.err == (
        "streamdesk ask: note: the answer stopped at the token limit; "
        "ask with --max-tokens for more.\n"
    )


async def test_anthropic_names_its_default_limit_when_it_cuts() -> None:
    reply = Reply(body=anthropic_answer("Cut sh", "max_tokens"))
    async with ByteServer(reply) as server:
        args = ("--provider", "anthropic", "--base-url", server.url("/v1"), "--model", "c")
        result = await ask("hi", *args)
        body = json.loads(server.requests[0].body)
    assert (result.code, result.out) == (0, "Cut sh")
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert f"(max tokens {DEFAULT_MAX_TOKENS}); ask with --max-tokens" in result.err


async def test_an_answer_that_ends_by_itself_has_no_note() -> None:
    async with ByteServer(Reply(body=anthropic_answer("Done.", "end_turn"))) as server:
        args = ("--provider", "anthropic", "--base-url", server.url("/v1"), "--model", "c")
        result = await ask("hi", *args)
    assert (result.code, result.out, result.err) == (0, "Done.", "")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_max_tokens_reaches_the_stub(stub: RunningStub, provider: str) -> None:
    args = ("--provider", provider, "--base-url", stub.url + "/v1", "--model", "stub")
    result = await ask("Hello there", *args, "--max-tokens", "3", "--stats")
    assert result.code == 0, result.err
    assert "streamdesk ask: note: the answer stopped at the token limit (max tokens 3)" in (
        result.err
    )
    assert "output tokens: 3 (server)" in result.err


# ---------------------------------------------------------------- tool calls


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_tool_calls_are_shown_on_stderr(stub: RunningStub, provider: str) -> None:
    args = ("--provider", provider, "--base-url", stub.url + "/v1", "--model", "stub-tool_call")
    result = await ask("What is the weather in Paris?", *args)
    raw = await ask("What is the weather in Paris?", *args, "--raw")
    assert result.code == 0, result.err
    assert result.out == "I'll call `get_weather` to find that out."
    assert result.err == (
        'streamdesk ask: tool call: get_weather({"location": "Paris", "unit": "celsius"})\n'
    )
    assert raw.code == 0
    assert "get_weather" in raw.out  # --raw shows the call's events; no second copy
    assert "tool call:" not in raw.err


async def test_tool_calls_are_sanitised_and_kept_on_one_line() -> None:
    arguments = '{\n  "tz": "Europe/Paris",\n  "text": "two  spaces\\u001b]0;x\\u0007"\n}'
    reply = Reply(
        body=sse(
            openai_tool_call(0, arguments[:9], name="get\x1b[31m_time"),
            openai_tool_call(0, arguments[9:]),
            openai_tool_call(1, "q=\x1b]52;c;ZXZpbA==\x07x", name="lookup"),
            openai_chunk({}, "tool_calls"),
            OPENAI_DONE,
        )
    )
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert (result.code, result.out) == (0, "")
    assert result.err.splitlines() == [
        # Multi-line JSON on one line, strings as sent (escapes stay escapes).
        'streamdesk ask: tool call: get_time({"tz": "Europe/Paris", "text": "two  spaces\\u001b]0;x\\u0007"})',
        "streamdesk ask: tool call: lookup(q=x)",  # the OSC 52 clipboard write is gone
    ]
