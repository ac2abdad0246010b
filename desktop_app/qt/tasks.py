"""A registry of the asyncio tasks the window starts, so none is lost or left running.

qasync 0.28's ``asyncSlot`` keeps no strong reference to its task, and a task
nobody references can be garbage collected mid-flight (research/ecosystem.md
§1, pitfall 4). Every task the Qt layer starts goes through ``TaskRegistry``:
it keeps the reference, reports an unexpected exception through
``sys.excepthook`` (so pytest-qt fails the test, and the app logs it), and on
shutdown cancels everything and waits, bounded, for it to end.

It owns task bookkeeping only; what a task does is its creator's business.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskRegistry:
    """Holds strong references to running tasks; ``shutdown()`` cancels and awaits them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start ``coro`` on the running loop and keep it until it ends."""
        if self._closed:
            coro.close()
            raise RuntimeError("the window is closing; no new work can start")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A bug, not a user-facing error (those are handled inside the
            # task): make it loud the way an exception in a slot is.
            log.error("task %s failed", task.get_name(), exc_info=exc)
            sys.excepthook(type(exc), exc, exc.__traceback__)

    async def shutdown(self, grace: float = 5.0) -> None:
        """Cancel every task and wait for them to finish (at most ``grace`` s)."""
        self._closed = True
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                log.warning("task %s did not stop within %.1f s", task.get_name(), grace)
