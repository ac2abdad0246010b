"""Take the README screenshots of the main window, light and dark.

Run under a real X server, e.g.::

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/take_screenshots.py

It opens the real window on the embedded stub (fast pace, in-memory history,
nothing written to your config), chats a little, and saves
``main-light.png`` and ``main-dark.png`` next to this file.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROMPTS = [
    ("Say hello", "hi"),
    ("Show me some Python code", "Write a python function that joins streamed tokens"),
    ("Plan a weekend in Lisbon", "Plan a weekend in Lisbon"),
    ("Laptops or tablets?", "Compare laptops and tablets in a table"),
]


async def main() -> int:
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
    stub = await asyncio.to_thread(start_stub, tokens_per_second=150.0, first_token_delay=0.25)
    services = AppServices(
        history=HistoryStore.in_memory(),
        profiles=[OFFLINE_DEMO_PROFILE, *TEMPLATES.values()],
        settings=Settings(),
        stub_factory=lambda: stub,
        secrets_override=MemorySecretStore(),
        read_only=True,
    )
    window = MainWindow(services, TaskRegistry())
    window.resize(1180, 760)
    window.show()
    window.start()
    try:
        for title, prompt in PROMPTS:
            window.new_chat()
            done = asyncio.get_running_loop().create_future()
            window.chat.answerFinished.connect(lambda *a, d=done: d.done() or d.set_result(a))
            window.composer.set_text(prompt)
            window.composer.submit()
            await asyncio.wait_for(done, 30)
            window.chat.rename(window.chat.current_id, title)
        window.composer.set_text("Which one lasts longer on battery?")
        await asyncio.sleep(0.5)
        for mode, name in ((ThemeMode.LIGHT, "main-light.png"), (ThemeMode.DARK, "main-dark.png")):
            window.set_theme_mode(mode)
            await asyncio.sleep(0.4)
            window.chat_view.jump_to_latest()
            await asyncio.sleep(0.2)
            window.grab().save(str(HERE / name))
            print("saved", HERE / name)
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
