"""Bringing renders done on the worker thread back to the GUI thread.

Owns the queued-signal bridge (a QObject living in the GUI thread; a signal
emitted from the worker reaches it through the event loop) and the submit
helper. The executor itself lives in ``markdown_body``.

Must not: touch widgets from the worker (results go through the bridge's
queued signal; the receiver decides whether they still apply).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from desktop_app.qt.markdown import RenderedBlock

log = logging.getLogger(__name__)


class RenderBridge(QObject):
    """Carries worker-thread results back to the GUI thread (queued signal)."""

    rendered = Signal(int, object)


def _deliver(bridge: RenderBridge, job: int, future: Future[RenderedBlock]) -> None:
    if future.cancelled():
        return
    try:
        result: RenderedBlock | None = future.result()
    except Exception:  # a renderer bug must not kill the worker; show plain text
        log.exception("rendering a large block failed")
        result = None
    try:
        if shiboken6.isValid(bridge):
            bridge.rendered.emit(job, result)
    except RuntimeError:  # the message was closed meanwhile
        pass


def submit(
    executor: Executor,
    bridge: RenderBridge,
    job: int,
    render: Callable[..., RenderedBlock],
    *args: Any,
    **kwargs: Any,
) -> None:
    """Run ``render(*args, **kwargs)`` on ``executor``; ``bridge.rendered(job, result)`` follows."""
    future = executor.submit(render, *args, **kwargs)
    future.add_done_callback(partial(_deliver, bridge, job))
