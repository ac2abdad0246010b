"""The stream inspections of recent answers, by message id: what the inspector can show.

``InspectionLog.start()`` makes the ``InspectorModel`` a new answer's turn
reports to (pass it to ``stream_turn`` as the observer; give it the
``TurnEnded`` with ``finish``); ``get()`` finds it again for the inspector,
live or finished. Only the ``max_answers`` most recently started or looked
at are kept in memory; a finished one is kept longer in the history as
``stored_json(model)`` and comes back with ``load()``.

``stored_json`` bounds what the history keeps of one answer: the model keeps
at most 2 MB of body bytes, which can take more as JSON, and every request
carries the whole conversation. Past ``MAX_STORED_CHARS`` it shortens the
request bodies and then leaves out chunks from the middle of the stream (cut
at frame ends where it can), saying so in the recording's note, which the
inspector shows.

Must not: do I/O or import Qt. ``stored_json`` takes a fraction of a second
for a stream of megabytes: run it off the GUI thread, on a finished model.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from typing import Any

from desktop_app.core.inspector_model import InspectorModel
from desktop_app.core.providers.base import Provider

MAX_ANSWERS = 50
MAX_STORED_CHARS = 2_000_000
MAX_REQUEST_BODY_CHARS = 64_000
_NOTE_ROOM = 1_000  # kept free for the note saying what was left out
_FRAME_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")
_MAX_SEAM_SHIFT = 64  # chunks a cut may move to land on a frame end


class InspectionLog:
    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self._max = max(1, max_answers)
        self._models: OrderedDict[str, InspectorModel] = OrderedDict()

    def __len__(self) -> int:
        return len(self._models)

    def start(
        self, message_id: str, *, provider: Provider | None, secret: str | None = None
    ) -> InspectorModel:
        """A fresh model for an answer about to stream (it replaces an earlier one: Continue).

        The key may be given later (``model.set_secret``), before the first request.
        """
        model = InspectorModel(provider=provider, secret=secret)
        self.put(message_id, model)
        return model

    def put(self, message_id: str, model: InspectorModel) -> None:
        self._models[message_id] = model
        self._models.move_to_end(message_id)
        while len(self._models) > self._max:
            oldest, dropped = next(iter(self._models.items()))
            if dropped.end_state is None and dropped.exchanges:
                # Still streaming: never drop a live one; drop the next oldest instead.
                self._models.move_to_end(oldest)
                if all(m.end_state is None and m.exchanges for m in self._models.values()):
                    break
                continue
            del self._models[oldest]

    def get(self, message_id: str) -> InspectorModel | None:
        model = self._models.get(message_id)
        if model is not None:
            self._models.move_to_end(message_id)
        return model

    def load(
        self, message_id: str, stored: str, *, provider: Provider | None = None
    ) -> InspectorModel:
        """A stored inspection (``to_json``) back in the log; raises ``InvalidRecording``."""
        model = InspectorModel.from_json(stored, provider=provider)
        self.put(message_id, model)
        return model

    def forget(self, message_id: str) -> None:
        self._models.pop(message_id, None)


# ---------------------------------------------------------------- the stored form


def stored_json(model: InspectorModel, max_chars: int = MAX_STORED_CHARS) -> str:
    """``model.to_json()``, at most ``max_chars`` long; "" if even its skeleton is longer."""
    text = model.to_json()
    if len(text) <= max_chars:
        return text
    stored = json.loads(text)
    records: list[dict[str, Any]] = stored["recording"]
    notes: list[str] = []
    shortened = _shorten_request_bodies(records)
    if shortened:
        notes.append(f"{shortened} long request bod{'ies were' if shortened > 1 else 'y was'} cut")
    budget = max_chars - _NOTE_ROOM - len(_dumps({**stored, "recording": []}))
    dropped, dropped_bytes = _drop_middle_chunks(records, budget)
    if dropped:
        notes.append(
            f"{dropped:,} chunks ({dropped_bytes:,} bytes) from the middle of the stream "
            "were left out"
        )
    head = records[0] if records and records[0].get("type") == "recording" else None
    if head is not None and notes:
        note = "To keep the history small, " + "; ".join(notes) + "."
        head["note"] = f"{head['note']} {note}" if head.get("note") else note
    text = _dumps(stored)
    return text if len(text) <= max_chars else ""


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _shorten_request_bodies(records: list[dict[str, Any]]) -> int:
    """Bodies over ``MAX_REQUEST_BODY_CHARS`` become the start of their JSON text."""
    count = 0
    for record in records:
        if record.get("type") != "request" or record.get("body") is None:
            continue
        body = _dumps(record["body"])
        if len(body) > MAX_REQUEST_BODY_CHARS:
            left = len(body) - MAX_REQUEST_BODY_CHARS
            record["body"] = f"{body[:MAX_REQUEST_BODY_CHARS]}… ({left:,} more characters)"
            count += 1
    return count


def _drop_middle_chunks(records: list[dict[str, Any]], budget: int) -> tuple[int, int]:
    """Remove chunk records from the middle until ``records`` fit ``budget``; (count, bytes)."""
    sizes = [len(_dumps(r)) + 1 for r in records]
    excess = sum(sizes) - budget
    chunks = [i for i, r in enumerate(records) if r.get("type") == "chunk"]
    if excess <= 0 or not chunks:
        return 0, 0
    # Widen a window around the middle chunk, one side then the other, until enough goes...
    low = high = len(chunks) // 2  # chunks[low:high] go
    removed, upper = 0, True
    while removed < excess and (low > 0 or high < len(chunks)):
        if high < len(chunks) and (upper or low == 0):
            removed += sizes[chunks[high]]
            high += 1
        else:
            low -= 1
            removed += sizes[chunks[low]]
        upper = not upper
    # ...then move its edges outwards onto frame ends, so no frame is spliced.
    for _ in range(_MAX_SEAM_SHIFT):
        if low == 0 or _ends_frame(records[chunks[low - 1]]):
            break
        low -= 1
    for _ in range(_MAX_SEAM_SHIFT):
        if high == len(chunks) or _ends_frame(records[chunks[high - 1]]):
            break
        high += 1
    gone = set(chunks[low:high])
    dropped_bytes = sum(len(_chunk_bytes(records[i])) for i in gone)
    records[:] = [r for i, r in enumerate(records) if i not in gone]
    return len(gone), dropped_bytes


def _chunk_bytes(record: dict[str, Any]) -> bytes:
    try:
        if "b64" in record:
            return base64.b64decode(str(record["b64"]))
        return str(record.get("data", "")).encode("utf-8")
    except (binascii.Error, ValueError):
        return b""


def _ends_frame(record: dict[str, Any]) -> bool:
    return _chunk_bytes(record).endswith(_FRAME_ENDS)
