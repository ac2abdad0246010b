"""Generic (app-defined) format: golden transcripts, terminators, plain text,
the request, error bodies, malformed data, and the never-raise-anything-else property."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from desktop_app.core.errors import StreamProtocolError
from desktop_app.core.events import (
    ContentEvent,
    Finished,
    ProviderFailed,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.generic import NOT_GENERIC, GenericParser, GenericProvider
from desktop_app.core.sse import ServerSentEvent
from tests.core.provider_transcripts import (
    FIXTURES,
    message,
    parse_checked,
    run,
    sse_events,
    transcript,
)

PROVIDER = GenericProvider()

GOLDEN: dict[str, tuple[list[ContentEvent], bool]] = {
    "generic_typed.jsonl": (
        [
            TextDelta("Streaming"),
            TextDelta(" is"),
            ReasoningDelta("(keep it short)"),
            TextDelta(" fun."),
            Usage(input_tokens=5, output_tokens=3),
            Finished("stop"),
        ],
        True,
    ),
    "generic_event_stop.jsonl": (
        [TextDelta("Hel"), TextDelta("lo"), TextDelta(", world"), Finished(None)],
        True,
    ),
    "generic_error.jsonl": (
        [TextDelta("Partial"), ProviderFailed("Rate limit exceeded", code="429")],
        False,
    ),
    "laravel_update.jsonl": (
        [TextDelta("Hello"), TextDelta(" from"), TextDelta(" Laravel"), Finished(None)],
        True,
    ),
    # Plain-text tokens keep their spaces and newlines; "42" is text, not a number.
    "generic_plain_text.jsonl": (
        [
            TextDelta("The"),
            TextDelta(" answer"),
            TextDelta(" is"),
            TextDelta(" 42"),
            TextDelta("\n"),
            Finished(None),
        ],
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_transcript(name: str) -> None:
    expected, finished = GOLDEN[name]
    parser = PROVIDER.new_parser()
    assert run(parser, transcript(name)) == expected
    assert parser.finished is finished


@pytest.mark.parametrize("name", ["stop", "end", "done", "END"])
@pytest.mark.parametrize("data", ["", "</stream>", "bye", "{}", "[1]", '{"usage": "bad"}'])
def test_named_terminators_end_the_answer_whatever_their_data(name: str, data: str) -> None:
    parser = GenericParser()
    assert parser.parse(ServerSentEvent(event=name, data=data)) == [Finished(None)]
    assert parser.finished


def test_named_terminator_with_json_reports_reason_and_usage() -> None:
    data = '{"finish_reason": "length", "usage": {"input_tokens": 7, "output_tokens": 9}}'
    assert GenericParser().parse(ServerSentEvent(event="done", data=data)) == [
        Usage(input_tokens=7, output_tokens=9),
        Finished("length"),
    ]


@pytest.mark.parametrize("data", ["[DONE]", " </stream> "])
def test_sentinel_data_ends_the_answer_on_any_event(data: str) -> None:
    parser = GenericParser()
    assert parser.parse(ServerSentEvent(event="update", data=data)) == [Finished(None)]


def test_nothing_counts_after_the_end() -> None:
    parser = GenericParser()
    parser.parse(message({"type": "done"}))
    assert parser.parse(message({"type": "content", "content": "late"})) == []
    assert parser.parse(ServerSentEvent(event="error", data="late")) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"type": "content", "content": "a"}', [TextDelta("a")]),
        ('{"type": "text", "text": "b"}', [TextDelta("b")]),
        ('{"type": "delta", "delta": {"content": "c"}}', [TextDelta("c")]),
        ('{"type": "token", "token": "d"}', [TextDelta("d")]),
        ('{"type": "Content", "content": ""}', []),
        ('{"type": "thinking", "thinking": "e"}', [ReasoningDelta("e")]),
        ('{"type": "reasoning", "content": "f"}', [ReasoningDelta("f")]),
        ('{"reasoning": "g", "content": "h"}', [ReasoningDelta("g"), TextDelta("h")]),
        ('{"delta": {"text": "i"}}', [TextDelta("i")]),
        ('{"type": "usage", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}', [Usage(1, 2)]),
        ('{"type": "status", "content": "Searching the web..."}', []),
        ('{"type": "start", "id": 4}', []),
        ('{"conversation_id": 3}', []),
        ('"He said \\"hi\\"\\n"', [TextDelta('He said "hi"\n')]),
        ('""', []),
        ("true", [TextDelta("true")]),
        ("[1, 2]", [TextDelta("[1, 2]")]),
        ("not json {", [TextDelta("not json {")]),
        ("  ", [TextDelta("  ")]),
        ("", []),
    ],
)
def test_data_shapes(data: str, expected: list[ContentEvent]) -> None:
    assert GenericParser().parse(message(data)) == expected


def test_llama_cpp_native_stop_flag_ends_the_answer() -> None:
    parser = GenericParser()
    events = [
        message({"content": "Hi", "stop": False}),
        message({"content": "", "stop": True, "stop_type": "eos", "timings": {"predicted_n": 1}}),
    ]
    assert run(parser, events) == [TextDelta("Hi"), Finished(None)]
    assert parser.finished


def test_unknown_event_names_read_json_objects_but_not_plain_text() -> None:
    parser = GenericParser()
    assert parser.parse(ServerSentEvent(event="progress", data="50%")) == []
    assert parser.parse(ServerSentEvent(event="progress", data='"quoted"')) == []
    assert parser.parse(ServerSentEvent(event="chunk", data="plain")) == [TextDelta("plain")]
    assert parser.parse(ServerSentEvent(event="answer", data='{"content": "x"}')) == [
        TextDelta("x")
    ]


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        (
            "error",
            '{"message": "Model is busy", "code": 503}',
            ProviderFailed("Model is busy", code="503"),
        ),
        ("error", "Something broke", ProviderFailed("Something broke")),
        ("error", "", ProviderFailed("The server reported an error while answering.")),
        (
            "message",
            '{"type": "error", "error": {"type": "quota", "message": "Out of credits"}}',
            ProviderFailed("Out of credits", kind="quota"),
        ),
        ("message", '{"error": "bad request"}', ProviderFailed("bad request")),
        (
            "message",
            '{"type": "error"}',
            ProviderFailed("The server reported an error while answering."),
        ),
    ],
)
def test_errors(event: str, data: str, expected: ProviderFailed) -> None:
    parser = GenericParser()
    assert parser.parse(ServerSentEvent(event=event, data=data)) == [expected]
    assert not parser.finished


MALFORMED = [
    '{"type": 3}',
    '{"type": "content", "content": 5}',
    '{"type": "content", "content": ["a"]}',
    '{"type": "reasoning", "reasoning": false}',
    '{"content": {"text": 1}}',
    '{"delta": 2.5}',
    '{"type": "done", "usage": "lots"}',
    '{"type": "done", "usage": {"prompt_tokens": "3"}}',
    '{"type": "done", "finish_reason": 1}',
    '{"type": "usage", "usage": []}',
]


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_data_raises_stream_protocol_error(data: str) -> None:
    with pytest.raises(StreamProtocolError, match=r"^The server .*“"):
        GenericParser().parse(message(data))


@settings(max_examples=200, deadline=None)
@given(
    sse_events(
        ["stop", "end", "done", "update"],
        ["type", "content", "delta", "text", "usage", "finish_reason", "error", "done"],
        [
            {"type": "?", "content": "?"},
            {"type": "content", "content": "?", "delta": "?"},
            {"type": "reasoning", "reasoning": "?"},
            {"type": "done", "usage": "?", "finish_reason": "?"},
            {"type": "done", "usage": {"prompt_tokens": "?", "output_tokens": "?"}},
            {"type": "error", "message": "?", "code": "?", "error": "?"},
            {"delta": "?", "stop": "?"},
            {"delta": {"content": "?"}},
            {"error": "?"},
        ],
    )
)
def test_parse_returns_events_or_raises_stream_protocol_error(
    events: list[ServerSentEvent],
) -> None:
    parser = GenericParser()
    for event in events:
        parse_checked(parser, event)
    assert _flush(parser) in ([], NOT_GENERIC)


# ---------------------------------------------------------------- another format read as generic

# Every stream of another format in the fixtures: each must be refused, not read as an empty answer.
OTHER_FORMATS = sorted(
    path.name
    for path in FIXTURES.glob("*.jsonl")
    if not path.name.startswith(("generic_", "laravel_"))
)


def _flush(parser: GenericParser) -> list[ContentEvent] | str:
    """What ``flush()`` gives, or the sentence of the error it raises."""
    try:
        return parser.flush()
    except StreamProtocolError as err:
        return str(err)


def _refused(run_it: Callable[[], object]) -> StreamProtocolError:
    with pytest.raises(StreamProtocolError) as caught:
        run_it()
    error = caught.value
    assert str(error) == NOT_GENERIC
    assert "format (OpenAI, Anthropic or generic)" in error.hint
    return error


def test_an_openai_stream_is_refused_at_its_done() -> None:
    parser = GenericParser()
    *chunks, done = transcript("openai_basic.jsonl")
    assert done.data == "[DONE]"
    assert run(parser, chunks) == []  # chunks it does not know are ignored one by one
    _refused(lambda: parser.parse(done))
    assert parser.finished
    assert parser.parse(done) == []  # nothing counts after that
    assert parser.flush() == []


def test_an_anthropic_stream_is_refused_when_the_body_ends() -> None:
    parser = GenericParser()
    assert run(parser, transcript("anthropic_full.jsonl")) == []
    assert not parser.finished  # message_stop is not one of this format's terminators
    _refused(parser.flush)


@pytest.mark.parametrize("name", OTHER_FORMATS)
def test_no_other_format_passes_for_an_empty_generic_answer(name: str) -> None:
    parser = GenericParser()
    try:
        out: list[ContentEvent] | str = run(parser, transcript(name))
    except StreamProtocolError as err:
        out = str(err)
    if isinstance(out, list) and not parser.finished:
        flushed = _flush(parser)
        out = flushed if isinstance(flushed, str) else out + flushed
    if isinstance(out, list):
        # Only an in-stream error (OpenAI's {"error": ...}) is read, and it is a failure.
        assert out
        assert all(isinstance(event, ProviderFailed) for event in out)
    else:
        assert out == NOT_GENERIC


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_generic_fixtures_flush_without_complaint(name: str) -> None:
    parser = GenericParser()
    run(parser, transcript(name))
    assert parser.flush() == []


@pytest.mark.parametrize(
    "events",
    [
        # Only app-specific objects, then this format's own terminators: an empty answer.
        [message({"type": "start"}), ServerSentEvent(event="done", data="")],
        [message({"type": "status"}), ServerSentEvent(event="update", data="</stream>")],
        [message({"type": "start"}), message({"type": "done"})],
        # Plain text, an error, a bare known key: the format is ours, [DONE] ends it.
        [message({"type": "start"}), message("Hi"), message("[DONE]")],
        [message({"status": 1}), message({"content": ""}), message("[DONE]")],
        [message({"status": 1}), message({"stop": False}), message("[DONE]")],
        [message({"id": 1}), message({"type": "usage", "usage": {}}), message("[DONE]")],
        [message({"id": 1}), ServerSentEvent(event="error", data="x"), message("[DONE]")],
        # No JSON object at all: nothing to judge by.
        [message("[DONE]")],
    ],
)
def test_a_stream_with_anything_of_this_format_still_ends(events: list[ServerSentEvent]) -> None:
    parser = GenericParser()
    run(parser, events)
    assert parser.finished
    assert parser.flush() == []


@pytest.mark.parametrize(
    "events",
    [
        [message({"type": "start"}), message({"type": "status"}), message("[DONE]")],
        [message({"choices": [{"delta": {"content": "Hi"}}]}), message({"usage": {}})],
    ],
)
def test_only_unknown_objects_are_refused(events: list[ServerSentEvent]) -> None:
    parser = GenericParser()

    def run_and_flush() -> None:
        run(parser, events)
        parser.flush()

    _refused(run_and_flush)


def test_a_cut_short_generic_answer_flushes_quietly() -> None:
    parser = GenericParser()
    assert run(parser, [message({"type": "start"}), message({"content": "Hal"})]) == [
        TextDelta("Hal")
    ]
    assert parser.flush() == []
    assert not parser.finished  # the session reports the cut, not the parser


# ---------------------------------------------------------------- the request


def _request(**kw: object) -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage("user", "Hi"),),
        model="tutorial-model",
        **kw,  # type: ignore[arg-type]
    )


def test_request_posts_to_the_base_url_itself() -> None:
    endpoint = Endpoint(
        " http://127.0.0.1:8000/api/chat ", api_key="tok", extra_headers={"X-App": "1"}
    )
    req = PROVIDER.build_request(_request(system="Be kind."), endpoint)
    assert req.method == "POST"
    assert req.url == "http://127.0.0.1:8000/api/chat"
    assert req.headers == {
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
        "Authorization": "Bearer tok",
        "X-App": "1",
    }
    # The system prompt travels in its own field only, not as a first message.
    assert req.json == {
        "model": "tutorial-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be kind.",
        "stream": True,
    }


def test_request_without_key_and_with_settings_and_continue() -> None:
    req = PROVIDER.build_request(
        _request(temperature=0.5, max_tokens=10, prefill="Half an ans"),
        Endpoint("http://127.0.0.1:8000/api/chat"),
    )
    assert "Authorization" not in req.headers
    assert isinstance(req.json, dict)
    assert "system" not in req.json
    assert req.json["temperature"] == 0.5
    assert req.json["max_tokens"] == 10
    assert req.json["messages"][1] == {"role": "assistant", "content": "Half an ans"}
    assert req.json["messages"][2]["role"] == "user"


def test_no_models_url_and_resumable() -> None:
    assert PROVIDER.models_url(Endpoint("http://127.0.0.1:8000/api/chat")) is None
    assert PROVIDER.resumable is True


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"message": "Prompt too long", "code": 413}', "Prompt too long"),
        ('{"error": "Unauthenticated."}', "Unauthenticated."),
        ("Internal Server Error", "Internal Server Error"),
        ("<html><title>Whoops! &mdash; Laravel</title></html>", "Whoops! — Laravel"),
        ("", ""),
    ],
)
def test_error_message(body: str, expected: str) -> None:
    assert PROVIDER.error_message(body) == expected
