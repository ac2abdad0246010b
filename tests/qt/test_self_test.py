"""``streamdesk --self-test``: exits 0 through the real window, non-zero saying what failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.qt import self_test
from desktop_app.qt.app import needs_offscreen

ROOT = Path(__file__).resolve().parents[2]


def test_self_test_passes_as_a_subprocess_without_a_display(isolated_dirs: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen by itself
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "desktop_app", "--self-test"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout
    assert "tokens/s" in result.stdout
    assert result.stderr == ""
    # It touched none of the user's files.
    written = [p for p in isolated_dirs.rglob("*") if p.is_file()]
    assert written == []


@pytest.mark.asyncio
async def test_a_failing_answer_fails_the_self_test_with_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PySide6.QtWidgets import QApplication

    monkeypatch.setattr(self_test, "MODEL", "stub-error_event_mid_stream")
    code = await self_test.run_self_test(QApplication.instance(), timeout=30)
    assert code == 1
    err = capsys.readouterr().err
    assert "self-test FAILED: the answer ended error" in err
    assert "The server reported an error" in err


@pytest.mark.asyncio
async def test_the_self_test_is_bounded_by_its_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    from PySide6.QtWidgets import QApplication

    code = await self_test.run_self_test(QApplication.instance(), timeout=0.05)
    assert code == 1
    assert "no complete answer within" in capsys.readouterr().err


def test_offscreen_only_without_a_display() -> None:
    assert needs_offscreen({})
    assert not needs_offscreen({"DISPLAY": ":0"})
    assert not needs_offscreen({"WAYLAND_DISPLAY": "wayland-0"})
    assert not needs_offscreen({"QT_QPA_PLATFORM": "xcb"})
