"""One turn's plumbing: where it goes, how stored messages look, how an answer is saved.

Owns: ``TurnTarget`` (the active profile's server, model and settings at the
moment of sending, and how to connect), the mapping from stored messages and
stream outcomes to the chat view's ``MessageView``, the request built from a
conversation's history, the recorder that saves an answer as it streams, and
the event source that connects (stub, client, key: off the GUI thread) and
then runs ``stream_turn``, reporting the wire traffic to the answer's
stream inspection.

It must not touch widgets or decide what a user action means
(``chat_controller`` does).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from desktop_app.core.errors import StorageError, StreamdeskError
from desktop_app.core.events import StreamEvent, TurnEnded, TurnMetrics, TurnState
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint, Provider
from desktop_app.core.storage import HistoryStore, MessageStatus, StoredMessage
from desktop_app.qt.answer_words import StreamOutcome, metrics_line
from desktop_app.qt.chat_view import MessageView

if TYPE_CHECKING:
    from desktop_app.core.inspector_model import InspectorModel

    # httpx is imported with the session, after the window is first shown
    # (research/performance.md: keep the network stack off the first paint).
    from desktop_app.core.session import TurnSettings
    from desktop_app.core.transport import StreamingClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnTarget:
    """Where a turn goes and how, from the active profile at the moment of sending."""

    profile: str
    provider: Provider
    model: str
    # Builds or reuses the HTTP client, starts the offline stub if needed and
    # reads the API key (off the GUI thread); awaited inside the stream task.
    connect: Callable[[], Awaitable[tuple[StreamingClient, Endpoint]]]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    settings: TurnSettings | None = None  # None: the session's defaults


class TargetProvider(Protocol):
    def current_target(self) -> TurnTarget: ...


class ChatViewLike(Protocol):
    """The parts of ``ChatView`` the controller drives."""

    def set_messages(self, views: list[MessageView]) -> None: ...

    def append_message(self, view: MessageView) -> None: ...

    def begin_stream(self, message_id: str) -> None: ...

    def append_text(self, message_id: str, text: str) -> None: ...

    def append_reasoning(self, message_id: str, text: str) -> None: ...

    def set_status_line(self, message_id: str, text: str) -> None: ...

    def end_stream(self, message_id: str, view: MessageView) -> None: ...

    def update_message(self, view: MessageView) -> None: ...

    def remove_messages_after(self, message_id: str) -> None: ...


_HINTS = {
    MessageStatus.INTERRUPTED: "Use Continue to pick up where it stopped, or Regenerate.",
    MessageStatus.ERROR: "Use Retry to ask again.",
}


def view_of(message: StoredMessage) -> MessageView:
    """How a stored message is shown."""
    error = message.error_message or ""
    hint = _HINTS.get(message.status, "") if error or message.status in _HINTS else ""
    if message.status is MessageStatus.INTERRUPTED and not error:
        error = "The answer was cut off before it finished."
    return MessageView(
        id=str(message.id),
        role=message.role,
        text=message.text,
        reasoning=message.reasoning,
        status=message.status.value,
        error=error,
        error_hint=hint,
        metrics_line=metrics_line(message.metrics) if message.metrics is not None else "",
    )


def view_of_outcome(message_id: str, outcome: StreamOutcome) -> MessageView:
    ended = outcome.ended
    return MessageView(
        id=message_id,
        role="assistant",
        text=ended.text,
        reasoning=ended.reasoning,
        status=outcome.status,
        error=outcome.error_sentence,
        error_hint=outcome.error_hint,
        metrics_line=outcome.metrics_line,
    )


def streaming_view(message_id: str, text: str = "", reasoning: str = "") -> MessageView:
    return MessageView(
        id=message_id,
        role="assistant",
        text=text,
        reasoning=reasoning,
        status="streaming",
        error="",
        error_hint="",
        metrics_line="",
    )


def request_messages(messages: list[StoredMessage]) -> tuple[ChatMessage, ...]:
    """The conversation as the server should see it: user and assistant text, in order.

    Empty answers (an error before any text) carry nothing and are left out;
    partial answers are kept (the user saw them, and so should the model).
    """
    out: list[ChatMessage] = []
    for m in messages:
        if m.role == "system" or (m.role == "assistant" and not m.text):
            continue
        out.append(ChatMessage(role=m.role, content=m.text))
    return tuple(out)


class HistoryRecorder:
    """Saves one answer into the history as it grows and when it ends.

    ``after_finish`` is called with the final ``TurnEnded`` once the answer
    is written (the chat controller keeps the stream's inspection then).
    ``on_problem`` hears the first write that fails (a full disk...), once
    per answer, so the window can say so; the stream goes on and the window
    keeps the whole text. Each checkpoint writes the whole text so far, so
    the first one that succeeds again (space freed) catches up. An end that
    could not be written is kept (``unsaved``) until ``retry`` writes it: left
    alone, the row would stay "streaming" and the next start would mark it
    interrupted with only the last checkpoint's text.
    """

    def __init__(
        self,
        history: HistoryStore,
        message_id: int,
        after_finish: Callable[[TurnEnded], None] | None = None,
        on_problem: Callable[[StorageError], None] | None = None,
    ) -> None:
        self._history = history
        self._message_id = message_id
        self._after_finish = after_finish
        self._on_problem = on_problem
        self._reported = False
        self._unsaved_end: TurnEnded | None = None

    def checkpoint(self, text: str, reasoning: str) -> None:
        try:
            self._history.checkpoint(self._message_id, text, reasoning)
        except StorageError as exc:
            log.warning("could not checkpoint message %s", self._message_id, exc_info=True)
            self._report(exc)

    def finish(self, ended: TurnEnded) -> None:
        self._unsaved_end = ended
        self.retry()
        if self._after_finish is not None:
            self._after_finish(ended)

    @property
    def unsaved(self) -> bool:
        """The answer ended but its end is not written yet (``retry`` later)."""
        return self._unsaved_end is not None

    def retry(self) -> bool:
        """Write the answer's end if it is still unwritten; True once it is written."""
        ended = self._unsaved_end
        if ended is None:
            return True
        try:
            self._history.finish_turn(self._message_id, ended)
        except StorageError as exc:
            log.warning("could not save the end of message %s: %s", self._message_id, exc)
            self._report(exc)
            return False
        self._unsaved_end = None
        return True

    def _report(self, exc: StorageError) -> None:
        # Once per answer: a full disk fails every checkpoint, a second apart.
        if self._reported or self._on_problem is None:
            return
        self._reported = True
        self._on_problem(exc)


def turn_source(
    target: TurnTarget, request: ChatRequest, inspection: InspectorModel | None = None
) -> Callable[[], AsyncIterator[StreamEvent]]:
    """The events of one turn to ``target``; ``inspection`` (if given) sees its wire traffic.

    The inspection learns the API key as soon as the endpoint is known, before
    the first request, so the key is masked in everything it shows.
    """

    async def source() -> AsyncIterator[StreamEvent]:
        try:
            client, endpoint = await target.connect()
        except StreamdeskError as exc:
            # No usable key (no keychain, a locked one that timed out...): end
            # the turn the way the session would, with words to show.
            ended = TurnEnded(
                state=TurnState.FAILED,
                text="",
                metrics=TurnMetrics(outcome=TurnState.FAILED),
                error=exc,
            )
            if inspection is not None:
                inspection.finish(ended)
            yield ended
            return
        from desktop_app.core.session import TurnSettings, stream_turn

        if inspection is not None:
            inspection.set_secret(endpoint.api_key)
        settings = target.settings or TurnSettings()
        events = stream_turn(client, target.provider, request, endpoint, settings, inspection)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TurnEnded) and inspection is not None:
                    inspection.finish(event)  # before the controller saves the answer
                yield event

    return source
