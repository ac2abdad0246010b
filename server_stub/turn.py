"""A chat turn as a format-neutral script, and its timeline of frames.

Owns what happens in a turn and when: which tokens, thinking and tool calls, where a scenario's
fault goes, and at what offset each frame is due. It renders no bytes itself (a ``Renderer`` from
``formats/`` does) and never touches a socket (``streaming.py`` does).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from server_stub import content, scenarios
from server_stub.scenarios import Scenario
from server_stub.settings import Pace
from server_stub.tokens import tokenize


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ChatInput:
    """What a request asked for, whatever its format."""

    prompt: str  # the last user message's text (after any /scenario command)
    model: str
    stream: bool = True
    include_usage: bool = False
    max_tokens: int | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    tool_result: tuple[str, str] | None = None  # (tool name, result) when the turn answers one
    input_chars: int = 0
    chat_scenario: str | None = None  # from "/scenario NAME" in the prompt
    list_scenarios: bool = False  # the prompt was "/scenarios"
    unknown_scenario: str | None = None  # "/scenario NAME" named none: the list says so first


def parse_command(text: str) -> tuple[str | None, bool, str]:
    """Split ``/scenario NAME rest`` into (NAME, list_requested, rest)."""
    stripped = text.lstrip()
    if stripped.startswith("/scenarios") or stripped.strip() == "/scenario":
        return None, True, stripped.partition(" ")[2]
    if stripped.startswith("/scenario "):
        _, _, rest = stripped.partition(" ")
        name, _, prompt = rest.lstrip().partition(" ")
        return name, False, prompt.lstrip() if prompt.strip() else "Hello"
    return None, False, text


@dataclass(frozen=True, slots=True)
class Thinking:
    text: str


@dataclass(frozen=True, slots=True)
class ToolStart:
    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolArgs:
    text: str


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # one of the scenarios' stream faults


Step = str | Thinking | ToolStart | ToolArgs | Pause | Fault


@dataclass(slots=True)
class Turn:
    steps: list[Step]
    text: str  # the visible answer as sent (after any max_tokens cut)
    reasoning: str
    tool: tuple[str, str, str] | None  # (call id, name, arguments JSON)
    finish: str  # "stop" | "length" | "tool_calls"
    complete: bool  # False when a fault ends the stream before its terminator
    preamble: bool
    input_tokens: int
    output_tokens: int
    pace: Pace
    scenario: Scenario
    model: str

    def duration(self) -> float:
        """Offset of the last frame: when the whole turn has been produced."""
        pauses = sum(s.seconds for s in self.steps if isinstance(s, Pause))
        return self.pace.first_token_delay + pauses + self.output_tokens * self.pace.interval


class Renderer(Protocol):
    """Turns steps into wire bytes for one format and one stream."""

    last_id: int | None

    def start(self) -> bytes: ...
    def text(self, token: str) -> bytes: ...
    def thinking(self, token: str) -> bytes: ...
    def tool_start(self, call_id: str, name: str) -> bytes: ...
    def tool_args(self, fragment: str) -> bytes: ...
    def fault(self, kind: str) -> bytes: ...
    def finish(self, turn: Turn) -> bytes: ...


# A frame is (offset in seconds from the turn's start, bytes, event id or None). bytes None means
# "drop the connection here"; b"" means "nothing to send, but the turn lasts until then".
Frame = tuple[float, bytes | None, int | None]


def timeline(turn: Turn, r: Renderer, *, resumed: bool = False) -> Iterator[Frame]:
    """Every frame of ``turn`` with its due offset. ``resumed``: a replay that skips drops."""
    pace = turn.pace
    first = pace.first_token_delay
    interval = pace.interval
    if turn.preamble:
        yield 0.0, r.start(), r.last_id
    k = 0
    shift = 0.0
    text = r.text
    for s in turn.steps:
        if isinstance(s, str):
            yield first + shift + k * interval, text(s), r.last_id
            k += 1
        elif isinstance(s, Thinking):
            yield first + shift + k * interval, r.thinking(s.text), r.last_id
            k += 1
        elif isinstance(s, ToolArgs):
            yield first + shift + k * interval, r.tool_args(s.text), r.last_id
            k += 1
        elif isinstance(s, ToolStart):
            yield first + shift + k * interval, r.tool_start(s.call_id, s.name), r.last_id
        elif isinstance(s, Pause):
            shift += s.seconds
            yield first + shift + max(k - 1, 0) * interval, b"", r.last_id
        elif s.kind in (scenarios.DROP, scenarios.DROP_RESUME):
            if not resumed:
                yield first + shift + k * interval, None, r.last_id
        else:
            yield first + shift + k * interval, r.fault(s.kind), r.last_id
    if turn.complete:
        yield first + shift + k * interval, r.finish(turn), r.last_id


# --- building a turn -------------------------------------------------------------------------

_DEFAULT_TOOL = ToolSpec(
    "get_weather",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)


def _example_value(name: str, schema: dict[str, Any], prompt: str) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return 3 if kind == "integer" else 21.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_example_value(name, schema.get("items") or {"type": "string"}, prompt)]
    if kind == "object":
        return _example_args(schema, prompt)
    low = name.lower()
    if any(w in low for w in ("city", "location", "place")):
        return "Paris"
    if any(w in low for w in ("query", "question", "text", "prompt")):
        return " ".join(prompt.split())[:80] or "hello"
    return f"example {name}"


def _example_args(schema: dict[str, Any], prompt: str) -> dict[str, Any]:
    props = schema.get("properties") or {}
    return {
        name: _example_value(name, sub if isinstance(sub, dict) else {}, prompt)
        for name, sub in props.items()
    }


def _answer_text(chat: ChatInput, scenario: Scenario, seed: int) -> str:
    if chat.list_scenarios:
        return content.scenario_list_answer(scenarios.describe_all(), chat.unknown_scenario)
    if chat.tool_result is not None and scenario.tool_call:
        return content.tool_result_answer(*chat.tool_result)
    return _content_text(scenario.content, chat.prompt, seed)


@functools.lru_cache(maxsize=256)
def _content_text(kind: str, prompt: str, seed: int) -> str:
    # Cached: under load many requests share a prompt, and handing ``tokenize`` the same str
    # object lets its cache skip re-hashing a 110 KB answer.
    maker = {
        "long": content.long_answer,
        "multilingual": content.multilingual_answer,
        "line_separators": content.line_separator_answer,
    }.get(kind, content.demo_answer)
    return maker(prompt, seed)


def build_turn(
    chat: ChatInput, scenario: Scenario, pace: Pace, *, tools_supported: bool = True
) -> Turn:
    """Script the turn: deterministic for a given prompt, scenario and format."""
    seed = content.seed_for(chat.prompt)
    steps: list[Step] = []
    budget = chat.max_tokens if chat.max_tokens is not None else 1 << 62
    truncated = False

    reasoning = ""
    if scenario.reasoning and not chat.list_scenarios:
        reasoning = content.reasoning_text(chat.prompt)
        toks = tokenize(reasoning, seed + 1)
        if len(toks) > budget:
            toks, truncated = toks[:budget], True
            reasoning = "".join(toks)
        steps += [Thinking(t) for t in toks]
        budget -= len(toks)

    tool: tuple[str, str, str] | None = None
    calling = (
        scenario.tool_call
        and tools_supported
        and chat.tool_result is None
        and not chat.list_scenarios
    )
    if calling:
        spec = chat.tools[0] if chat.tools else _DEFAULT_TOOL
        text = f"I'll call `{spec.name}` to find that out."
    else:
        text = _answer_text(chat, scenario, seed)
    toks = tokenize(text, seed)
    if len(toks) > budget:
        toks, truncated = toks[: max(budget, 0)], True
        text = "".join(toks)
    budget -= len(toks)
    text_start = len(steps)
    steps += toks
    n_text = len(toks)

    if calling and not truncated:
        args = json.dumps(_example_args(spec.parameters, chat.prompt), ensure_ascii=False)
        call_id = "call_" + uuid.uuid4().hex[:24]
        frags = tokenize(args, seed + 2)
        if len(frags) > budget:
            frags, truncated = frags[: max(budget, 0)], True
        steps.append(ToolStart(call_id, spec.name))
        steps += [ToolArgs(f) for f in frags]
        tool = (call_id, spec.name, "".join(frags))

    complete = True
    preamble = True
    fault = scenario.fault
    at = (
        text_start + max(1, min(n_text - 1, int(n_text * scenario.fault_at)))
        if n_text
        else len(steps)
    )
    if fault == scenarios.STALL:
        steps.insert(at, Pause(pace.stall_seconds))
    elif fault in (scenarios.DROP, scenarios.DROP_RESUME, scenarios.MALFORMED):
        steps.insert(at, Fault(fault))
    elif fault in (scenarios.ERROR_EVENT, scenarios.OVERLOADED):
        del steps[at:]
        steps.append(Fault(fault))
        complete = False
    elif fault == scenarios.UNKNOWN:
        steps.insert(at, Fault(fault))
        steps.insert(0, Fault(fault))
    elif fault == scenarios.KEEPALIVE_ONLY:
        steps = [Pause(pace.stall_seconds)]
        complete = preamble = False

    output_tokens = sum(1 for s in steps if type(s) in (str, Thinking, ToolArgs))
    finish = "length" if truncated else ("tool_calls" if tool else "stop")
    return Turn(
        steps=steps,
        text=text,
        reasoning=reasoning,
        tool=tool,
        finish=finish,
        complete=complete,
        preamble=preamble,
        input_tokens=max(1, chat.input_chars // 4),
        output_tokens=output_tokens,
        pace=pace,
        scenario=scenario,
        model=chat.model,
    )
