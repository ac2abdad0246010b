"""Render the stream inspector with real recorded streams, for the docs (offscreen).

    QT_QPA_PLATFORM=offscreen python docs/screenshots/render_inspector.py

Streams two answers from the bundled stub through the real core (a stall
with keep-alives, in the OpenAI format; a dropped generic stream resumed
with Last-Event-ID), feeds them to the inspector and saves
``docs/screenshots/inspector.png`` and ``inspector-resume.png``. The
recordings are written next to them too, so the pictures can be checked
against the bytes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from desktop_app.core.events import TurnEnded
from desktop_app.core.inspector_model import InspectorModel
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from desktop_app.qt.inspector import StreamInspector
from server_stub.embedded import start_stub

HERE = Path(__file__).resolve().parent


async def record(url: str, provider: str, scenario: str, headers: dict[str, str]) -> InspectorModel:
    model = InspectorModel(provider=get_provider(provider), stall_threshold=1.0)
    request = ChatRequest((ChatMessage("user", "Hello"),), "demo")
    endpoint = Endpoint(url, extra_headers={"X-Stub-Scenario": scenario, **headers})
    settings = TurnSettings(initial_reconnect_delay=0.3)
    async with StreamingClient(trust_env=False) as client:
        async for event in stream_turn(
            client, get_provider(provider), request, endpoint, settings, model
        ):
            if isinstance(event, TurnEnded):
                model.finish(event)
    return model


def shoot(app: QApplication, model: InspectorModel, name: str, connection: int, nth: int) -> None:
    """Save the inspector showing ``model``, the ``nth`` frame of ``connection`` selected."""
    dock = StreamInspector()
    dock.show_model(model)
    dock.resize(980, 860)
    dock.show()
    rows = [i for i, f in enumerate(model.frames) if f.connection == connection]
    dock.select_row(rows[min(nth, len(rows) - 1)])
    app.processEvents()
    dock.grab().save(str(HERE / name))
    model.recording().save(HERE / name.replace(".png", ".jsonl"))
    dock.close()


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    with start_stub(tokens_per_second=20, first_token_delay=0.4) as stub:
        stalled = asyncio.run(
            record(
                stub.url + "/v1",
                "openai",
                "stall_mid_stream",
                {"X-Stub-Stall-Seconds": "2.2", "X-Stub-Keepalive-Interval": "0.5"},
            )
        )
        resumed = asyncio.run(record(stub.url + "/api/chat", "generic", "drop_then_resume", {}))
    shoot(app, stalled, "inspector.png", 1, 3)
    shoot(app, resumed, "inspector-resume.png", 2, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
