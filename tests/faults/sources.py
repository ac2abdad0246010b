"""How each fault of the matrix is produced on loopback: ``open_fault(key, stub)``.

A row of ``matrix.py`` says what should happen; this module makes it happen:
a stub scenario (through ``tests.faults.stub``), a scripted byte server
(``tests.core.byte_server``), a refused port, an unresolvable name, or a
self-signed HTTPS server. Every layer's test (CLI, core, GUI) opens the same
fault the same way and gets a ``Target``: where to send the turn and what the
whole answer would have been.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from server_stub.scenarios import SCENARIOS
from tests.core.byte_server import (
    GENERIC_DONE,
    OPENAI_DONE,
    ByteServer,
    Pause,
    RecordedRequest,
    Reply,
    free_port,
    generic_frame,
    openai_delta,
    sse,
)
from tests.faults.servers import INVALID_HOST, TlsServer
from tests.faults.stub import FaultStub

PROMPT = "Tell me how streams break"

# Timeouts every layer runs the matrix with (the defaults are 90 s and 120 s).
FIRST_TOKEN_TIMEOUT = 2.0
IDLE_TIMEOUT = 2.0


@dataclass
class Target:
    provider: str  # openai | anthropic | generic
    base_url: str
    model: str
    prompt: str
    full: str  # the whole answer the server would give without the fault ("" if none)
    partial: str | None = None  # exactly what is sent before the fault, when known
    server: ByteServer | None = None
    needs_no_dns: bool = False  # an .invalid name: resolve it offline


Opener = Callable[[FaultStub], contextlib.AbstractAsyncContextManager[Target]]
OPENERS: dict[str, Opener] = {}


def fault(key: str) -> Callable[[Opener], Opener]:
    def register(opener: Opener) -> Opener:
        OPENERS[key] = opener
        return opener

    return register


@contextlib.asynccontextmanager
async def open_fault(key: str, stub: FaultStub) -> AsyncIterator[Target]:
    async with OPENERS[key](stub) as target:
        yield target


# ---------------------------------------------------------------- the stub's scenarios

# Scenarios whose pace must change for the matrix to stay fast (their shape stays).
STUB_PACE: dict[str, dict[str, float]] = {
    "slow_first_token": {"first": 0.8, "keepalive": 0.2},  # keep-alives, then tokens
    "keepalive_only": {"keepalive": 0.2},  # keep-alives only, until the watchdog
}
# The whole answer of a faulty scenario is that of the scenario without the fault.
STUB_FULL_MODEL = {
    "slow_first_token": "demo",
    "stall_mid_stream": "demo",
    "drop_mid_stream": "demo",
    "drop_then_resume": "demo",
    "error_event_mid_stream": "demo",
    "overloaded": "demo",
    "malformed_json": "demo",
    "keepalive_only": "",
    "http_401": "",
    "http_404_model": "",
    "http_429_retry_after": "",
    "http_500": "",
    "html_error_page": "",
    "wrong_content_type": "demo",
}


def _stub_opener(scenario: str, provider: str = "openai") -> Opener:
    @contextlib.asynccontextmanager
    async def open_stub(stub: FaultStub) -> AsyncIterator[Target]:
        path = "/api/chat" if provider == "generic" else "/v1"
        full_model = STUB_FULL_MODEL.get(scenario, f"stub-{scenario}")
        # Off the loop: a byte server of another row may be serving on it.
        full = await asyncio.to_thread(stub.full_answer, PROMPT, full_model) if full_model else ""
        yield Target(
            provider,
            stub.base(path, **STUB_PACE.get(scenario, {})),
            f"stub-{scenario}",
            PROMPT,
            full,
        )

    return open_stub


for _name in SCENARIOS:  # every scenario the stub offers is a row
    OPENERS[f"stub:{_name}"] = _stub_opener(
        _name, "generic" if _name == "drop_then_resume" else "openai"
    )

# The scenarios whose errors each format words and frames its own way (bodies, statuses,
# error events), again in the Anthropic and generic formats: ``FORMAT:SCENARIO`` rows.
OTHER_FORMATS: dict[str, tuple[str, ...]] = {
    "anthropic": (
        "http_401",
        "http_404_model",
        "http_429_retry_after",
        "http_500",
        "overloaded",
        "error_event_mid_stream",
    ),
    "generic": (
        "http_401",
        "http_404_model",
        "http_429_retry_after",
        "http_500",
        "overloaded",
        "error_event_mid_stream",
    ),
}
for _provider, _names in OTHER_FORMATS.items():
    for _name in _names:
        OPENERS[f"{_provider}:{_name}"] = _stub_opener(_name, _provider)


# ---------------------------------------------------------------- connection faults


@fault("connection_refused")
@contextlib.asynccontextmanager
async def _refused(stub: FaultStub) -> AsyncIterator[Target]:
    yield Target("openai", f"http://127.0.0.1:{free_port()}/v1", "m", PROMPT, "")


@fault("dns_failure")
@contextlib.asynccontextmanager
async def _dns(stub: FaultStub) -> AsyncIterator[Target]:
    yield Target("openai", f"http://{INVALID_HOST}/v1", "m", PROMPT, "", needs_no_dns=True)


@fault("tls_self_signed")
@contextlib.asynccontextmanager
async def _tls(stub: FaultStub) -> AsyncIterator[Target]:
    async with TlsServer() as server:
        yield Target("openai", server.url("/v1"), "m", PROMPT, "")
    assert server.requests == 0, "a request went through an untrusted certificate"


# ---------------------------------------------------------------- scripted bytes

TEXT_PIECES = ["Streams ", "break ", "in ", "many ", "ways."]
FULL_TEXT = "".join(TEXT_PIECES)


MODELS = Reply(
    headers=(("Content-Type", "application/json"),),
    body=[json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()],
    framing="length",
)


def _openai_body() -> list[bytes]:
    return sse(*(openai_delta(p) for p in TEXT_PIECES), OPENAI_DONE)


@contextlib.asynccontextmanager
async def scripted(
    replies: Reply | list[Reply] | Callable[[RecordedRequest], Reply],
    provider: str = "openai",
    full: str = FULL_TEXT,
    partial: str | None = None,
) -> AsyncIterator[Target]:
    script: list[Reply] | Callable[[RecordedRequest], Reply]
    script = [replies] if isinstance(replies, Reply) else replies
    chat_requests: list[RecordedRequest] = []

    def route(request: RecordedRequest) -> Reply:
        # The window lists models when it opens: answer that apart from the script.
        if request.target.endswith("/models"):
            return MODELS
        chat_requests.append(request)
        if callable(script):
            return script(request)
        return script[min(len(chat_requests), len(script)) - 1]

    async with ByteServer(route) as server:
        path = "/chat" if provider == "generic" else "/v1"
        yield Target(provider, server.url(path), "m", PROMPT, full, partial, server=server)


@fault("stall_before_first_token")
def _stall_first(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    # Headers at once, then silence: no byte, no keep-alive.
    return scripted(Reply(body=[], ending="hang"))


@fault("html_page_200")
def _html_200(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    page = b"<!doctype html><html><head><title>Sign in</title></head><body>Sign in to continue</body></html>"
    return scripted(
        Reply(headers=(("Content-Type", "text/html"),), body=[page], framing="length"), full=""
    )


@fault("never_closes_after_terminator")
def _never_closes(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    return scripted(Reply(body=_openai_body(), ending="hang"))


TRICKLE_PIECES = ["Naïve ", "bytes, ", "one ", "by ", "one 🙂."]


@fault("trickle_one_byte")
def _trickle(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    # Raw UTF-8 in the JSON (not \u escapes), so characters are split across reads.
    frames = [
        "data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": p}}]}, ensure_ascii=False)
        + "\n\n"
        for p in TRICKLE_PIECES
    ]
    whole = "".join([*frames, OPENAI_DONE]).encode()
    body: list[bytes | Pause] = []
    for i in range(len(whole)):
        body += [whole[i : i + 1], Pause(0.001)]
    # No chunked framing: each byte goes on the wire alone, as the server trickles it.
    return scripted(Reply(body=body, framing="close"), full="".join(TRICKLE_PIECES))


# Generic-format streams that carry ids and name a resume URL, for the resume rows.
GENERIC_PIECES = ["One, ", "two, ", "three, ", "four, ", "five."]
GENERIC_TEXT = "".join(GENERIC_PIECES)
RESUME_HEADERS = (("Content-Type", "text/event-stream"), ("Content-Location", "/streams/s1"))


def _generic(first: int, last: int, *, retry: bool = False) -> list[bytes]:
    frames = [generic_frame(i + 1, GENERIC_PIECES[i]) for i in range(first, last)]
    if retry:  # the server asks for quick reconnects (SSE ``retry:``), as the stub does
        frames[0] = "retry: 50\n" + frames[0]
    return sse(*frames)


def _resume_script(drops: list[int], resume: Reply | None) -> Callable[[RecordedRequest], Reply]:
    """The POST streams up to ``drops[0]`` and drops; each GET resumes from Last-Event-ID.

    ``resume``: what every GET gets instead (a refusal), if given.
    """

    def reply(request: RecordedRequest) -> Reply:
        if request.method == "POST":
            return Reply(
                headers=RESUME_HEADERS, body=_generic(0, drops[0], retry=True), ending="close"
            )
        if resume is not None:
            return resume
        start = int(request.headers.get("last-event-id", "0"))
        later = [d for d in drops if d > start]
        if later:
            return Reply(headers=RESUME_HEADERS, body=_generic(start, later[0]), ending="close")
        return Reply(headers=RESUME_HEADERS, body=[*_generic(start, 5), GENERIC_DONE.encode()])

    return reply


@fault("resume_after_several_drops")
def _resume_several(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    return scripted(_resume_script([1, 2, 4], None), "generic", GENERIC_TEXT)


@fault("resume_url_404")
def _resume_404(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    gone = Reply(
        status=404,
        headers=(("Content-Type", "application/json"),),
        body=[json.dumps({"error": "no such stream"}).encode()],
        framing="length",
    )
    return scripted(_resume_script([2], gone), "generic", GENERIC_TEXT, "One, two, ")


@fault("resume_url_204")
def _resume_204(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    nothing = Reply(status=204, headers=(), body=[], framing="length")
    return scripted(_resume_script([2], nothing), "generic", GENERIC_TEXT, "One, two, ")


@fault("drop_without_resume_url")
def _drop_no_url(stub: FaultStub) -> contextlib.AbstractAsyncContextManager[Target]:
    # Event ids, but no Content-Location: nowhere to resume from.
    reply = Reply(body=_generic(0, 2, retry=True), ending="close")
    return scripted(reply, "generic", GENERIC_TEXT, "One, two, ")
