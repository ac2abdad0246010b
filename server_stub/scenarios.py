"""The scenario registry: every good or broken stream a tester can ask for, by name.

A scenario is data (what answer, what pace, which fault, which wire quirks); ``turn.py`` turns it
plus a request into a format-neutral script, and ``streaming.py`` plays that script. This module
must not render bytes or touch the network. Recorded-transcript replay (issue 7) will add another
kind of source next to these: one that yields timed frames directly (see ``streaming.FrameSource``).
"""

from __future__ import annotations

from dataclasses import dataclass

# HTTP-level faults answered before any stream starts.
AUTH = "auth"
MODEL_NOT_FOUND = "model_not_found"
RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
HTML_502 = "html_502"

# Faults inside a stream (or in a non-streamed body: see each description).
STALL = "stall"
DROP = "drop"
DROP_RESUME = "drop_resume"
ERROR_EVENT = "error_event"
OVERLOADED = "overloaded"
MALFORMED = "malformed"
UNKNOWN = "unknown"
KEEPALIVE_ONLY = "keepalive_only"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    http_error: str | None = None
    fault: str | None = None
    fault_at: float = 0.4  # fraction of the answer's tokens sent before the fault
    content: str = "demo"  # demo | long | multilingual | line_separators
    tokens_per_second: float | None = None
    first_token_delay: float | None = None
    keepalive_interval: float | None = None
    stall_seconds: float | None = None
    crlf: bool = False
    split_writes: bool = False
    content_type: str | None = None
    tool_call: bool = False
    reasoning: bool = False


_ALL = (
    Scenario("normal", "A well-behaved answer: Markdown demo text at the server's pace."),
    Scenario(
        "slow_first_token",
        "Headers at once, then 8 s of keep-alive comments (every 2 s) before the first token.",
        first_token_delay=8.0,
        keepalive_interval=2.0,
    ),
    Scenario(
        "fast",
        "A long answer at 20,000 tokens/s with no first-token delay (events are batched per write).",
        content="long",
        tokens_per_second=20_000.0,
        first_token_delay=0.0,
    ),
    Scenario(
        "long",
        "About 30,000 tokens of Markdown chapters at 400 tokens/s (a ~75 s answer).",
        content="long",
        tokens_per_second=400.0,
    ),
    Scenario(
        "stall_mid_stream",
        "Streams 40% of the answer, goes completely silent for 30 s (no keep-alives), then finishes.",
        fault=STALL,
        stall_seconds=30.0,
        keepalive_interval=0.0,
    ),
    Scenario(
        "drop_mid_stream",
        "Streams 40% of the answer, then closes the socket without a terminator; non-streamed "
        "bodies are cut off halfway.",
        fault=DROP,
    ),
    Scenario(
        "drop_then_resume",
        "Generic format: drops after 40% of the events; GET the Content-Location URL with "
        "Last-Event-ID to get the rest. Other formats: same as drop_mid_stream.",
        fault=DROP_RESUME,
    ),
    Scenario(
        "error_event_mid_stream",
        "Streams 40% of the answer, then sends the format's error event (OpenAI error frame, "
        "Anthropic event: error, generic type=error) and ends; non-streamed requests get HTTP 500.",
        fault=ERROR_EVENT,
    ),
    Scenario(
        "http_401", "Answers 401 with the format's authentication error body.", http_error=AUTH
    ),
    Scenario(
        "http_404_model",
        "Answers 404 saying the requested model does not exist.",
        http_error=MODEL_NOT_FOUND,
    ),
    Scenario(
        "http_429_retry_after",
        "Answers 429 rate limited with a Retry-After: 2 header.",
        http_error=RATE_LIMIT,
    ),
    Scenario(
        "http_500", "Answers 500 with the format's server error body.", http_error=SERVER_ERROR
    ),
    Scenario(
        "overloaded",
        "Non-streamed: Anthropic 529 overloaded_error (OpenAI and generic: 503). Streamed: a few "
        "tokens, then an overloaded error event and the end.",
        fault=OVERLOADED,
        fault_at=0.1,
    ),
    Scenario(
        "malformed_json",
        "One event in the middle carries truncated JSON, then the stream carries on normally; "
        "non-streamed bodies are truncated JSON.",
        fault=MALFORMED,
    ),
    Scenario(
        "html_error_page",
        "Answers 502 with a proxy's HTML error page (text/html), in every format.",
        http_error=HTML_502,
    ),
    Scenario(
        "wrong_content_type",
        "A normal answer labelled Content-Type: text/plain instead of text/event-stream "
        "(non-streamed: instead of application/json).",
        content_type="text/plain; charset=utf-8",
    ),
    Scenario(
        "unknown_event_types",
        "Mixes in events a client must ignore: Anthropic unknown event and delta types, OpenAI "
        "Azure-style prompt_filter_results chunks and unknown fields, generic unknown types.",
        fault=UNKNOWN,
    ),
    Scenario(
        "split_utf8",
        "Multilingual text with CRLF line ends, each event written in pieces cut inside UTF-8 "
        "characters and between CR and LF.",
        content="multilingual",
        crlf=True,
        split_writes=True,
    ),
    Scenario("crlf_line_endings", "A normal answer with every line ending in CR LF.", crlf=True),
    Scenario(
        "keepalive_only",
        "Headers, then only ': keep-alive' comments every second for 5 minutes, never an event; "
        "non-streamed requests get nothing for 5 minutes, then a 504 Gateway Time-out HTML page "
        "(as a proxy in front of a stuck server sends).",
        fault=KEEPALIVE_ONLY,
        keepalive_interval=1.0,
        stall_seconds=300.0,
    ),
    Scenario(
        "tool_call",
        "A sentence, then a call to the request's first tool (or get_weather) with streamed "
        "arguments; after a tool result it answers from the result. Generic format: text only.",
        tool_call=True,
    ),
    Scenario(
        "reasoning",
        "Thinking deltas before the answer (Anthropic thinking block, OpenAI-compatible "
        "delta.reasoning_content, generic type=reasoning events).",
        reasoning=True,
    ),
    Scenario(
        "unicode_line_separators",
        "Answer text with raw U+2028, U+2029 and U+0085 inside the JSON strings (not escaped).",
        content="line_separators",
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}
# Names a tester might say instead.
ALIASES = {
    "rate_limited": "http_429_retry_after",
    "unauthorized": "http_401",
    "model_not_found": "http_404_model",
    "server_error": "http_500",
    "thinking": "reasoning",
    "tools": "tool_call",
}
DEFAULT = "normal"


def lookup(name: str) -> Scenario | None:
    """The scenario called ``name`` (also ``stub-NAME`` and the aliases), or None."""
    key = name.strip().lower().replace("-", "_")
    key = key.removeprefix("stub_")
    key = ALIASES.get(key, key)
    return SCENARIOS.get(key)


def describe_all() -> list[tuple[str, str]]:
    return [(s.name, s.description) for s in _ALL]
