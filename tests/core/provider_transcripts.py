"""Helpers for the provider tests: golden transcripts and hypothesis strategies.

Transcripts under ``tests/fixtures/providers/`` are JSON lines of *decoded*
SSE events (``{"event"?, "data", "id"?}``), so the provider tests do not
depend on the decoder.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import ContentEvent
from desktop_app.core.providers.base import StreamParser
from desktop_app.core.sse import ServerSentEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"


def transcript(name: str) -> list[ServerSentEvent]:
    events = []
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            events.append(
                ServerSentEvent(
                    event=record.get("event", "message"),
                    data=record["data"],
                    id=record.get("id", ""),
                )
            )
    return events


def run(parser: StreamParser, events: list[ServerSentEvent]) -> list[ContentEvent]:
    out: list[ContentEvent] = []
    for event in events:
        out.extend(parser.parse(event))
    return out


def parse_checked(parser: StreamParser, event: ServerSentEvent) -> None:
    """Parse one event: a list comes back, or a StreamProtocolError with a user sentence.

    Any other exception propagates and fails the calling test.
    """
    try:
        result = parser.parse(event)
    except StreamProtocolError as err:
        error: StreamProtocolError | None = err
    else:
        error = None
        assert isinstance(result, list)
        for item in result:
            # Every string must survive UTF-8 (stdout, SQLite): no lone surrogates.
            for value in vars_of(item):
                if isinstance(value, str):
                    value.encode("utf-8")
    if error is not None:
        assert str(error).startswith("The server ")
        assert len(str(error)) < 250


def vars_of(event: object) -> list[object]:
    return [getattr(event, name) for name in getattr(event, "__slots__", ())]


def message(data: object) -> ServerSentEvent:
    """A data-only event; non-strings are sent as compact JSON."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return ServerSentEvent(data=text)


# ---------------------------------------------------------------- hypothesis

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    # Lone surrogates: JSON escapes like "\\ud83d" decode to them.
    | st.text(st.characters(categories=["Cs", "Ll", "So"]), max_size=4)
)


def json_values(keys: list[str]) -> st.SearchStrategy[object]:
    """Arbitrary JSON values whose object keys are often ones the parsers look at."""
    key = st.sampled_from(keys) | st.text(max_size=8)
    return st.recursive(
        json_scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=5)
        ),
        max_leaves=25,
    )


def shaped(keys: list[str], templates: list[object]) -> st.SearchStrategy[object]:
    """Provider-shaped templates with arbitrary values plugged into their holes.

    A template is JSON with the string ``"?"`` where an arbitrary value goes;
    this reaches code past the outer shape checks far more often than random JSON.
    """
    values = json_values(keys)

    def fill(template: object, draw: st.DrawFn) -> object:
        if template == "?":
            return draw(values)
        if isinstance(template, dict):
            return {k: fill(v, draw) for k, v in template.items()}
        if isinstance(template, list):
            return [fill(v, draw) for v in template]
        return template

    @st.composite
    def build(draw: st.DrawFn) -> object:
        return fill(draw(st.sampled_from(templates)), draw)

    return build()


def event_data(keys: list[str], templates: list[object]) -> st.SearchStrategy[str]:
    """Data strings: arbitrary text, arbitrary JSON, or filled templates, as JSON text."""
    as_json = (json_values(keys) | shaped(keys, templates)).map(json.dumps)
    return st.text(max_size=40) | as_json | st.sampled_from(["", "[DONE]", "</stream>", "{"])


def sse_events(
    names: list[str], keys: list[str], templates: list[object]
) -> st.SearchStrategy[list[ServerSentEvent]]:
    name = st.sampled_from([*names, "message", "error", "ping"]) | st.text(max_size=10)
    one = st.builds(
        ServerSentEvent, event=name, data=event_data(keys, templates), id=st.text(max_size=4)
    )
    return st.lists(one, max_size=8)
