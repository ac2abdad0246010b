"""When to write a streaming answer to disk: the checkpointing policy, sans-IO.

Owns: the rule "at least once per ``interval`` while the text changes, and at
every end". It reads time only through the clock it is given and writes
nothing; the session or the Qt controller asks it and calls
``HistoryStore.checkpoint`` / ``finish_message``.

Usage::

    checkpointer = Checkpointer(time.monotonic)
    ...on each delta:        if checkpointer.changed(): store.checkpoint(id, text, reasoning); checkpointer.written()
    ...from a timer as well: if checkpointer.due(): (same)
    ...at the end:           store.finish_message(...)  # always written

The timer matters: if the stream stalls right after a delta, only a
periodic ``due()`` (``deadline()`` says when) writes that delta within a
second. The UI's coalescing timer is a natural caller.
"""

from __future__ import annotations

from collections.abc import Callable


class Checkpointer:
    def __init__(self, clock: Callable[[], float], interval: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._clock = clock
        self._interval = interval
        # Starting an answer writes its row, which counts as the first write.
        self._last_write = clock()
        self._dirty = False
        self.writes = 0

    @property
    def pending(self) -> bool:
        """True when text arrived since the last write."""
        return self._dirty

    def changed(self) -> bool:
        """Record that the text changed; True if a checkpoint should be written now."""
        self._dirty = True
        return self.due()

    def due(self) -> bool:
        """True if unsaved text is ``interval`` old or older."""
        return self._dirty and self._clock() - self._last_write >= self._interval

    def deadline(self) -> float | None:
        """The clock time by which the pending text must be written; None if nothing pending."""
        return self._last_write + self._interval if self._dirty else None

    def written(self) -> None:
        """A checkpoint (or the final write) was just stored."""
        self._last_write = self._clock()
        self._dirty = False
        self.writes += 1
