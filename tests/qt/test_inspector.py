"""The stream inspector dock: the frame table (checked by Qt's model tester while it
grows, rotates and resets), the event-type filter, live following of a real stream,
copying, saving a recording, the request section's masking, and the chart."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from desktop_app.core.events import TurnEnded, TurnState
from desktop_app.core.inspector_model import COMMENT, InspectorModel
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.recording import load_recording
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from desktop_app.qt.inspector import StreamInspector, http_text
from desktop_app.qt.inspector_chart import TimelineChart, describe
from desktop_app.qt.inspector_frames import (
    COL_RAW,
    COL_TYPE,
    COL_TYPED,
    FRAME_ROLE,
    FrameTableModel,
)
from tests.core.byte_server import OPENAI_DONE, ByteServer, Pause, Reply, openai_delta, sse
from tests.qt.conftest import wait_until

KEY = "sk-qt-inspector-0123456789"


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """Free what a test left in reference cycles now, on this thread.

    An async test's qasync loop (whose timers are QObjects) can end up in a
    cycle; left to the collector, a later test's stub thread may free it and
    Qt warns "Timers cannot be stopped from another thread" in that test.
    """
    yield
    gc.collect()


class FakeClock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def started(clock: FakeClock, **kwargs: object) -> InspectorModel:
    model = InspectorModel(provider=get_provider("openai"), secret=KEY, clock=clock, **kwargs)  # type: ignore[arg-type]
    model.on_request(
        "POST",
        "http://127.0.0.1:1/v1/chat/completions",
        {"Authorization": f"Bearer {KEY}", "Accept": "text/event-stream"},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    model.on_response(200, {"content-type": "text/event-stream"})
    return model


def feed(clock: FakeClock, model: InspectorModel, *chunks: str, step: float = 0.05) -> None:
    for chunk in chunks:
        clock.now += step
        model.on_chunk(chunk.encode(), clock.now)


# ---------------------------------------------------------------- the table model


def test_the_frame_table_passes_the_model_tester_as_it_grows_and_rotates(
    qtmodeltester: ModelTester,
) -> None:
    clock = FakeClock()
    model = started(clock, max_frames=6)
    table = FrameTableModel()
    table.set_source(model)
    qtmodeltester.check(table)  # stays attached: every later change is checked too
    feed(clock, model, openai_delta("a"), ": ping\n\n")
    table.refresh()
    assert table.rowCount() == 2
    feed(clock, model, openai_delta("b"))
    table.refresh()
    assert [table.frame(r).index for r in range(table.rowCount())] == [0, 1, 2]  # type: ignore[union-attr]
    for n in range(6):  # past max_frames: the latest half rotates
        feed(clock, model, openai_delta(f"t{n}"))
        table.refresh()
        assert [table.frame(r).index for r in range(table.rowCount())] == [  # type: ignore[union-attr]
            f.index for f in model.frames
        ]
    feed(clock, model, *(openai_delta(f"u{n}") for n in range(5)))
    table.refresh()  # several rotated at once
    assert [table.frame(r).index for r in range(table.rowCount())] == [
        f.index for f in model.frames
    ]  # type: ignore[union-attr]
    assert table.rowCount() == 6
    table.set_source(None)
    assert table.rowCount() == 0
    index = table.index(0, 0)
    assert not index.isValid()


def test_cells_say_what_each_frame_was_and_became() -> None:
    clock = FakeClock()
    model = started(clock)
    feed(clock, model, ": hi\n\n", openai_delta(f"key {KEY}"), "event: ping\ndata: {}\n\n")
    table = FrameTableModel()
    table.set_source(model)
    assert [table.index(r, COL_TYPE).data() for r in range(3)] == [COMMENT, "message", "ping"]
    assert table.index(1, COL_TYPED).data() == 'text "key ***"'
    assert table.index(0, COL_TYPED).data() == "keep-alive"
    assert table.index(1, 1).data() == "0.100"
    raw_tip = table.index(1, COL_RAW).data(Qt.ItemDataRole.ToolTipRole)
    assert raw_tip.startswith("data: ")
    assert KEY not in raw_tip  # the raw frame is masked on screen too
    assert table.index(2, 0).data(FRAME_ROLE).keepalive
    assert table.headerData(COL_TYPE, Qt.Orientation.Horizontal) == "Type"


# ---------------------------------------------------------------- the dock


def test_the_filter_shows_one_event_type_or_what_frames_became(qtbot: QtBot) -> None:
    clock = FakeClock()
    model = started(clock)
    feed(
        clock, model, openai_delta("a"), "event: ping\ndata: {}\n\n", openai_delta("b"), OPENAI_DONE
    )
    dock = StreamInspector()
    qtbot.addWidget(dock)
    dock.show_model(model)
    items = [dock.type_filter.itemText(i) for i in range(dock.type_filter.count())]
    assert items == [
        "All frames",
        "event: message",
        "event: ping",
        "became: text",
        "became: keep-alive",
        "became: end of stream",
    ]

    def choose(label: str) -> int:
        dock.type_filter.setCurrentIndex(items.index(label))
        return int(dock.table.model().rowCount())

    assert choose("event: ping") == 1
    assert dock.count_label.text() == "1 of 4 frames"
    # Every OpenAI frame is a "message": only what it became tells text from the end.
    assert choose("event: message") == 3
    assert choose("became: text") == 2
    assert choose("became: end of stream") == 1
    assert dock.table.model().index(0, COL_TYPED).data().startswith("end of stream")
    assert choose("All frames") == 4
    assert dock.count_label.text() == "4 frames"


def test_copy_frame_copy_stream_and_save_a_recording(qtbot: QtBot, tmp_path: Path) -> None:
    clock = FakeClock()
    model = started(clock)
    feed(clock, model, openai_delta("Hi"), OPENAI_DONE)
    clock.now += 0.1
    model.on_end(TurnState.COMPLETE)
    dock = StreamInspector()
    qtbot.addWidget(dock)
    dock.show_model(model)
    assert not dock.copy_frame_button.isEnabled()
    dock.select_row(1)
    assert dock.copy_frame_button.isEnabled()
    assert dock.detail.toPlainText().startswith("data: [DONE]\n\n→ end of stream")
    dock.copy_frame()
    assert QGuiApplication.clipboard().text() == "data: [DONE]\n\n"
    dock.copy_stream()
    assert QGuiApplication.clipboard().text() == openai_delta("Hi") + OPENAI_DONE
    file = tmp_path / "saved.jsonl"
    with qtbot.waitSignal(dock.recordingSaved) as saved:
        assert dock.save_recording(str(file))
    assert saved.args == [str(file)]
    recording = load_recording(file)
    assert recording.body() == (openai_delta("Hi") + OPENAI_DONE).encode()
    assert KEY not in file.read_text()
    with qtbot.waitSignal(dock.problemReported) as problem:
        assert not dock.save_recording(str(tmp_path / "missing" / "x.jsonl"))
    assert "could not be saved" in problem.args[0]


def test_the_request_section_shows_masked_headers_body_and_response() -> None:
    clock = FakeClock()
    model = started(clock)
    text = http_text(model.exchanges)
    assert "POST http://127.0.0.1:1/v1/chat/completions" in text
    assert "Authorization: Bearer ***" in text
    assert KEY not in text
    assert '"content": "hi"' in text
    assert "Response: HTTP 200 at" in text
    assert "content-type: text/event-stream" in text


def test_an_empty_dock_and_notes_for_what_was_not_kept(qtbot: QtBot) -> None:
    dock = StreamInspector()
    qtbot.addWidget(dock)
    assert "Select an answer" in dock.summary.text()
    assert not dock.save_button.isEnabled()
    clock = FakeClock()
    model = started(clock, max_frames=4, max_bytes=100)
    feed(clock, model, *(openai_delta(str(n)) for n in range(8)))
    dock.show_model(model)
    assert not dock.note.isHidden()
    assert "4 frames in the middle are not kept" in dock.note.text()
    assert "bytes left out" in dock.note.text()
    assert "Streaming…" in dock.summary.text()
    dock.show_model(None)
    assert model.listener is None  # the dock let go of the model it no longer shows


@pytest.mark.asyncio
async def test_the_dock_follows_a_live_stream_and_keeps_it_when_it_ends(qtbot: QtBot) -> None:
    body = [
        *sse(openai_delta("One ")),
        Pause(0.3),
        *sse(": keep-alive\n\n", openai_delta("two"), OPENAI_DONE),
    ]
    dock = StreamInspector()
    qtbot.addWidget(dock)
    model = InspectorModel(provider=get_provider("openai"), secret=KEY, stall_threshold=0.2)
    dock.show_model(model)
    dock.show()
    request = ChatRequest((ChatMessage("user", "hi"),), "m")
    async with ByteServer(Reply(body=body)) as server:
        endpoint = Endpoint(server.url("/v1"), api_key=KEY)
        async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
            turn = stream_turn(
                client, get_provider("openai"), request, endpoint, TurnSettings(), model
            )
            async for event in turn:
                if isinstance(event, TurnEnded):
                    model.finish(event)
                    break
                if model.frame_count == 1:  # mid-stream: the dock catches up on its own
                    await wait_until(lambda: dock.table.model().rowCount() == 1, timeout=2)
                    assert dock._live_timer.isActive()
                    assert "Streaming…" in dock.summary.text()
            await turn.aclose()
    await wait_until(lambda: dock.table.model().rowCount() == 4, timeout=2)
    await wait_until(lambda: "Complete" in dock.summary.text(), timeout=2)
    assert not dock._live_timer.isActive()
    assert "1 stall" in dock.summary.text()
    assert "1 keep-alive" in dock.summary.text()
    assert "Authorization: Bearer ***" in dock.http_text.toPlainText()
    assert dock.chart.timeline is not None
    assert dock.chart.timeline.end_state is TurnState.COMPLETE
    image = dock.grab().toImage()
    assert not image.isNull()


# ---------------------------------------------------------------- the chart


def test_the_chart_paints_every_state_and_says_it_in_words(qtbot: QtBot) -> None:
    chart = TimelineChart()
    qtbot.addWidget(chart)
    chart.resize(500, 170)
    chart.set_timeline(None)
    assert not chart.grab().isNull()
    assert chart.accessibleDescription() == "No stream yet."
    clock = FakeClock()
    model = started(clock, stall_threshold=0.5)
    feed(clock, model, openai_delta("a"), ": k\n\n", openai_delta("b"))
    feed(clock, model, openai_delta("c"), step=1.0)
    model.on_reconnect("http://h/s", "41")
    live = model.timeline()
    chart.set_timeline(live, now=5.0)  # a silence going on
    assert not chart.grab().isNull()
    clock.now += 1
    model.on_end(TurnState.FAILED)
    chart.set_timeline(model.timeline())
    assert not chart.grab().isNull()
    words = describe(model.timeline())
    assert words.startswith("3 tokens, first token at")
    assert "longest gap 1 s, 2 stalls, 1 keep-alive, 1 reconnect." in words
    assert words.endswith("Failed.")


# ---------------------------------------------------------------- wiring into the window


def test_the_dock_installs_hidden_with_a_view_menu_toggle(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QMainWindow

    from desktop_app.qt.inspector import add_inspector_dock

    window = QMainWindow()
    qtbot.addWidget(window)
    view = window.menuBar().addMenu("&View")
    dock = add_inspector_dock(window, view)
    window.show()
    assert dock.isHidden()
    toggle = next(a for a in view.actions() if a.objectName() == "action_stream_inspector")
    assert toggle.shortcut().toString() == "Ctrl+Shift+I"
    toggle.trigger()
    assert dock.isVisible()
    toggle.trigger()
    assert dock.isHidden()


@pytest.mark.asyncio
async def test_the_offline_stub_answers_the_next_prompt_with_a_chosen_recording(
    tmp_path: Path,
) -> None:
    from desktop_app.core.errors import ConfigError
    from desktop_app.core.recording import InvalidRecording
    from desktop_app.qt.offline_answers import (
        recording_answer,
        scenario_answer,
        scenario_choices,
    )
    from server_stub.embedded import start_stub

    assert scenario_answer("rate_limited").headers == {"X-Stub-Scenario": "http_429_retry_after"}
    assert "split_utf8" in dict(scenario_choices())
    with pytest.raises(ConfigError, match="no scenario called"):
        scenario_answer("nonsense")
    recorded = InspectorModel(provider=get_provider("anthropic"))
    recorded.on_request("POST", "http://real.example/v1/messages", {}, {"model": "claude"})
    recorded.on_response(200, {"content-type": "text/event-stream"})
    recorded.on_chunk(
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"From the recording"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        recorded.recorder.time_of(None) + 0.01,
    )
    recorded.on_end(TurnState.COMPLETE)
    file = tmp_path / "chosen.jsonl"
    recorded.recording().save(file)
    stub = await asyncio.to_thread(start_stub)
    try:
        answer = recording_answer(stub.app, stub.url, file, speed=0)
        assert answer.provider == "anthropic"
        assert answer.base_url == stub.url + "/v1"
        endpoint = Endpoint(answer.base_url, extra_headers=dict(answer.headers))
        request = ChatRequest((ChatMessage("user", "anything"),), "demo", max_tokens=10)
        async with StreamingClient(trust_env=False) as client, asyncio.timeout(10):
            events = [
                e async for e in stream_turn(client, get_provider("anthropic"), request, endpoint)
            ]
        end = events[-1]
        assert isinstance(end, TurnEnded)
        assert end.text == "From the recording"
        with pytest.raises(InvalidRecording):
            recording_answer(stub.app, stub.url, tmp_path / "missing.jsonl")
    finally:
        await asyncio.to_thread(stub.stop)
