"""The one worker thread that renders big Markdown blocks off the GUI thread.

Owns the executor (created lazily, one thread: renders are queued, not run in
parallel, so the GIL is shared with the GUI thread as little as possible),
the queued-signal bridge that brings results back to the GUI thread, the
lexer warm-up at start, and the shutdown the app calls at exit.

Must not: touch widgets from the worker (results go through the bridge's
queued signal; the receiver decides whether they still apply).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from desktop_app.qt.markdown import RenderedBlock, warm_up

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _render_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="markdown")
        return _executor


def shutdown_render_worker(*, wait: bool = True) -> None:
    """Stop the worker thread (at exit): queued renders are dropped, a running
    one finishes. Safe to call twice; a later render starts a new worker."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait, cancel_futures=True)


_warmed = False


def warm_up_in_background() -> None:
    """Compile the parser and common lexers on the worker thread, once per process."""
    global _warmed
    if not _warmed:
        _warmed = True
        _render_executor().submit(warm_up)


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
    bridge: RenderBridge, job: int, render: Callable[..., RenderedBlock], *args: Any, **kwargs: Any
) -> None:
    """Run ``render(*args, **kwargs)`` on the worker; ``bridge.rendered(job, result)`` follows."""
    future = _render_executor().submit(render, *args, **kwargs)
    future.add_done_callback(partial(_deliver, bridge, job))
