"""Fault-matrix test support: which loop each test runs on, and one stub per module.

Async tests in modules named ``*_gui.py`` run on a qasync loop over the one
QApplication (the same loop ``tests/qt`` uses; never ``qtbot.wait*`` inside
them, await ``wait_until``/``wait_signal`` instead); every other async test
runs on a plain asyncio loop. The offscreen platform's notes about what it
cannot do are not failures (see ``tests/qt/conftest.py``); every other Qt
warning is. After each GUI test its cyclic garbage is collected on the GUI
thread, as ``tests/qt`` does: a later collection on the stub's thread would
free Qt objects there and crash the process (``desktop_app/qt/gc_guard.py``).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.stub import FaultStub, fault_stub

OFFSCREEN_NOISE = r"This plugin does not support (propagateSizeHints|raise)\(\)"


def _is_gui(item: pytest.Item) -> bool:
    return Path(str(item.path)).stem.endswith("_gui")


def _qasync_loop() -> asyncio.AbstractEventLoop:
    from PySide6.QtWidgets import QApplication

    from tests.qt.conftest import HookedQEventLoop

    app = QApplication.instance() or QApplication([])
    return HookedQEventLoop(app)  # type: ignore[no-any-return]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    if _is_gui(item):
        return {"qasync": _qasync_loop}
    return {"asyncio": asyncio.new_event_loop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if _is_gui(item) and here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def collect_on_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if _is_gui(request.node):
        gc.collect()


@pytest.fixture(scope="module")
def stub() -> Iterator[FaultStub]:
    """The bundled stub, unpaced unless a row's URL asks for a pace (``tests.faults.stub``)."""
    with fault_stub() as running:
        yield running
