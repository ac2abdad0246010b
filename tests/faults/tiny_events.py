"""A million tiny OpenAI-format events, cheap to serve: ``tiny_events(count)``.

The answer is paragraphs of plain sentences cut into content events of 1, 2
and 3 characters in turn, each event a small but real Chat Completions chunk
(no id, model or timestamps: no parser needs them). The frames of one
paragraph are built once and the body is that block repeated in writes of
about 256 KB, so the byte server spends almost nothing per event and what is
measured is the client.
"""

from __future__ import annotations

import json

from tests.core.byte_server import OPENAI_DONE, Reply

BATCH_BYTES = 256 * 1024
PARAGRAPH = "Tiny tokens arrive one after another, fast. " * 8 + "\n\n"


def pieces_of_paragraph() -> list[str]:
    pieces: list[str] = []
    at = size = 0
    while at < len(PARAGRAPH):
        size = size % 3 + 1
        pieces.append(PARAGRAPH[at : at + size])
        at += size
    return pieces


def frame(piece: str) -> bytes:
    data = json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]})
    return f"data: {data}\n\n".encode()


def tiny_events(count: int) -> tuple[Reply, str, int]:
    """The reply (``count`` content events, then ``[DONE]``), its text and its size on the wire."""
    pieces = pieces_of_paragraph()
    paragraph = b"".join(map(frame, pieces))
    per_batch = max(1, BATCH_BYTES // len(paragraph))
    batches, rest = divmod(count, len(pieces) * per_batch)
    paragraphs, events = divmod(rest, len(pieces))
    tail = paragraph * paragraphs + b"".join(map(frame, pieces[:events]))
    body = [paragraph * per_batch] * batches + [tail, OPENAI_DONE.encode()]
    text = PARAGRAPH * (batches * per_batch + paragraphs) + "".join(pieces[:events])
    return Reply(body=body), text, sum(map(len, body))
