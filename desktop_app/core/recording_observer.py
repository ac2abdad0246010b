"""``RecordingObserver``: records a turn's wire traffic as a ``core.recording.Recording``.

Passed to ``stream_turn`` as its observer (or wrapped by the stream
inspector), it keeps every request, response head, body chunk with its
arrival time, reconnect and the end. API keys never get in: headers are
masked by name (``core.observer.mask_headers``) and by value (any header
containing the key), the key is scrubbed from URLs, bodies and the end's
reason, and any occurrence in the body bytes is overwritten with ``*`` of the
same length, so chunk boundaries and timings stay exact.

Must not: do I/O except in ``save``, or block the turn (observer calls only
append to a list).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.core.events import TurnEnded, TurnState
from desktop_app.core.observer import MASK, mask_headers, mask_secret, mask_url
from desktop_app.core.recording import (
    Entry,
    RecordedChunk,
    RecordedReconnect,
    RecordedRequest,
    RecordedResponse,
    Recording,
    RecordingEnd,
)


class RecordingObserver:
    """A ``TurnObserver`` that records the turn; ``recording()`` gives the result.

    ``secret``: the API key, scrubbed from everything recorded.
    ``max_bytes``: keep at most this many body bytes (None: all); what is
    left out is counted in ``RecordingEnd.truncated_bytes``.
    ``clock`` must be the turn's clock (``stream_turn``'s ``clock``), since
    chunk arrival times come from it.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        provider: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int | None = None,
        note: str = "",
    ) -> None:
        self._secret = secret if secret and len(secret) >= 4 else None
        self._provider = provider
        self._clock = clock
        self._max_bytes = max_bytes
        self._note = note
        self._t0: float | None = None
        self._entries: list[Entry] = []
        self._bytes = 0
        self._dropped_bytes = 0
        self._state: TurnState | None = None
        self._end_t = 0.0
        self._reason: str | None = None
        self._error: str | None = None
        self._created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def state(self) -> TurnState | None:
        return self._state

    def set_secret(self, secret: str | None) -> None:
        """The key to keep out, when it is known only after the observer was made."""
        self._secret = secret if secret and len(secret) >= 4 else None

    @property
    def last_entry(self) -> Entry | None:
        """The entry just recorded (as scrubbed), for observers built on this one."""
        return self._entries[-1] if self._entries else None

    @property
    def dropped_bytes(self) -> int:
        """Body bytes left out by ``max_bytes``."""
        return self._dropped_bytes

    def time_of(self, at: float | None) -> float:
        """Seconds since the first request of clock time ``at`` (None: now)."""
        return self._since(at)

    def _since(self, at: float | None = None) -> float:
        now = self._clock() if at is None else at
        if self._t0 is None:
            self._t0 = now
        return round(max(0.0, now - self._t0), 6)  # as stored: a reloaded model is equal

    # ------------------------------------------------------------ TurnObserver

    def on_request(
        self, method: str, url: str, headers_masked: Mapping[str, str], body: object
    ) -> None:
        t = self._since()
        self._entries.append(
            RecordedRequest(
                t,
                method.upper(),
                self._scrub_text(mask_url(url)),
                self._scrub_headers(headers_masked),
                self._scrub_body(body),
            )
        )

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        self._entries.append(RecordedResponse(self._since(), status, self._scrub_headers(headers)))

    def on_chunk(self, data: bytes, at: float) -> None:
        if self._dropped_bytes or (
            self._max_bytes is not None and self._bytes + len(data) > self._max_bytes
        ):  # the first bytes are kept, none after the first left out
            self._dropped_bytes += len(data)
            return
        self._bytes += len(data)
        self._entries.append(RecordedChunk(self._since(at), bytes(data)))

    def on_reconnect(self, url: str, last_event_id: str) -> None:
        self._entries.append(
            RecordedReconnect(self._since(), self._scrub_text(mask_url(url)), last_event_id)
        )

    def on_end(self, state: TurnState) -> None:
        self._state = state
        self._end_t = self._since()

    def finish(self, ended: TurnEnded | None) -> None:
        """Add how the turn ended (its reason in words) from the session's ``TurnEnded``."""
        if ended is None:
            return
        if self._state is None:
            self.on_end(ended.state)
        if ended.error is not None:
            self._reason = self._scrub_text(" ".join(str(ended.error).split()))
            self._error = type(ended.error).__name__

    # ------------------------------------------------------------ the result

    def recording_end(self) -> RecordingEnd | None:
        if self._state is not None:
            return RecordingEnd(
                self._end_t, self._state.value, self._reason, self._error, self._dropped_bytes
            )
        if self._dropped_bytes:
            return RecordingEnd(self._since(), "streaming", truncated_bytes=self._dropped_bytes)
        return None

    def load(self, recording: Recording) -> None:
        """Start from a recording made earlier (a stored inspection); ``recording()`` gives it back."""
        self._entries = list(recording.entries)
        self._created = recording.created
        self._provider = recording.provider
        self._note = recording.note
        self._t0 = 0.0
        end = recording.end
        if end is not None:
            self._end_t = end.t
            self._reason, self._error = end.reason, end.error
            self._dropped_bytes = end.truncated_bytes
            try:
                self._state = TurnState(end.state)
            except ValueError:
                self._state = None

    def recording(self) -> Recording:
        end = self.recording_end()
        return Recording(
            entries=tuple(_scrub_chunks(self._entries, self._secret)),
            end=end,
            created=self._created,
            provider=self._provider,
            note=self._note,
        )

    def save(self, path: Path | str) -> None:
        self.recording().save(path)

    # ------------------------------------------------------------ scrubbing

    def _scrub_text(self, text: str) -> str:
        return mask_secret(text, self._secret)

    def _scrub_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        masked = mask_headers(headers)
        secret = self._secret
        if secret is None:
            return masked
        return {
            name: MASK if secret in value else mask_secret(value, secret)
            for name, value in masked.items()
        }

    def _scrub_body(self, body: object) -> object:
        if self._secret is None:
            return body
        if isinstance(body, str):
            return self._scrub_text(body)
        if isinstance(body, Mapping):
            return {self._scrub_text(str(k)): self._scrub_body(v) for k, v in body.items()}
        if isinstance(body, list | tuple):
            return [self._scrub_body(v) for v in body]
        return body


def _scrub_chunks(entries: Iterable[Entry], secret: str | None) -> list[Entry]:
    """The entries with every occurrence of ``secret`` in the body bytes overwritten.

    Searched in the whole body, so a key split across two chunks is found;
    replaced by ``*`` of the same length so chunk sizes do not change.
    """
    entries = list(entries)
    if secret is None:
        return entries
    chunk_at = [i for i, e in enumerate(entries) if isinstance(e, RecordedChunk)]
    body = bytearray(b"".join(entries[i].data for i in chunk_at))  # type: ignore[union-attr]
    needles = [secret.encode("utf-8")]
    if len(secret) >= 12:  # a server may quote a truncated key (as ``mask_secret`` assumes)
        needles.append(secret[:8].encode("utf-8"))
    hit = False
    for needle in needles:
        start = body.find(needle)
        while start >= 0:
            body[start : start + len(needle)] = b"*" * len(needle)
            hit = True
            start = body.find(needle, start + len(needle))
    if not hit:
        return entries
    offset = 0
    for i in chunk_at:
        chunk = entries[i]
        assert isinstance(chunk, RecordedChunk)
        size = len(chunk.data)
        entries[i] = replace(chunk, data=bytes(body[offset : offset + size]))
        offset += size
    return entries
