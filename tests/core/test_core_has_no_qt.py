"""The core must import and work where PySide6 is absent (the CLI, servers, CI)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import desktop_app.core


def test_every_core_module_imports_with_qt_blocked() -> None:
    modules = [
        m.name for m in pkgutil.walk_packages(desktop_app.core.__path__, "desktop_app.core.")
    ]
    assert len(modules) >= 3
    script = textwrap.dedent(
        f"""
        import importlib, sys

        class BlockQt:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"PySide6", "shiboken6", "qasync"}}:
                    raise ImportError("Qt is blocked in this test: " + name)
                return None

        sys.meta_path.insert(0, BlockQt())
        for name in {modules!r}:
            importlib.import_module(name)
        assert not any(m.split(".")[0] in {{"PySide6", "qasync"}} for m in sys.modules)
        print("ok", len({modules!r}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
