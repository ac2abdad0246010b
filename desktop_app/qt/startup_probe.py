"""Start-up measurements for ``benchmarks/bench_startup.py``: off unless asked for.

With ``STREAMDESK_EXIT_ON_FIRST_PAINT=1`` the app prints, when the main
window has painted its first frame::

    first-paint <seconds since the process started> rss-mib <resident MiB>

and exits 0 at once. With ``STREAMDESK_EXIT_AFTER_IDLE=<seconds>`` it prints
that line, stays idle that long (the window shown, the offline stub started
by the window as usual), prints ``rest-rss-mib <resident MiB>`` and exits 0.

"Process start" is ``STREAMDESK_T0_NS`` (``time.time_ns()`` taken by the
caller just before it spawned us) when set; else the kernel's start time of
this process (``/proc/self/stat`` field 22, in clock ticks since boot, against
``/proc/uptime``: 10 ms resolution); else, off Linux, the import of this
module (a lower bound). Resident memory is ``VmRSS`` from
``/proc/self/status``; off Linux the peak (``ru_maxrss``).

It exits with ``os._exit``: no shutdown work is measured or waited for (the
history is SQLite in WAL mode, safe to leave like this).

Must not: change anything when neither variable is set (``wanted()``).
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

FIRST_PAINT = "STREAMDESK_EXIT_ON_FIRST_PAINT"
AFTER_IDLE = "STREAMDESK_EXIT_AFTER_IDLE"
T0 = "STREAMDESK_T0_NS"
_IMPORTED = time.time()


def wanted() -> bool:
    return os.environ.get(FIRST_PAINT) == "1" or bool(os.environ.get(AFTER_IDLE))


def seconds_since_start() -> float:
    t0 = os.environ.get(T0)
    if t0:
        return (time.time_ns() - int(t0)) / 1e9
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # Fields after the command name (which may hold spaces) start at 3.
            started_ticks = int(stat.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            now = float(uptime.read().split()[0])
        return now - started_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time() - _IMPORTED


def rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


class StartupProbe(QObject):
    """Watches the window for its first paint; reports, then exits as configured."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._seen = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._seen and event.type() == QEvent.Type.Paint:
            self._seen = True
            self._window.removeEventFilter(self)
            # After this paint event returns: the rest of the frame is painted too.
            QTimer.singleShot(0, self._painted)
        return False

    def _painted(self) -> None:
        print(f"first-paint {seconds_since_start():.3f} rss-mib {rss_mib():.1f}", flush=True)
        idle = os.environ.get(AFTER_IDLE)
        if not idle:
            os._exit(0)
        QTimer.singleShot(int(float(idle) * 1000), self._rested)

    def _rested(self) -> None:
        print(f"rest-rss-mib {rss_mib():.1f}", flush=True)
        os._exit(0)
