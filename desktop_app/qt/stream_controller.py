"""One streaming answer, from the first byte to its saved end: ``StreamController``.

A controller exists per streaming conversation. It owns the asyncio task that
consumes ``core.session.stream_turn``, forwards text and reasoning to the chat
view showing that conversation (if one is attached: the user may be looking at
another conversation), keeps the status line ("Connecting", "Retrying in
3 s…"), and records the answer as it grows, at least once a second and at
every end, so a crash loses at most the last second (users.md T4).

Stop cancels the task once, in any phase (connecting, waiting for the first
token, streaming); leaving ``stream_turn`` closes the connection so the server
stops generating (users.md T3). The partial answer is kept and saved as
cancelled. The continuation of an interrupted answer (Continue) starts with
``base_text``: new text is appended to the same message.

It must not build requests, choose profiles or decide what a user action
means (``chat_controller`` does), and never blocks: everything runs on the Qt
thread's asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.core.errors import Interrupted
from desktop_app.core.events import (
    ContentEvent,
    Finished,
    FinishReason,
    KeepAlive,
    ProviderFailed,
    ReasoningDelta,
    Reconnecting,
    Retrying,
    StateChanged,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    TurnEnded,
    TurnState,
    Usage,
)
from desktop_app.core.metrics import MetricsAccumulator
from desktop_app.core.storage import Checkpointer
from desktop_app.qt.answer_words import StreamOutcome, metrics_line
from desktop_app.qt.errors import describe, retry_status
from desktop_app.qt.tasks import TaskRegistry

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 1.0  # seconds: the most a crash may lose (issue 5)

_CONTENT_TYPES = (TextDelta, ReasoningDelta, ToolCallDelta, Usage, FinishReason, Finished)


class StreamSink(Protocol):
    """What a controller needs from the chat view (``ChatView`` fits)."""

    def begin_stream(self, message_id: str) -> None: ...

    def append_text(self, message_id: str, text: str) -> None: ...

    def append_reasoning(self, message_id: str, text: str) -> None: ...

    def set_status_line(self, message_id: str, text: str) -> None: ...


class TurnRecorder(Protocol):
    """Where the answer is saved while it grows and when it ends (history)."""

    def checkpoint(self, text: str, reasoning: str) -> None: ...

    def finish(self, ended: TurnEnded) -> None: ...


TurnSource = Callable[[], AsyncIterator[StreamEvent]]
"""Starts the turn: a call of ``stream_turn`` with everything bound."""


_STATUS_WORDS = {
    TurnState.CONNECTING: "Connecting",
    TurnState.WAITING: "Waiting for the first token",
    TurnState.RECONNECTING: "The connection dropped; reconnecting",
}


class StreamController(QObject):
    """Owns one answer's stream task. Widgets connect to its signals; they never await."""

    streamStarted = Signal()
    statusChanged = Signal(str)  # the status line; "" once text flows
    textAppended = Signal(str)  # each delta, for listeners that are not the attached view
    streamFinished = Signal(str)  # "complete" | "interrupted" | "error" | "cancelled"

    def __init__(
        self,
        *,
        conversation_id: str,
        message_id: str,
        source: TurnSource,
        recorder: TurnRecorder,
        tasks: TaskRegistry,
        base_text: str = "",
        base_reasoning: str = "",
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.conversation_id = conversation_id
        self.message_id = message_id
        self._source = source
        self._recorder = recorder
        self._tasks = tasks
        self._clock = clock
        self._base_text = base_text
        self._base_reasoning = base_reasoning
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._sink: StreamSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_requested = False
        self._closing = False
        self._status = ""
        self._state = TurnState.CONNECTING
        self._outcome: StreamOutcome | None = None
        self._checkpointer = Checkpointer(clock, CHECKPOINT_INTERVAL)
        self._checkpoint_timer = QTimer(self)
        self._checkpoint_timer.setSingleShot(True)
        self._checkpoint_timer.timeout.connect(self._checkpoint_now)
        self._retry_deadline = 0.0
        self._retry_attempt = 0
        self._retry_reason = ""
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick_countdown)

    # ------------------------------------------------------------ what the window reads

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def state(self) -> TurnState:
        return self._state

    @property
    def status(self) -> str:
        return self._status

    @property
    def text(self) -> str:
        """Everything of this answer so far (including the continued part)."""
        return self._base_text + "".join(self._text)

    @property
    def reasoning(self) -> str:
        return self._base_reasoning + "".join(self._reasoning)

    @property
    def outcome(self) -> StreamOutcome | None:
        return self._outcome

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    # ------------------------------------------------------------ control

    def attach(self, sink: StreamSink | None) -> None:
        """Forward further deltas to ``sink`` (the view now showing this conversation).

        The caller has already shown ``self.text`` in it; from here on only
        new deltas go there.
        """
        self._sink = sink
        if sink is not None and self.running:
            sink.begin_stream(self.message_id)
            if self._status:
                sink.set_status_line(self.message_id, self._status)

    def detach(self) -> None:
        self._sink = None

    def start(self) -> asyncio.Task[None]:
        if self._task is not None:
            raise RuntimeError("a controller streams once")
        self._started_at = self._clock()
        self._checkpointer = Checkpointer(self._clock, CHECKPOINT_INTERVAL)
        self._metrics = MetricsAccumulator(self._started_at)
        self._task = self._tasks.spawn(self._run(), name=f"stream {self.message_id}")
        self._task.add_done_callback(self._task_done)
        if self._sink is not None:
            self._sink.begin_stream(self.message_id)
        self.streamStarted.emit()
        self._set_status(_STATUS_WORDS[TurnState.CONNECTING])
        return self._task

    def stop(self, *, closing: bool = False) -> bool:
        """Stop the answer, whatever phase it is in. True if this call stopped it.

        ``closing``: the app is quitting, not the user stopping; the answer is
        saved as interrupted so the next start offers Continue.
        """
        if not self.running or self._stop_requested:
            return False
        self._stop_requested = True
        self._closing = closing
        assert self._task is not None
        self._task.cancel()
        return True

    async def wait(self) -> StreamOutcome | None:
        """Wait for the stream task to end (bound it with ``asyncio.timeout``)."""
        if self._task is not None and not self._task.done():
            # asyncio.wait neither raises the task's CancelledError nor
            # cancels the task when the caller gives up.
            await asyncio.wait([self._task])
        return self._outcome

    # ------------------------------------------------------------ the task

    async def _run(self) -> None:
        try:
            events = self._source()
            try:
                async for event in events:
                    if isinstance(event, TurnEnded):
                        # Finish now: the session may still drain the body
                        # for a moment so the connection can be reused.
                        self._finish(event)
                    elif self._outcome is None:
                        self._handle(event)
            finally:
                # Close the generator here, inside this task, so the connection
                # is released now and not by the garbage collector.
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            if self._outcome is None:
                if self._closing:
                    self._finish(self._local_end(TurnState.INTERRUPTED, _closed_error()))
                else:
                    self._finish(self._local_end(TurnState.CANCELLED))
            raise
        except Exception as exc:  # a bug below us: still keep the text and say so
            log.exception("stream %s failed unexpectedly", self.message_id)
            if self._outcome is None:
                self._finish(self._local_end(TurnState.FAILED, exc))
            return
        if self._outcome is None:
            # stream_turn promises a TurnEnded; never lose text if it did not come.
            self._finish(self._local_end(TurnState.INTERRUPTED))

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs _run's handlers:
        # Stop pressed right after Send must still end the turn (and say so).
        if self._outcome is None:
            self._finish(self._local_end(TurnState.CANCELLED))

    def _handle(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            if event.text:
                self._text.append(event.text)
                self._content(event)
                if self._sink is not None:
                    self._sink.append_text(self.message_id, event.text)
                self.textAppended.emit(event.text)
                self._mark_dirty()
        elif isinstance(event, ReasoningDelta):
            if event.text:
                self._reasoning.append(event.text)
                self._content(event)
                if self._sink is not None:
                    self._sink.append_reasoning(self.message_id, event.text)
                self._mark_dirty()
        elif isinstance(event, StateChanged):
            self._state = event.state
            if event.state is not TurnState.RETRYING:
                self._countdown.stop()
            if event.state is TurnState.STREAMING:
                self._set_status("")
            elif event.state in _STATUS_WORDS:
                self._set_status(_STATUS_WORDS[event.state])
        elif isinstance(event, Retrying):
            self._metrics.attempts = event.attempt
            self._retry_attempt = event.attempt
            self._retry_reason = event.reason
            self._retry_deadline = self._clock() + event.delay
            self._tick_countdown()
            self._countdown.start()
        elif isinstance(event, Reconnecting):
            self._metrics.reconnects = event.attempt
            self._set_status(_STATUS_WORDS[TurnState.RECONNECTING])
        elif isinstance(event, _CONTENT_TYPES):
            self._content(event)
        elif isinstance(event, KeepAlive | ProviderFailed):
            # A keep-alive proves liveness only; a provider error is reported
            # again, typed, in TurnEnded.error.
            pass

    def _content(self, event: ContentEvent) -> None:
        if not self._metrics.has_first_token and isinstance(event, TextDelta | ReasoningDelta):
            self._metrics.first_byte(self._clock())
        self._metrics.content(event, self._clock())

    def _tick_countdown(self) -> None:
        left = self._retry_deadline - self._clock()
        if left <= 0:
            self._countdown.stop()
            self._set_status("Trying again")
            return
        self._set_status(retry_status(self._retry_attempt, left, self._retry_reason))

    def _set_status(self, text: str) -> None:
        if text == self._status:
            return
        self._status = text
        if self._sink is not None:
            self._sink.set_status_line(self.message_id, text)
        self.statusChanged.emit(text)

    # ------------------------------------------------------------ saving

    def _mark_dirty(self) -> None:
        if self._checkpointer.changed():
            self._checkpoint_now()
        elif not self._checkpoint_timer.isActive():
            # Text that arrives and then stalls is still saved within a second.
            deadline = self._checkpointer.deadline()
            if deadline is not None:
                left = max(0.0, deadline - self._clock())
                self._checkpoint_timer.start(max(1, int(left * 1000) + 1))

    def _checkpoint_now(self) -> None:
        if not self._checkpointer.pending:
            return
        self._recorder.checkpoint(self.text, self.reasoning)
        self._checkpointer.written()

    def save_now(self) -> None:
        """Write the answer so far at once (the app is about to quit)."""
        if self.running and self._checkpointer.pending:
            self._checkpoint_now()

    def _local_end(self, state: TurnState, error: BaseException | None = None) -> TurnEnded:
        """A TurnEnded for an end the session could not report (Stop, a bug)."""
        metrics = self._metrics.result(self._clock(), state)
        return TurnEnded(
            state=state,
            text="".join(self._text),
            metrics=metrics,
            reasoning="".join(self._reasoning),
            error=error,
        )

    def _finish(self, ended: TurnEnded) -> None:
        self._checkpoint_timer.stop()
        self._countdown.stop()
        # The session's text is authoritative for the new part; the base part
        # (Continue) is ours. Keep whichever is longer so no delta is lost.
        new_text = (
            ended.text if len(ended.text) >= len("".join(self._text)) else "".join(self._text)
        )
        new_reasoning = ended.reasoning or "".join(self._reasoning)
        whole = TurnEnded(
            state=ended.state,
            text=self._base_text + new_text,
            metrics=ended.metrics,
            reasoning=self._base_reasoning + new_reasoning,
            error=ended.error,
            tool_calls=ended.tool_calls,
        )
        self._text = [new_text]
        self._reasoning = [new_reasoning]
        self._state = ended.state
        if ended.state is TurnState.COMPLETE or ended.error is None:
            sentence, hint = ("", "")
        else:
            sentence, hint = describe(ended.error)
        self._outcome = StreamOutcome(
            ended=whole,
            error_sentence=sentence,
            error_hint=hint,
            metrics_line=metrics_line(ended.metrics),
        )
        self._status = ""
        try:
            self._recorder.finish(whole)
        finally:
            self.streamFinished.emit(self._outcome.status)


def _closed_error() -> Interrupted:
    return Interrupted(
        "Streamdesk was closed before the answer finished.",
        hint="Use Continue to pick up where it stopped.",
    )
