"""Starting and stopping the GUI: one QApplication, the qasync loop, a clean shutdown.

``run(self_test, qt_args)`` is what ``streamdesk`` (no subcommand) calls. It
creates the QApplication (name, organisation, desktop file, icon), runs
``main()`` on ``asyncio.Runner(loop_factory=qasync.QEventLoop)`` (3.11 has no
``asyncio.run(loop_factory=...)``), installs the async-generator hooks qasync
0.28 forgets (without them, a stream left mid-iteration is finalised by the
garbage collector with warnings), and waits for the window to ask to close.

Shutdown order matters: the window stops every stream (each saves its text
as interrupted), closes the HTTP clients, stops the embedded stub and closes
the history, and only then does the loop end; the Runner then cancels any
leftovers. Qt must not quit on its own under a pending coroutine
("Event loop stopped before Future completed"), so ``quitOnLastWindowClosed``
is off and closing goes through ``MainWindow.shutdown``.

It must not contain window logic (``main_window``) or test logic (``self_test``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

APP_ID = "io.streamdesk.Streamdesk"

log = logging.getLogger(__name__)


def needs_offscreen(environ: dict[str, str] | None = None) -> bool:
    """True on Linux/BSD with no display server to talk to."""
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin"):
        return False
    if env.get("QT_QPA_PLATFORM"):
        return False
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def create_application(qt_args: Sequence[str] = ()) -> object:
    """The one QApplication, named so settings, the desktop entry and the taskbar agree."""
    from PySide6.QtWidgets import QApplication

    from desktop_app import __version__

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["streamdesk", *qt_args])
    app.setApplicationName("Streamdesk")
    app.setApplicationDisplayName("Streamdesk")
    app.setOrganizationName("Streamdesk")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    from desktop_app.qt.theme import app_icon

    app.setWindowIcon(app_icon())
    return app


def install_asyncgen_hooks(loop: asyncio.AbstractEventLoop) -> None:
    """qasync 0.28 does not install the loop's hooks; asyncio's own loops do."""
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
        finalizer=loop._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
    )


def run(*, self_test: bool = False, qt_args: list[str] | None = None) -> int:
    """Open the window (or run the self-test) and return the process exit code."""
    args = list(qt_args or [])
    if self_test and needs_offscreen():
        # Must be set before the QApplication exists.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from desktop_app.qt.platform_check import window_problem

    problem = window_problem()
    if problem is not None:  # Qt would abort with a message that misleads
        print(problem, file=sys.stderr)
        return 1
    app = create_application(args)
    _quiet_offscreen_noise()
    from desktop_app.qt.gc_guard import GuiThreadCollector

    collector = GuiThreadCollector()
    try:
        return _run_loop(app, self_test=self_test)
    finally:
        collector.stop()


def _run_loop(app: object, *, self_test: bool) -> int:
    import qasync

    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        if self_test:
            from desktop_app.qt.self_test import run_self_test

            return runner.run(run_self_test(app))
        try:
            return runner.run(main(app))
        except RuntimeError as exc:
            # Qt quit under us (the desktop session ended): answers were saved
            # on aboutToQuit; the next start shows them as interrupted.
            if "stopped before Future completed" not in str(exc):
                raise
            log.info("the application quit before the window closed")
            return 0


async def main(app: object) -> int:
    """The GUI's life: show the window, wait for it to ask to close, shut down cleanly."""
    from desktop_app.qt.main_window import MainWindow
    from desktop_app.qt.services import AppServices
    from desktop_app.qt.tasks import TaskRegistry

    loop = asyncio.get_running_loop()
    install_asyncgen_hooks(loop)
    services = AppServices.open()
    tasks = TaskRegistry()
    window = MainWindow(services, tasks)
    closing = asyncio.Event()
    window.closeRequested.connect(closing.set)
    # The session is ending (logout): Qt stops its loop right after this signal,
    # so save every streaming answer now, synchronously; the rest is best effort.
    app.aboutToQuit.connect(window.chat.save_all)  # type: ignore[attr-defined]
    app.aboutToQuit.connect(closing.set)  # type: ignore[attr-defined]
    _stop_on_signals(loop, window)
    if os.environ.get("STREAMDESK_EXIT_ON_FIRST_PAINT") or os.environ.get(
        "STREAMDESK_EXIT_AFTER_IDLE"
    ):  # benchmarks/bench_startup.py: report the first paint (and memory at rest), exit
        from desktop_app.qt.startup_probe import StartupProbe

        StartupProbe(window)
    window.show()
    window.start()
    try:
        await closing.wait()
    finally:
        await window.shutdown()
        await dispose(window)
        await stop_render_worker()
    return 0


async def dispose(obj: object, limit: float = 2.0) -> None:
    """Delete a Qt object now, on the GUI thread (bounded wait).

    Left to Python's garbage collector, a window held in a reference cycle
    (a lambda connected to one of its signals) may be freed on whatever
    thread happens to run the collection, and Qt's timers must be stopped on
    their own thread.
    """
    gone = asyncio.Event()
    obj.destroyed.connect(gone.set)  # type: ignore[attr-defined]
    obj.deleteLater()  # type: ignore[attr-defined]
    # The deferred delete runs when control returns to Qt's event loop.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gone.wait(), limit)


async def stop_render_worker() -> None:
    """Join the Markdown worker thread (big blocks render there) so none is left behind."""
    from desktop_app.qt.markdown_body import shutdown_render_worker

    await asyncio.to_thread(shutdown_render_worker)


def _stop_on_signals(loop: asyncio.AbstractEventLoop, window: object) -> None:
    """Ctrl+C in a terminal or a TERM from the session closes the window the normal way."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows, or not the main thread: Qt's own handling applies.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, window.close)  # type: ignore[attr-defined]


def _quiet_offscreen_noise() -> None:
    """Drop the one warning the offscreen platform prints on every window shown."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.platformName() != "offscreen":
        return
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        if "does not support propagateSizeHints" in message:
            return
        if kind != QtMsgType.QtDebugMsg:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)
