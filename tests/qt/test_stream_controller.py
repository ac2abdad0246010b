"""StreamController: forwards deltas, keeps status, saves as it goes, stops in any phase.

These tests drive the controller with scripted event sources (no network);
tests/qt/test_main_window.py runs the same paths against the real stub.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from desktop_app.core.errors import AuthFailed, Interrupted
from desktop_app.core.events import (
    Retrying,
    StateChanged,
    StreamEvent,
    TextDelta,
    TurnEnded,
    TurnMetrics,
    TurnState,
    Usage,
)
from desktop_app.qt import stream_controller as sc
from desktop_app.qt.answer_words import metrics_line
from desktop_app.qt.stream_controller import StreamController
from desktop_app.qt.tasks import TaskRegistry
from tests.qt.conftest import wait_signal

TIMEOUT = 5.0


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def begin_stream(self, message_id: str) -> None:
        self.calls.append(("begin", message_id, ""))

    def append_text(self, message_id: str, text: str) -> None:
        self.calls.append(("text", message_id, text))

    def append_reasoning(self, message_id: str, text: str) -> None:
        self.calls.append(("reasoning", message_id, text))

    def set_status_line(self, message_id: str, text: str) -> None:
        self.calls.append(("status", message_id, text))

    def text(self) -> str:
        return "".join(t for kind, _, t in self.calls if kind == "text")

    def statuses(self) -> list[str]:
        return [t for kind, _, t in self.calls if kind == "status"]


class Recorder:
    def __init__(self) -> None:
        self.checkpoints: list[str] = []
        self.finished: list[TurnEnded] = []
        self.wrote = asyncio.Event()

    def checkpoint(self, text: str, reasoning: str) -> None:
        self.checkpoints.append(text)
        self.wrote.set()

    def finish(self, ended: TurnEnded) -> None:
        self.finished.append(ended)


class Script:
    """An event source that yields the given events, then (optionally) hangs."""

    def __init__(self, events: list[StreamEvent | float], *, hang: bool = False) -> None:
        self.events = events
        self.hang = hang
        self.closed = False
        self.reached_hang = asyncio.Event()

    def __call__(self) -> AsyncIterator[StreamEvent]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[StreamEvent]:
        try:
            for event in self.events:
                if isinstance(event, float):
                    await asyncio.sleep(event)
                else:
                    yield event
            if self.hang:
                self.reached_hang.set()
                await asyncio.Event().wait()
        finally:
            self.closed = True


def _ended(state: TurnState, text: str, error: BaseException | None = None) -> TurnEnded:
    metrics = TurnMetrics(
        time_to_first_token=0.1,
        total_time=0.5,
        output_tokens=3,
        outcome=state,
        finish_reason="stop" if state is TurnState.COMPLETE else None,
    )
    return TurnEnded(state=state, text=text, metrics=metrics, error=error)


_made: list[StreamController] = []


@pytest.fixture(autouse=True)
def _delete_controllers() -> Iterator[None]:
    """Free each test's controllers (and their timers) here, on the GUI thread."""
    yield
    import gc

    import shiboken6

    while _made:
        controller = _made.pop()
        if shiboken6.isValid(controller):
            shiboken6.delete(controller)
    gc.collect()


def _controller(
    source: Script, *, base_text: str = "", sink: Sink | None = None
) -> tuple[StreamController, Recorder, TaskRegistry]:
    recorder = Recorder()
    tasks = TaskRegistry()
    controller = StreamController(
        conversation_id="1",
        message_id="7",
        source=source,
        recorder=recorder,
        tasks=tasks,
        base_text=base_text,
    )
    _made.append(controller)
    controller.attach(sink)
    return controller, recorder, tasks


@pytest.mark.asyncio
async def test_a_complete_answer_is_forwarded_saved_and_described() -> None:
    script = Script(
        [
            StateChanged(TurnState.CONNECTING),
            StateChanged(TurnState.WAITING),
            TextDelta("Hel"),
            StateChanged(TurnState.STREAMING),
            TextDelta("lo"),
            Usage(output_tokens=2),
            _ended(TurnState.COMPLETE, "Hello"),
        ]
    )
    sink = Sink()
    controller, recorder, _ = _controller(script, sink=sink)
    started: list[bool] = []
    controller.streamStarted.connect(lambda: started.append(True))
    controller.start()
    (state,) = await wait_signal(controller.streamFinished)

    assert state == "complete"
    assert started == [True]
    assert sink.calls[0] == ("begin", "7", "")
    assert sink.text() == "Hello"
    assert sink.statuses()[0] == "Connecting"
    assert "Waiting for the first token" in sink.statuses()
    assert sink.statuses()[-1] == ""  # the status line clears once text flows
    assert [e.text for e in recorder.finished] == ["Hello"]
    assert recorder.finished[0].state is TurnState.COMPLETE
    outcome = controller.outcome
    assert outcome is not None
    assert outcome.status == "complete"
    assert outcome.error_sentence == ""
    assert outcome.metrics_line.endswith("complete")
    await asyncio.wait_for(controller.wait(), TIMEOUT)
    assert script.closed


@pytest.mark.asyncio
@pytest.mark.parametrize("phase", ["connecting", "waiting", "streaming"])
async def test_stop_in_every_phase_keeps_the_partial_text(phase: str) -> None:
    events: list[StreamEvent | float] = [StateChanged(TurnState.CONNECTING)]
    if phase != "connecting":
        events.append(StateChanged(TurnState.WAITING))
    if phase == "streaming":
        events += [TextDelta("partial "), StateChanged(TurnState.STREAMING), TextDelta("answer")]
    script = Script(events, hang=True)
    sink = Sink()
    controller, recorder, tasks = _controller(script, sink=sink)
    controller.start()
    await asyncio.wait_for(script.reached_hang.wait(), TIMEOUT)

    assert controller.stop()
    assert not controller.stop()  # one stop, one cancel
    (state,) = await wait_signal(controller.streamFinished)
    await asyncio.wait_for(controller.wait(), TIMEOUT)

    assert state == "cancelled"
    assert script.closed  # leaving the source closes the connection
    assert not controller.running
    assert len(tasks) == 0
    expected = "partial answer" if phase == "streaming" else ""
    assert [e.text for e in recorder.finished] == [expected]
    assert recorder.finished[0].state is TurnState.CANCELLED
    assert controller.outcome is not None
    assert controller.outcome.metrics_line.endswith("stopped by you")


@pytest.mark.asyncio
async def test_closing_the_app_saves_the_answer_as_interrupted() -> None:
    script = Script([TextDelta("so far")], hang=True)
    controller, recorder, _ = _controller(script)
    controller.start()
    await asyncio.wait_for(script.reached_hang.wait(), TIMEOUT)
    controller.stop(closing=True)
    (state,) = await wait_signal(controller.streamFinished)
    assert state == "interrupted"
    assert recorder.finished[0].text == "so far"
    assert isinstance(recorder.finished[0].error, Interrupted)


@pytest.mark.asyncio
async def test_continue_appends_to_the_partial_answer() -> None:
    script = Script([TextDelta(" and the rest."), _ended(TurnState.COMPLETE, " and the rest.")])
    sink = Sink()
    controller, recorder, _ = _controller(script, base_text="The start", sink=sink)
    controller.start()
    await wait_signal(controller.streamFinished)
    assert sink.text() == " and the rest."  # the view already shows the start
    assert controller.text == "The start and the rest."
    assert recorder.finished[0].text == "The start and the rest."


@pytest.mark.asyncio
async def test_an_error_keeps_the_text_and_gets_words() -> None:
    error = AuthFailed("The server refused the API key (HTTP 401).", status=401)
    script = Script([TextDelta("half"), _ended(TurnState.FAILED, "half", error)])
    controller, recorder, _ = _controller(script)
    controller.start()
    (state,) = await wait_signal(controller.streamFinished)
    assert state == "error"
    assert recorder.finished[0].text == "half"
    outcome = controller.outcome
    assert outcome is not None
    assert "refused the API key" in outcome.error_sentence
    assert "API key" in outcome.error_hint


@pytest.mark.asyncio
async def test_a_source_that_ends_without_turn_ended_still_ends_the_turn() -> None:
    script = Script([TextDelta("cut")])
    controller, recorder, _ = _controller(script)
    controller.start()
    (state,) = await wait_signal(controller.streamFinished)
    assert state == "interrupted"
    assert recorder.finished[0].text == "cut"


@pytest.mark.asyncio
async def test_retrying_shows_a_countdown() -> None:
    script = Script(
        [
            StateChanged(TurnState.CONNECTING),
            Retrying(attempt=2, delay=3.0, reason="The server is overloaded."),
            StateChanged(TurnState.RETRYING, "retrying in 3 s"),
        ],
        hang=True,
    )
    sink = Sink()
    controller, _, _ = _controller(script, sink=sink)
    controller.start()
    await asyncio.wait_for(script.reached_hang.wait(), TIMEOUT)
    assert controller.status.startswith("Retrying in 3 s (attempt 2)")
    assert "overloaded" in controller.status
    controller.stop()
    await wait_signal(controller.streamFinished)
    assert controller.status == ""


@pytest.mark.asyncio
async def test_checkpoints_at_least_once_a_second_even_when_the_stream_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sc, "CHECKPOINT_INTERVAL", 0.05)
    # First delta at once, then a stall far longer than the interval.
    script = Script([TextDelta("a"), 0.01, TextDelta("b")], hang=True)
    controller, recorder, _ = _controller(script)
    controller.start()
    await asyncio.wait_for(script.reached_hang.wait(), TIMEOUT)
    # Nothing new arrives; the timer alone must write "ab" within the interval.
    async with asyncio.timeout(TIMEOUT):
        while not recorder.checkpoints or recorder.checkpoints[-1] != "ab":
            recorder.wrote.clear()
            await recorder.wrote.wait()
    count = len(recorder.checkpoints)
    await asyncio.sleep(0.12)
    assert len(recorder.checkpoints) == count  # no rewrites when nothing changed
    controller.stop()
    await wait_signal(controller.streamFinished)
    assert recorder.finished[-1].text == "ab"


@pytest.mark.asyncio
async def test_reattaching_to_a_view_mid_stream() -> None:
    script = Script([TextDelta("one ")], hang=True)
    first, second = Sink(), Sink()
    controller, _, _ = _controller(script, sink=first)
    controller.start()
    await asyncio.wait_for(script.reached_hang.wait(), TIMEOUT)
    controller.detach()
    controller.attach(second)
    assert second.calls[0] == ("begin", "7", "")
    assert controller.text == "one "
    controller.stop()
    await wait_signal(controller.streamFinished)
    assert first.text() == "one "


def test_metrics_line_reads_like_a_sentence() -> None:
    metrics = TurnMetrics(
        time_to_first_token=0.214,
        total_time=2.0,
        output_tokens=100,
        tokens_counted=True,
        outcome=TurnState.COMPLETE,
        finish_reason="length",
    )
    line = metrics_line(metrics)
    assert line.startswith("First token 0.21 s")
    assert "~100 tokens" in line
    assert "tokens/s" in line
    assert line.endswith("stopped at the token limit")
    assert metrics_line(TurnMetrics(outcome=TurnState.FAILED)) == "0.00 s total · failed"


@pytest.mark.asyncio
async def test_stop_before_the_task_ever_ran_still_ends_the_turn() -> None:
    script = Script([TextDelta("never")])
    controller, recorder, _ = _controller(script)
    controller.start()
    assert controller.stop()  # no await in between: the task has not started
    (state,) = await wait_signal(controller.streamFinished)
    assert state == "cancelled"
    assert [e.text for e in recorder.finished] == [""]
    assert not controller.running
