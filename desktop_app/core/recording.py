"""Recordings of a turn's wire traffic: the records, the file format and the reader.

A recording keeps the exact bytes of every response body as they arrived,
chunk by chunk with their arrival times, plus the requests (secrets masked),
the response statuses and headers, reconnects and how the turn ended, so a
stream seen once can be replayed (``streamdesk-stub --replay``) and looked at
(the stream inspector). The format is JSON Lines a person can read and edit;
``docs/recording-format.md`` describes it, and ``server_stub.replay`` reads it
with its own code (the stub shares nothing with the app: the format is the
contract).

``core.recording_observer.RecordingObserver`` writes recordings (and keeps
API keys out of them).

Must not: do I/O except in ``Recording.save`` and ``load_recording``, or
know about the network or the session.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from desktop_app import __version__
from desktop_app.core.errors import StreamdeskError
from desktop_app.core.events import TurnState

FORMAT_VERSION = 1
# Characters JSON allows raw in strings that editors or line splitters take for
# line breaks; written escaped so one line stays one record.
_LINE_BREAKERS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}


class InvalidRecording(StreamdeskError):
    default_message = "That file is not a Streamdesk recording."
    hint = "A recording is a .jsonl file written by `streamdesk ask --record` or the inspector."


# ---------------------------------------------------------------- the records


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as sent; ``t`` is seconds since the recording began (the first request)."""

    t: float
    method: str
    url: str  # the full URL, masked
    headers: Mapping[str, str]
    body: object = None

    @property
    def path(self) -> str:
        """Path and query, relative to the server: what a replay matches on."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    t: float
    status: int
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RecordedChunk:
    """One body read exactly as it arrived (a chunk may cut a UTF-8 character)."""

    t: float
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordedReconnect:
    t: float
    url: str
    last_event_id: str


Entry = RecordedRequest | RecordedResponse | RecordedChunk | RecordedReconnect
Ending = Literal["end", "drop", "silence"]
_SILENT_ERRORS = frozenset({"IdleTimeout", "FirstTokenTimeout"})


@dataclass(frozen=True, slots=True)
class RecordingEnd:
    """How the turn ended: a ``TurnState`` value and the reason in words, if any."""

    t: float
    state: str
    reason: str | None = None
    error: str | None = None  # the error's class name (``Interrupted``, ``IdleTimeout``...)
    truncated_bytes: int = 0  # body bytes not kept (a size-bounded recording)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request with its response and body chunks.

    ``ending`` says how its body ended, for a replay to do the same:
    ``"end"`` (a proper end), ``"drop"`` (cut off: a reconnect followed, or
    the turn ended interrupted by a lost connection; a replay closes the
    connection without ending the body) or ``"silence"`` (the client gave up
    waiting: a replay sends nothing more until the client leaves).
    """

    request: RecordedRequest
    response: RecordedResponse | None
    chunks: tuple[RecordedChunk, ...]
    ending: Ending = "end"


@dataclass(frozen=True, slots=True)
class Recording:
    """A whole recording: header fields, the entries in arrival order, the end."""

    entries: tuple[Entry, ...]
    end: RecordingEnd | None = None
    created: str = ""
    streamdesk: str = __version__
    provider: str | None = None  # the format's name, when the writer knew it
    note: str = ""
    version: int = FORMAT_VERSION

    @property
    def chunks(self) -> list[RecordedChunk]:
        return [e for e in self.entries if isinstance(e, RecordedChunk)]

    def body(self) -> bytes:
        """Every body byte received, in order, across all responses."""
        return b"".join(c.data for c in self.chunks)

    def exchanges(self) -> list[Exchange]:
        """The requests with what came back for each, in order."""
        out: list[Exchange] = []
        request: RecordedRequest | None = None
        response: RecordedResponse | None = None
        chunks: list[RecordedChunk] = []
        for entry in self.entries:
            if isinstance(entry, RecordedRequest):
                if request is not None:
                    out.append(Exchange(request, response, tuple(chunks)))
                request, response, chunks = entry, None, []
            elif isinstance(entry, RecordedResponse):
                response = entry
            elif isinstance(entry, RecordedChunk):
                chunks.append(entry)
            elif request is not None:  # a reconnect: the body before it was cut off
                out.append(Exchange(request, response, tuple(chunks), "drop"))
                request, response, chunks = None, None, []
        if request is not None:
            out.append(Exchange(request, response, tuple(chunks), self._last_ending()))
        return out

    def _last_ending(self) -> Ending:
        end = self.end
        if end is None:
            return "end"
        if end.error in _SILENT_ERRORS:
            return "silence"
        if end.state == TurnState.INTERRUPTED.value:
            return "drop"
        return "end"

    def lines(self) -> Iterator[str]:
        """The JSON Lines text, one record per item (without newlines)."""
        head: dict[str, object] = {
            "type": "recording",
            "version": self.version,
            "created": self.created,
            "streamdesk": self.streamdesk,
        }
        if self.provider:
            head["provider"] = self.provider
        if self.note:
            head["note"] = self.note
        yield _dumps(head)
        for entry in self.entries:
            yield _dumps(_entry_dict(entry))
        if self.end is not None:
            end: dict[str, object] = {
                "type": "end",
                "t": _round(self.end.t),
                "state": self.end.state,
            }
            if self.end.reason:
                end["reason"] = self.end.reason
            if self.end.error:
                end["error"] = self.end.error
            if self.end.truncated_bytes:
                end["truncated_bytes"] = self.end.truncated_bytes
            yield _dumps(end)

    def dumps(self) -> str:
        return "".join(line + "\n" for line in self.lines())

    def save(self, path: Path | str) -> None:
        """Write the recording (UTF-8, LF line ends), replacing the file."""
        Path(path).write_text(self.dumps(), encoding="utf-8", newline="\n")


def _round(t: float) -> float:
    return round(t, 6)


def _dumps(record: Mapping[str, object]) -> str:
    text = json.dumps(record, ensure_ascii=False, separators=(", ", ": "))
    for raw, escaped in _LINE_BREAKERS.items():
        if raw in text:  # only ever inside a string, where the escape means the same
            text = text.replace(raw, escaped)
    return text


def _entry_dict(entry: Entry) -> dict[str, object]:
    if isinstance(entry, RecordedChunk):
        try:
            return {"type": "chunk", "t": _round(entry.t), "data": entry.data.decode("utf-8")}
        except UnicodeDecodeError:  # e.g. a chunk that ends inside a character
            encoded = base64.b64encode(entry.data).decode("ascii")
            return {"type": "chunk", "t": _round(entry.t), "b64": encoded}
    if isinstance(entry, RecordedRequest):
        return {
            "type": "request",
            "t": _round(entry.t),
            "method": entry.method,
            "path": entry.path,
            "url": entry.url,
            "headers": dict(entry.headers),
            "body": entry.body,
        }
    if isinstance(entry, RecordedResponse):
        return {
            "type": "response",
            "t": _round(entry.t),
            "status": entry.status,
            "headers": dict(entry.headers),
        }
    return {
        "type": "reconnect",
        "t": _round(entry.t),
        "url": entry.url,
        "last_event_id": entry.last_event_id,
    }


# ---------------------------------------------------------------- reading


def load_recording(path: Path | str) -> Recording:
    """Read a recording file; raises ``InvalidRecording`` saying what is wrong."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InvalidRecording(
            f"The recording {file} could not be read ({exc.strerror or exc})."
        ) from None
    return loads_recording(raw, source=str(file))


def loads_recording(data: bytes | str, *, source: str = "the recording") -> Recording:
    """Parse recording text. Blank lines are skipped; CR LF line ends are accepted."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # Split on LF only: U+2028 or NEL inside a string must not end a record.
    records: list[tuple[int, dict[str, object]]] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise InvalidRecording(f"Line {number} of {source} is not valid JSON.") from None
        if not isinstance(record, dict):
            raise InvalidRecording(f"Line {number} of {source} is not a JSON object.")
        records.append((number, record))
    if not records or records[0][1].get("type") != "recording":
        raise InvalidRecording(f"{source} does not start with a recording header line.")
    head = records[0][1]
    version = head.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise InvalidRecording(
            f"{source} is recording format {version!r}; this Streamdesk reads up to "
            f"{FORMAT_VERSION}."
        )
    entries: list[Entry] = []
    end: RecordingEnd | None = None
    for number, record in records[1:]:
        try:
            item = _parse(record)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise InvalidRecording(
                f"Line {number} of {source} is not a valid {record.get('type')!s} record ({exc})."
            ) from None
        if isinstance(item, RecordingEnd):
            end = item
        elif item is not None:
            entries.append(item)
    provider = head.get("provider")
    return Recording(
        entries=tuple(entries),
        end=end,
        created=str(head.get("created", "")),
        streamdesk=str(head.get("streamdesk", "")),
        provider=provider if isinstance(provider, str) else None,
        note=str(head.get("note", "")),
        version=version,
    )


def _parse(record: Mapping[str, object]) -> Entry | RecordingEnd | None:
    kind = record["type"]
    t = _time(record.get("t", 0.0))
    if kind == "chunk":
        if "b64" in record:
            return RecordedChunk(t, base64.b64decode(_text(record["b64"]), validate=True))
        return RecordedChunk(t, _text(record["data"]).encode("utf-8"))
    if kind == "request":
        return RecordedRequest(
            t,
            _text(record.get("method", "POST")).upper(),
            _text(record["url"]),
            _headers(record.get("headers", {})),
            record.get("body"),
        )
    if kind == "response":
        status = record["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"status {status!r} is not an HTTP status")
        return RecordedResponse(t, status, _headers(record.get("headers", {})))
    if kind == "reconnect":
        return RecordedReconnect(t, _text(record["url"]), _text(record.get("last_event_id", "")))
    if kind == "end":
        reason = record.get("reason")
        error = record.get("error")
        truncated = record.get("truncated_bytes", 0)
        return RecordingEnd(
            t,
            _text(record["state"]),
            reason if isinstance(reason, str) else None,
            error if isinstance(error, str) else None,
            truncated if isinstance(truncated, int) else 0,
        )
    return None  # an unknown record type from a newer writer, or a note: skipped


def _time(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"time {value!r} is not a number of seconds")
    return float(value)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _headers(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TypeError("headers must be an object of text values")
    return dict(value)


# ---------------------------------------------------------------- replaying in the app

_CHAT_PATHS = {"openai": "/chat/completions", "anthropic": "/messages"}


def replay_target(recording: Recording, server_url: str) -> tuple[str, str]:
    """The provider format and base URL that send a turn to ``recording``'s first
    recorded path on ``server_url`` (a stub serving it, e.g. the embedded one
    with ``X-Stub-Replay``). The format is the recording's own, else guessed
    from the path; raises ``InvalidRecording`` for a recording without a request.
    """
    requests = [e for e in recording.entries if isinstance(e, RecordedRequest)]
    if not requests:
        raise InvalidRecording("The recording holds no request, so nothing can be replayed.")
    path = urlsplit(requests[0].url).path or "/"
    provider = recording.provider
    if provider is None:
        found = [name for name, suffix in _CHAT_PATHS.items() if path.endswith(suffix)]
        provider = found[0] if found else "generic"
    suffix = _CHAT_PATHS.get(provider, "")
    base = path[: -len(suffix)] if suffix and path.endswith(suffix) else path
    return provider, server_url.rstrip("/") + base
