"""A sans-IO, incremental Server-Sent Events decoder (WHATWG HTML §9.2.5-9.2.6).

PLACEHOLDER INTERFACE: the implementation is being written. ``feed()`` takes
raw bytes, ``flush()`` ends the stream; neither does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event, with the same meaning as httpx-sse's model.

    ``id`` is the last event id in effect at dispatch; ``retry`` is the valid
    ``retry`` value given in this event's own block, else ``None``.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Turns a byte stream into ``ServerSentEvent``s, however the bytes are chunked."""

    def __init__(self) -> None:
        self.retry: int | None = None
        self.last_event_id: str = ""

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        raise NotImplementedError

    def flush(self) -> list[ServerSentEvent]:
        raise NotImplementedError
