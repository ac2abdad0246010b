"""Start the real app (``app.run``) on the offline demo, chat once, close: clean and complete.

Runs in a subprocess so the whole life is covered: QApplication, the
qasync Runner, the lazily started embedded stub, one answer saved to the
history file, Ctrl+Q-style close, shutdown. Warnings are errors (-W error),
anything printed to stderr fails the test, and no thread may be left over.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.qt.app import APP_ID

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading
    from desktop_app.qt import app as app_module
    from desktop_app.qt.main_window import MainWindow

    original_start = MainWindow.start
    result = {}

    def start(self):
        original_start(self)
        result["title"] = self.windowTitle()
        result["profile"] = self.profile_bar.current_profile()
        self.tasks.spawn(chat_then_close(self), name="script")

    async def chat_then_close(window):
        done = asyncio.get_running_loop().create_future()
        window.chat.answerFinished.connect(
            lambda c, m, s: done.done() or done.set_result(s))
        window.composer.set_text("hi")  # the stub's short greeting: quick at demo pace
        window.composer.submit()
        result["status"] = await asyncio.wait_for(done, 30)
        result["stub"] = window.services.stub_url
        window.commands["quit"].trigger()

    MainWindow.start = start
    code = app_module.run(self_test=False, qt_args=[])
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    print("code", code)
    print("status", result.get("status"))
    print("profile", result.get("profile"))
    print("title", result.get("title"))
    print("stub", result.get("stub"))
    print("desktop", app.desktopFileName())
    # Threads still running (the stub, keychain calls, executors, the Markdown
    # worker): every OS thread but the main one and Qt's own idle pool workers (they
    # expire by themselves). A joined thread may take a moment to leave the
    # OS's list, so look again for up to a second.
    import os, time
    from pathlib import Path

    def leftovers():
        main = threading.main_thread()
        out = []
        for tid in os.listdir("/proc/self/task"):
            if int(tid) == os.getpid():
                continue
            try:
                name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
            except OSError:
                continue  # it just ended
            if name != "Thread (pooled)":
                out.append(name)
        return sorted(out)

    deadline = time.monotonic() + 1.0
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.02)
    print("osthreads", leftovers())
    """
)


def test_startup_chat_and_shutdown_on_the_embedded_stub(isolated_dirs: Path) -> None:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["code"] == "0"
    assert lines["status"] == "complete"  # the first launch chats with no network, no key
    assert lines["profile"] == "Offline demo"
    assert lines["title"] == "Streamdesk — offline demo"
    assert lines["stub"].startswith("http://127.0.0.1:")
    assert lines["desktop"] == APP_ID
    assert lines["osthreads"] == "[]"

    # The answer is in the history file, complete; window state was saved.
    from desktop_app.core.storage import HistoryStore, MessageStatus

    data = isolated_dirs / "data" / "Streamdesk" / "history.sqlite3"
    with HistoryStore.open(data) as store:
        (conversation,) = store.list_conversations()
        messages = store.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].status is MessageStatus.COMPLETE
    assert messages[1].text
    assert (isolated_dirs / "state" / "Streamdesk" / "window.ini").is_file()


@pytest.mark.asyncio
async def test_garbage_is_collected_on_the_gui_thread_only() -> None:
    import gc

    from desktop_app.qt.gc_guard import GuiThreadCollector

    collector = GuiThreadCollector()
    try:
        assert not gc.isenabled()  # no collection on the stub's or a worker's thread
        first = gc.get_threshold()[0]
        garbage = []
        for _ in range(first + 10):
            cycle: list[object] = []
            cycle.append(cycle)
            garbage.append(cycle)
        garbage.clear()
        assert gc.get_count()[0] > first
        collector.check()
        assert gc.get_count()[0] < first
    finally:
        collector.stop()
        collector.deleteLater()
    assert gc.isenabled()
