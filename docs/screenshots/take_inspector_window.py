"""Take the screenshot of the stream inspector docked in the main window.

Run under a real X server, e.g.::

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/take_inspector_window.py

It opens the real window on the embedded stub (in-memory history, nothing
written to your config) at a slow pace with keep-alives, opens View → Stream
inspector, asks a question, selects a frame of the answer, arms Chat → Next
answer with a stub scenario (shown in the status bar) and saves
``window-inspector.png`` next to this file.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROMPT = "Write a python function that joins streamed tokens"


async def main() -> int:
    from PySide6.QtCore import Qt

    from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, TEMPLATES, Settings
    from desktop_app.core.secrets import MemorySecretStore
    from desktop_app.core.storage import HistoryStore
    from desktop_app.qt.app import install_asyncgen_hooks, stop_render_worker
    from desktop_app.qt.main_window import MainWindow
    from desktop_app.qt.services import AppServices
    from desktop_app.qt.tasks import TaskRegistry
    from desktop_app.qt.theme import ThemeMode
    from server_stub.embedded import start_stub

    install_asyncgen_hooks(asyncio.get_running_loop())
    # Keep-alives every 0.3 s and a slow start, so the timeline has something to show.
    stub = await asyncio.to_thread(
        start_stub, tokens_per_second=60.0, first_token_delay=0.6, keepalive_interval=0.3
    )
    services = AppServices(
        history=HistoryStore.in_memory(),
        profiles=[OFFLINE_DEMO_PROFILE, *TEMPLATES.values()],
        settings=Settings(),
        stub_factory=lambda: stub,
        secrets_override=MemorySecretStore(),
        read_only=True,
    )
    window = MainWindow(services, TaskRegistry())
    window.resize(1280, 800)
    window.show()
    window.start()
    try:
        window.set_theme_mode(ThemeMode.LIGHT)
        window.inspector.toggleViewAction().trigger()
        window.resizeDocks([window.inspector], [560], Qt.Orientation.Horizontal)
        done = asyncio.get_running_loop().create_future()
        window.chat.answerFinished.connect(lambda *a: done.done() or done.set_result(a))
        window.composer.set_text(PROMPT)
        window.composer.submit()
        await asyncio.wait_for(done, 60)
        window.chat.rename(window.chat.current_id, "Joining streamed tokens")
        await asyncio.sleep(0.6)
        window.inspector.select_row(3)
        window.next_answer.choose_scenario("slow_first_token")
        window.chat_view.jump_to_latest()
        await asyncio.sleep(0.4)
        path = HERE / "window-inspector.png"
        window.grab().save(str(path))
        print("saved", path)
    finally:
        await window.shutdown()
        await asyncio.to_thread(stub.stop)
        await stop_render_worker()
    return 0


if __name__ == "__main__":
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = tempfile.mkdtemp(prefix="streamdesk-shots-")
    sys.path.insert(0, str(HERE.parents[1]))
    import qasync

    from desktop_app.qt.app import create_application

    app = create_application([])
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        sys.exit(runner.run(main()))
