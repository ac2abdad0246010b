"""One shared ticker that wakes every paced stream whose next token is due.

Owns the waiting only. A sleep per token per stream means a timer per token and a loop wake-up
at a different instant for each of a thousand streams; on this VM a wake-up costs ~200 µs of CPU
(performance.md §2), so the stub fell behind at 1,000 streams × 20 tokens/s (§5). Here every
waiting stream parks a future in a time slot, one timer fires per slot, and all the streams due
in that slot resume in the same loop iteration. Nothing runs while nobody waits, so an idle
embedded stub costs nothing. It must not know about formats or sockets.
"""

from __future__ import annotations

import asyncio
import heapq
import math

RESOLUTION = 0.005  # seconds per slot: at most 5 ms of extra lateness per token


class Ticker:
    """Sleep until a loop-clock deadline, rounded up to the next slot; bound to one loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self._loop = loop
        self._res = resolution
        self._buckets: dict[int, list[asyncio.Future[None]]] = {}
        self._heap: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot: int | None = None

    def sleep_until(self, when: float) -> asyncio.Future[None] | None:
        """A future resolved at ``when`` (or a little after), or None if ``when`` has passed.

        Callers do ``fut = ticker.sleep_until(t)`` then ``if fut: await fut``: not awaiting when
        nothing is due keeps a behind-schedule stream from paying a loop round trip per token.
        """
        loop = self._loop
        if when <= loop.time():
            return None
        slot = math.ceil(when / self._res)
        fut: asyncio.Future[None] = loop.create_future()
        bucket = self._buckets.get(slot)
        if bucket is None:
            self._buckets[slot] = [fut]
            heapq.heappush(self._heap, slot)
            if self._timer_slot is None or slot < self._timer_slot:
                self._arm(slot)
        else:
            bucket.append(fut)
        return fut

    @property
    def waiting(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = self._loop.call_at(slot * self._res, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_slot = None
        # call_at may run a hair early (clock resolution); accept slots within half a slot.
        limit = (self._loop.time() + self._res / 2) / self._res
        heap = self._heap
        while heap and heap[0] <= limit:
            for fut in self._buckets.pop(heapq.heappop(heap)):
                if not fut.done():  # cancelled when its stream's client went away
                    fut.set_result(None)
        if heap:
            self._arm(heap[0])
