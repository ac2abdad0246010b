"""Coverage-guided fuzzing of the SSE decoder (``desktop_app.core.sse``) with atheris.

Not part of the test suite. To run it::

    pip install atheris
    python scripts/fuzz_sse.py -max_total_time=60

(any libFuzzer flag works: ``-runs=N``, ``-jobs=N``, a corpus directory...).

Each input is split in two: a few bytes choose where to cut the rest into
chunks, the rest is the stream. The harness checks what must hold for any
bytes at all:

- decoding never raises (the inputs stay far below the size guard);
- the events, ``last_event_id``, ``retry`` and comments do not depend on the
  chunking, nor on whether raw frames are recorded;
- the recorded frames hold exactly the dispatched events, in order;
- each event's data equals what the plain reference (decode the whole stream
  with ``bytes.decode("utf-8", "replace")``, split on CRLF/CR/LF) gives.

A failure raises ``AssertionError`` with the input, and atheris writes it to a
``crash-*`` file to replay with ``python scripts/fuzz_sse.py crash-...``.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris  # optional: pip install atheris

with atheris.instrument_imports():
    from desktop_app.core.sse import ServerSentEvent, SSEDecoder

Outcome = tuple[list[ServerSentEvent], str, int | None, list[str]]


def run(chunks: list[bytes], *, record_frames: bool = False) -> Outcome:
    decoder = SSEDecoder(record_frames=record_frames)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    if record_frames:
        frames = decoder.take_frames()
        assert [f.event for f in frames if f.event is not None] == events
        assert all(frame.lines and all(frame.lines) for frame in frames)
    events += decoder.flush()
    return events, decoder.last_event_id, decoder.retry, decoder.take_comments()


def reference_data(stream: bytes) -> list[str]:
    """The data of each event, per the spec, straight from the whole stream."""
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    datas: list[str] = []
    block: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:
        if not line:
            if block:
                datas.append("\n".join(block))
            block = []
        elif line.partition(":")[0] == "data":
            block.append(line.partition(":")[2].removeprefix(" "))
    return datas


def test_one_input(raw: bytes) -> None:
    provider = atheris.FuzzedDataProvider(raw)
    n_cuts = provider.ConsumeIntInRange(0, 8)
    cuts = [provider.ConsumeIntInRange(0, 0xFFFF) for _ in range(n_cuts)]
    stream = provider.ConsumeBytes(provider.remaining_bytes())
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    bounds = [0, *points, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]

    whole = run([stream])
    assert run(chunks) == whole, (stream, points)
    assert run(chunks, record_frames=True) == whole, (stream, points)
    assert [event.data for event in whole[0]] == reference_data(stream), stream


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
