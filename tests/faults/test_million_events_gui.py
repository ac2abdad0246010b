"""Half a million tiny events through the real window: it answers, stays responsive, memory stays bounded.

A byte server on loopback (in this process, on the same loop) streams one
OpenAI-format answer of ``EVENTS`` content events of 1-3 characters each
(``tests.faults.tiny_events``: 256 KB per write, so the server side costs
little; why not a million: at ``EVENTS``). The window streams it with the
stream inspector open on it (its model is attached to every answer; the dock
shows it live, table and chart). Then:

- the answer completes, and the raw text and the history hold exactly what
  was sent;
- a 10 ms ``LatenessProbe`` never fires later than ``MAX_LATENESS`` (the loop
  keeps running; not a timing);
- the process's peak resident memory grows by less than ``MEMORY_FACTOR``
  times the bytes on the wire (the heap earlier tests freed is trimmed and the
  peak reset through ``/proc/self/clear_refs`` first, so neither hides growth;
  without clear_refs, RSS is sampled every 20 ms);
- the inspector keeps at most ``max_frames`` frames and its recording at most
  ``max_bytes``, counting what it left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import time
from types import TracebackType

import pytest
from PySide6.QtCore import QTimer

from desktop_app.core.inspector_model import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES
from tests.faults.test_hostile_gui import (
    MAX_LATENESS,
    SETTLE_TIMEOUT,
    LatenessProbe,
    window_answering,
)
from tests.faults.tiny_events import tiny_events
from tests.qt.shell_helpers import send, wait_until

pytestmark = pytest.mark.asyncio

# Half a million, not a million: through the window a million events take ~55 s
# on the shared 2-core VM (~45 s with the inspector closed: each event is parsed
# by the session and again by the inspector model), against ~14 s for
# ``streamdesk ask``. Half a million still goes far past every bound the window
# has (the 500,000 characters shown, the inspector's 5,000 frames, its 2 MB
# recording, the 100,000 points of its timeline) in ~25 s.
EVENTS = 500_000
# Peak resident growth may be at most this many times the bytes on the wire, as
# in the core (test_hostile_core). Measured 2.1x at a million events, ~3x at half
# a million: most of it is the view of the first 500,000 characters.
MEMORY_FACTOR = 5
ANSWER_TIMEOUT = 180.0


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


class PeakMemory:
    """The growth of this process's peak resident memory over a block, in bytes."""

    def __init__(self) -> None:
        self.baseline = self.peak = 0
        self.exact = False
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._sample)

    def _sample(self) -> None:
        self.peak = max(self.peak, _status_kb("VmRSS"))

    @property
    def growth(self) -> int:
        return (self.peak - self.baseline) * 1024

    def __enter__(self) -> PeakMemory:
        gc.collect()
        # Hand the heap that earlier tests freed back to the system first: reused, it
        # would hold this answer without the RSS growing.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)  # glibc
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")  # reset VmHWM to the current RSS (Linux 4.0+)
            self.exact = True
        except OSError:
            self.exact = False
        self.baseline = self.peak = _status_kb("VmRSS")
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.stop()
        self._sample()
        if self.exact:
            self.peak = max(self.peak, _status_kb("VmHWM"))


async def test_tiny_events_stream_through_the_window_responsive_and_bounded() -> None:
    reply, text, payload = tiny_events(EVENTS)
    async with window_answering(reply, text) as window:
        window.inspector.show()  # the user watches the frames come in
        finished: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def ended(_cid: str, _mid: str, status: str) -> None:
            if not finished.done():
                finished.set_result(status)

        window.chat.answerFinished.connect(ended)
        started = time.monotonic()
        with PeakMemory() as memory, LatenessProbe() as probe:
            message_id = await send(window, "many tiny events")
            status = await asyncio.wait_for(finished, ANSWER_TIMEOUT)
            widget = window.chat_view.message_widget(message_id)
            assert widget is not None
            await wait_until(
                lambda: (
                    widget.view.status != "streaming"
                    and not widget.backlog
                    and (widget.body is None or not widget.body.has_pending_renders)
                ),
                SETTLE_TIMEOUT,
            )
        elapsed = time.monotonic() - started
        window.chat.answerFinished.disconnect(ended)
        raw = window.chat_view.raw_text(message_id)
        stored = window.services.history.get_message(int(message_id)).text
        model = window.chat.inspections.get(message_id)
        assert model is not None
        frames, kept, dropped = model.frame_count, len(model.frames), model.dropped_frames
        recorded, left_out = len(model.recording().body()), model.truncated_bytes
        shown = window.inspector.model is model
    print(
        f"\n{EVENTS:,} events, {payload:,} wire bytes, {len(text):,} chars in {elapsed:.1f} s;"
        f" peak RSS growth {memory.growth / 2**20:.0f} MiB"
        f" ({memory.growth / payload:.2f}x the wire, {'VmHWM' if memory.exact else 'sampled'});"
        f" worst lateness {probe.worst:.3f} s over {probe.fired} ticks"
    )
    assert status == "complete"
    assert raw == text
    assert stored == text
    assert shown  # the dock followed the streaming answer
    assert frames == EVENTS + 1  # every content event and [DONE], counted
    assert kept <= DEFAULT_MAX_FRAMES
    assert dropped == frames - kept
    assert recorded <= DEFAULT_MAX_BYTES
    assert recorded + left_out == payload  # every byte counted, most left out
    assert probe.fired > 10
    assert probe.worst < MAX_LATENESS, f"the event loop stalled for {probe.worst:.2f} s"
    assert memory.growth < MEMORY_FACTOR * payload, (
        f"peak memory grew by {memory.growth:,} bytes for {payload:,} bytes on the wire"
    )
