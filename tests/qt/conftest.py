"""Qt test support: async tests run on a qasync loop over the one QApplication.

pytest-asyncio 1.5 asks the ``pytest_asyncio_loop_factories(config, item)``
hook for the loop to run an async test on. pytest calls it through
``item.ihook``, so this conftest's answer applies to tests under ``tests/qt``
only; core tests keep the plain asyncio loop (research/ecosystem.md, section 5
and the appendix).

Inside async tests never use ``qtbot.wait*``/``waitSignal``: they start a
nested Qt loop inside a running task and hang. Await ``wait_signal`` instead.

The offscreen platform warns "This plugin does not support
propagateSizeHints()" whenever a top-level widget with a layout is shown, and
"... does not support raise()" when a tooltip pops up; that is the test
platform listing what it lacks, not our code, so it is ignored here (every
other Qt warning still fails the test: ``qt_log_level_fail = WARNING``).

After every Qt test the cyclic garbage is collected here, on the GUI thread
(``collect_on_gui_thread``): left to chance, a later collection may run on the
embedded stub's or a worker's thread and free Qt objects there, which crashes
the process (``desktop_app/qt/gc_guard.py`` says why).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QApplication

OFFSCREEN_NOISE = r"This plugin does not support (propagateSizeHints|raise)\(\)"
_HERE = Path(__file__).resolve().parent


class HookedQEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """qasync's loop plus the async-generator hooks qasync 0.28 never installs.

    Without them, generators left mid-iteration (httpx streams) are finalised
    by the garbage collector and warn "async generator ignored GeneratorExit".
    """

    def run_forever(self) -> None:
        old = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook,
            finalizer=self._asyncgen_finalizer_hook,
        )
        try:
            super().run_forever()
        finally:
            sys.set_asyncgen_hooks(*old)


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    return HookedQEventLoop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test under tests/qt runs on a qasync loop."""
    return {"qasync": _qasync_loop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


async def wait_signal(
    signal: SignalInstance,
    timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
) -> tuple[Any, ...]:
    """Await the next emission of ``signal`` (its arguments), at most ``timeout`` s."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def received(*args: Any) -> None:
        if not future.done():
            future.set_result(args)

    signal.connect(received)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        signal.disconnect(received)


async def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point of this helper
    interval: float = 0.01,
) -> None:
    """Await until ``predicate()`` is true (the Qt loop keeps running meanwhile)."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - Qt state has no asyncio.Event to await
            await asyncio.sleep(interval)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture(autouse=True)
def collect_on_gui_thread() -> Iterator[None]:
    """Collect the test's cyclic garbage now, on this (the GUI) thread."""
    yield
    gc.collect()


@pytest.fixture(name="wait_signal")
def wait_signal_fixture() -> Callable[..., Any]:
    """The ``wait_signal`` helper as a fixture, for tests that prefer not to import it."""
    return wait_signal
