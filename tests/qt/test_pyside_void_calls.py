"""Regression guard for the PySide6 6.12.0 / CPython < 3.12 abort.

That build decrements None's refcount on every void Qt call; the interpreter
dies with "none_dealloc" after ~10,000 calls (research/ecosystem.md, pitfall 1).
A streaming window makes several such calls per token, so this must never ship.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_twenty_thousand_void_qt_calls_do_not_abort() -> None:
    script = textwrap.dedent(
        """
        import sys
        from PySide6.QtWidgets import QApplication, QLabel, QTextEdit
        app = QApplication([])
        label = QLabel()
        edit = QTextEdit()
        before = sys.getrefcount(None)
        for i in range(20_000):
            label.setText("a")
            edit.verticalScrollBar().setValue(0)
        drift = sys.getrefcount(None) - before
        print("drift", drift)
        """
    )
    env_note = "PySide6 build leaks None references: pin PySide6-Essentials<6.12 on Python<3.12"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, f"{env_note}\n{result.stderr[-2000:]}"
    drift = int(result.stdout.split()[-1])
    # On 3.12+ None is immortal and its count is meaningless-large; below it must not fall.
    assert sys.version_info >= (3, 12) or drift > -1000, env_note
