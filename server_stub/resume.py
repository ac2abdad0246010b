"""A bounded store of generic-format streams, so a client can resume with ``Last-Event-ID``.

Owns which streams are remembered and for how long. A stream is kept as its script (the
``Turn``) and its start time, not as bytes: a turn renders the same events every time, so a
resumed GET replays the timeline from the event after ``Last-Event-ID``, sending at once what
the original generation has already produced and the rest when it is due. That works while the
original is still going and after it finished, and costs a few KB per stream. Finished streams
are forgotten ``ttl`` seconds after their last event; past ``max_streams`` the oldest go first.
Reads the loop clock only through the ``now`` arguments; knows no sockets.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from server_stub.turn import Turn


@dataclass(slots=True)
class StoredStream:
    turn: Turn
    t0: float | None  # loop time the generation started; None until first read (two-step)
    ends_at: float | None  # when the last event is (or was) due
    final_id: int  # the id of the last event with an id
    created: float


class ResumeStore:
    def __init__(self, ttl: float, max_streams: int) -> None:
        self.ttl = ttl
        self.max_streams = max(1, max_streams)
        self._streams: OrderedDict[str, StoredStream] = OrderedDict()

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, turn: Turn, final_id: int, *, now: float, started: bool) -> str:
        self.purge(now)
        stream_id = uuid.uuid4().hex[:20]
        stored = StoredStream(turn, None, None, final_id, now)
        if started:
            self.start(stored, now)
        self._streams[stream_id] = stored
        while len(self._streams) > self.max_streams:
            self._streams.popitem(last=False)
        return stream_id

    def start(self, stored: StoredStream, now: float) -> None:
        stored.t0 = now
        stored.ends_at = now + stored.turn.duration()

    def get(self, stream_id: str, *, now: float) -> StoredStream | None:
        self.purge(now)
        return self._streams.get(stream_id)

    def purge(self, now: float) -> None:
        # Two-step prompts never read are forgotten the same time after they were stored.
        expired = [
            key
            for key, s in self._streams.items()
            if (s.ends_at if s.ends_at is not None else s.created) + self.ttl < now
        ]
        for key in expired:
            del self._streams[key]
