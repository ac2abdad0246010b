"""Reading a Streamdesk recording (JSON Lines) into what a replay serves.

The stub shares no code with the app, so it reads the documented format
(``docs/recording-format.md``) itself: a header line, then ``request``,
``response``, ``chunk`` (text in ``data`` or bytes in ``b64``),
``reconnect`` and ``end`` records. Each request becomes a ``ReplayExchange``:
the method and path to answer, the status and headers, the body chunks with
their delays from the request, and how the body ends. Unknown record types
are skipped, so a newer writer's extras do not stop an older stub.

Must not: import anything from ``desktop_app``, or touch the network.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

FORMAT_VERSION = 1
Ending = Literal["end", "drop", "silence"]
_SILENT_ERRORS = frozenset({"IdleTimeout", "FirstTokenTimeout"})


class RecordingError(Exception):
    """The file is not a recording the stub can serve; ``str(exc)`` says why."""


@dataclass
class ReplayExchange:
    """One recorded request and what to answer it with."""

    method: str
    path: str
    status: int = 0  # 0: no response was recorded (the connection failed)
    headers: list[tuple[str, str]] = field(default_factory=list)
    head_delay: float = 0.0  # seconds from the request to the response head
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (delay, bytes)
    ending: Ending = "end"

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.chunks)


@dataclass
class RecordingFile:
    exchanges: list[ReplayExchange]
    provider: str | None = None
    source: str = ""

    def describe(self) -> str:
        """“POST /v1/chat/completions (200, 58 chunks)” for each exchange."""
        return "; ".join(
            f"{x.method} {x.path} ({x.status}, {len(x.chunks)} chunks)" for x in self.exchanges
        )


def load(path: Path | str) -> RecordingFile:
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise RecordingError(f"cannot read {file}: {exc.strerror or exc}") from None
    return parse(raw, source=str(file))


def parse(raw: bytes, *, source: str = "the recording") -> RecordingFile:
    records = _records(raw, source)
    head = records[0][1]
    exchanges: list[ReplayExchange] = []
    current: ReplayExchange | None = None
    request_t = 0.0
    end: dict[str, Any] | None = None
    for number, record in records[1:]:
        kind = record.get("type")
        try:
            t = _seconds(record.get("t", 0.0))
            if kind == "request":
                current = ReplayExchange(
                    method=str(record.get("method", "POST")).upper(), path=_path(record)
                )
                exchanges.append(current)
                request_t = t
            elif kind == "response" and current is not None:
                current.status = _status(record["status"])
                current.headers = _headers(record.get("headers", {}))
                current.head_delay = max(0.0, t - request_t)
            elif kind == "chunk" and current is not None:
                current.chunks.append((max(0.0, t - request_t), _chunk(record)))
            elif kind == "reconnect" and current is not None:
                current.ending = "drop"  # the body before a reconnect was cut off
                current = None
            elif kind == "end":
                end = record
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise RecordingError(f"line {number} of {source}: bad {kind} record ({exc})") from None
    if current is not None and end is not None:
        if end.get("error") in _SILENT_ERRORS:
            current.ending = "silence"
        elif end.get("state") == "interrupted":
            current.ending = "drop"
    # A request that got no response (the connection failed) cannot be replayed.
    served = [x for x in exchanges if x.status]
    if not served:
        raise RecordingError(f"{source} holds no response to replay")
    provider = head.get("provider")
    return RecordingFile(served, provider if isinstance(provider, str) else None, source)


def _records(raw: bytes, source: str) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(raw.split(b"\n"), 1):  # LF only: U+2028 stays inside
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise RecordingError(f"line {number} of {source} is not JSON") from None
        if not isinstance(record, dict):
            raise RecordingError(f"line {number} of {source} is not a JSON object")
        records.append((number, record))
    if not records or records[0][1].get("type") != "recording":
        raise RecordingError(f"{source} is not a Streamdesk recording (no header line)")
    version = records[0][1].get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise RecordingError(f"{source} is recording format {version!r}; this stub reads 1")
    return records


def _path(record: dict[str, Any]) -> str:
    path = record.get("path")
    if not isinstance(path, str) or not path:
        path = urlsplit(str(record["url"])).path
    return urlsplit(path).path or "/"  # matched without the query


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"time {value!r}")
    return float(value)


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"status {value!r}")
    return value


def _headers(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        raise TypeError("headers must be an object")
    return [(str(k), str(v)) for k, v in value.items()]


def _chunk(record: dict[str, Any]) -> bytes:
    if "b64" in record:
        return base64.b64decode(str(record["b64"]), validate=True)
    data = record["data"]
    if not isinstance(data, str):
        raise TypeError("data must be text")
    return data.encode("utf-8")
