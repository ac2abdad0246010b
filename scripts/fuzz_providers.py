"""Coverage-guided fuzzing of the provider parsers (``desktop_app.core.providers``) with atheris.

Not part of the test suite (the suite has the hypothesis properties). To run it::

    python scripts/fuzz_providers.py -max_total_time=180
    python scripts/fuzz_providers.py -max_total_time=180 -jobs=2 -workers=2 corpus/

(any libFuzzer flag works). With no corpus directory given, a temporary one is
seeded from the golden transcripts in ``tests/fixtures/providers`` and the
stub's three formats, so the fuzzer starts from real streams and mutates
their JSON. A crash is written to ``crash-*``; replay it with
``python scripts/fuzz_providers.py crash-...``.

An input is one byte choosing the provider (OpenAI, Anthropic, generic) and
then the bytes of an event stream. The harness decodes them with the real SSE
decoder and feeds every event to the provider's parser, checking what must
hold for any input at all:

- ``parse`` returns a list of content events or raises ``StreamProtocolError``
  whose message is a short sentence starting "The server"; nothing else;
- every string in an event is valid UTF-8 (no lone surrogates: it goes to
  stdout, Qt and SQLite);
- once the parser says ``finished``, later events add nothing;
- the events do not depend on where the stream was cut into chunks;
- the events assemble into an answer (``core.answer.Answer``) without error;
- ``error_message`` turns the same bytes, read as an error body, into a short
  one-line string without raising.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402  (optional dependency, after the path tweak)

with atheris.instrument_imports():
    from desktop_app.core.answer import Answer
    from desktop_app.core.errors import StreamProtocolError
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
    from desktop_app.core.providers import get_provider
    from desktop_app.core.sse import ServerSentEvent, SSEDecoder

PROVIDERS = ("openai", "anthropic", "generic")
CONTENT_TYPES = (
    TextDelta,
    ReasoningDelta,
    ToolCallDelta,
    Usage,
    FinishReason,
    Finished,
    ProviderFailed,
)
ERROR_MESSAGE_LIMIT = 400


def decode(stream: bytes, cut: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    try:
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    except StreamProtocolError:
        return []  # the decoder's size guard; the inputs here stay far below it
    return events + decoder.flush()


def parse_all(provider: str, events: list[ServerSentEvent]) -> tuple[list[ContentEvent], str]:
    """Every event through one parser: the content events, and how it stopped."""
    parser = get_provider(provider).new_parser()
    out: list[ContentEvent] = []
    for event in events:
        was_finished = parser.finished
        try:
            content = parser.parse(event)
        except StreamProtocolError as error:
            message = str(error)
            assert message.startswith("The server "), message
            assert len(message) < 250, message
            return out, "protocol error"
        assert isinstance(content, list), content
        if was_finished:
            assert content == [], ("events after the end", event, content)
        for item in content:
            assert isinstance(item, CONTENT_TYPES), item
            for name in getattr(item, "__slots__", ()):
                value = getattr(item, name)
                if isinstance(value, str):
                    value.encode("utf-8")  # raises on a lone surrogate
        out += content
    return out, "finished" if parser.finished else "open"


def test_one_input(raw: bytes) -> None:
    if len(raw) < 2:
        return
    provider = PROVIDERS[raw[0] % len(PROVIDERS)]
    cut = raw[1] * len(raw) // 256
    stream = raw[2:]

    whole, how = parse_all(provider, decode(stream, 0))
    assert parse_all(provider, decode(stream, cut)) == (whole, how), (provider, cut, stream)

    answer = Answer()
    for event in whole:
        answer.add(event)
    answer.text.encode("utf-8")
    for call in answer.tool_calls():
        call.arguments.encode("utf-8")

    said = get_provider(provider).error_message(stream.decode("utf-8", "replace"))
    assert isinstance(said, str)
    assert "\n" not in said
    assert len(said) <= ERROR_MESSAGE_LIMIT, len(said)


# ---------------------------------------------------------------- seeds


def _sse(events: list[dict[str, str]]) -> bytes:
    lines: list[str] = []
    for record in events:
        if record.get("event"):
            lines.append(f"event: {record['event']}")
        if record.get("id"):
            lines.append(f"id: {record['id']}")
        lines += [f"data: {line}" for line in record["data"].split("\n")]
        lines.append("")
    return ("\n".join(lines) + "\n").encode()


def seed_corpus(directory: Path) -> int:
    """Write the golden transcripts (and short hand-made streams) as inputs."""
    count = 0
    fixtures = ROOT / "tests" / "fixtures" / "providers"
    for path in sorted(fixtures.glob("*.jsonl")):
        records = [
            json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()
        ]
        stream = _sse(records)
        for index, name in enumerate(PROVIDERS):
            # The transcript's own format with a mid-stream cut, and the others too.
            (directory / f"{path.stem}-{name}").write_bytes(bytes([index, 128]) + stream)
            count += 1
    extra = [
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n',
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\n\n',
        b'data: {"type":"content","content":"a"}\n\ndata: {"type":"done"}\n\n',
        b"data: plain text\n\nevent: done\ndata: \n\n",
    ]
    for number, stream in enumerate(extra):
        for index in range(len(PROVIDERS)):
            (directory / f"extra{number}-{index}").write_bytes(bytes([index, 64]) + stream)
            count += 1
    return count


def main() -> None:
    argv = list(sys.argv)
    replaying = any(Path(arg).is_file() for arg in argv[1:] if not arg.startswith("-"))
    has_corpus = any(Path(arg).is_dir() for arg in argv[1:] if not arg.startswith("-"))
    if not replaying and not has_corpus:
        corpus = Path(tempfile.mkdtemp(prefix="fuzz-providers-"))
        seeded = seed_corpus(corpus)
        print(f"seeded {seeded} inputs in {corpus}", file=sys.stderr)
        argv.append(str(corpus))
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
