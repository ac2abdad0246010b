"""The start-up hook bench_startup.py relies on: first paint and memory at rest, then exit 0.

The process runs for real (``python -m desktop_app``, offscreen, the test's
own XDG directories); nothing is timed here, only the report's shape and the
clock it is read from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.qt import startup_probe

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_reports_its_first_paint_and_rest_memory_then_exits(
    isolated_dirs: Path,
) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STREAMDESK_EXIT_AFTER_IDLE="0.3")
    env["STREAMDESK_T0_NS"] = str(time.time_ns())
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first = re.search(r"^first-paint ([0-9.]+) rss-mib ([0-9.]+)$", result.stdout, re.M)
    rest = re.search(r"^rest-rss-mib ([0-9.]+)$", result.stdout, re.M)
    assert first is not None, result.stdout
    assert rest is not None, result.stdout
    assert 0 < float(first.group(1)) < 120
    assert float(first.group(2)) > 10  # Qt is loaded: tens of MiB at least
    assert float(rest.group(1)) > 10


def test_process_start_comes_from_the_kernel_or_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(startup_probe.T0, raising=False)
    from_kernel = startup_probe.seconds_since_start()
    assert 0 < from_kernel < 24 * 3600  # this test process started a while ago
    monkeypatch.setenv(startup_probe.T0, str(time.time_ns() - 2_000_000_000))
    assert 2.0 <= startup_probe.seconds_since_start() < 60
    assert startup_probe.rss_mib() > 1


def test_the_probe_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(startup_probe.FIRST_PAINT, raising=False)
    monkeypatch.delenv(startup_probe.AFTER_IDLE, raising=False)
    assert not startup_probe.wanted()
    monkeypatch.setenv(startup_probe.FIRST_PAINT, "1")
    assert startup_probe.wanted()
