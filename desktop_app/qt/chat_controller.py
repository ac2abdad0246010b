"""What the user's chat actions mean: send, stop, retry, continue, regenerate, edit, switch.

``ChatController`` sits between the widgets (chat view, composer, sidebar) and
the history and streams. It keeps one ``StreamController`` per conversation
whose answer is streaming, so several conversations can stream at once while
the user reads or writes in another; the chat view shows one conversation and
the controller of that conversation forwards its deltas there.

Every action writes the history first (small writes, fine on the GUI thread)
and then updates the view, so what is on screen is what would come back
after a restart. It knows nothing of profiles or keys: a ``TargetProvider``
(the main window, from the active profile) says where a turn goes.

It never awaits on the GUI thread's behalf: streams run as tasks in the
window's ``TaskRegistry``; the API key is resolved inside the stream task so
Stop works while a keychain prompt is pending.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.core.errors import StorageError, StreamdeskError
from desktop_app.core.providers.base import ChatRequest
from desktop_app.core.storage import HistoryStore, MessageStatus, StoredMessage
from desktop_app.qt.errors import describe
from desktop_app.qt.inspection_history import InspectionHistory
from desktop_app.qt.stream_controller import StreamController
from desktop_app.qt.tasks import TaskRegistry
from desktop_app.qt.turns import (
    ChatViewLike,
    HistoryRecorder,
    TargetProvider,
    TurnTarget,
    request_messages,
    streaming_view,
    turn_source,
    view_of,
    view_of_outcome,
)

log = logging.getLogger(__name__)
UNSAVED_RETRY_MS = 5000  # how often an answer whose end could not be saved is tried again


# ---------------------------------------------------------------- the controller


class ChatController(QObject):
    """Turns user actions into history writes and streams, and keeps the view in step."""

    conversationsChanged = Signal()  # the sidebar list needs a refresh
    conversationOpened = Signal(str)  # "" for a new, unsaved chat
    streamingChanged = Signal(str, bool)  # (conversation id, streaming)
    answerStarted = Signal(str, str)  # (conversation id, message id): its stream began
    answerFinished = Signal(str, str, str)  # (conversation id, message id, status)
    problemReported = Signal(str, str)  # (sentence, hint): for the window's banner

    def __init__(
        self,
        *,
        history: HistoryStore,
        view: ChatViewLike,
        targets: TargetProvider,
        tasks: TaskRegistry,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.view = view
        self._targets = targets
        self._tasks = tasks
        self._current: int | None = None
        self._streams: dict[int, StreamController] = {}
        # Answers whose end could not be written (a full disk), tried again every few seconds.
        self._unsaved: list[HistoryRecorder] = []
        self._unsaved_timer = QTimer(self)
        self._unsaved_timer.setInterval(UNSAVED_RETRY_MS)
        self._unsaved_timer.timeout.connect(self._retry_unsaved)
        # What came over the wire for each answer (the stream inspector shows it).
        self.inspections = InspectionHistory(history, tasks)

    # ------------------------------------------------------------ reading

    @property
    def current_id(self) -> int | None:
        """The conversation on screen; None for a new chat not yet saved."""
        return self._current

    def is_streaming(self, conversation_id: int | None = None) -> bool:
        cid = self._current if conversation_id is None else conversation_id
        controller = self._streams.get(cid) if cid is not None else None
        return controller is not None and controller.outcome is None

    def stream_of(self, conversation_id: int) -> StreamController | None:
        return self._streams.get(conversation_id)

    def streaming_ids(self) -> list[int]:
        return [cid for cid in self._streams if self.is_streaming(cid)]

    def last_answer_text(self) -> str | None:
        if self._current is None:
            return None
        controller = self._streams.get(self._current)
        if controller is not None and controller.outcome is None:
            return controller.text
        for message in reversed(self.history.messages(self._current)):
            if message.role == "assistant":
                return message.text
        return None

    def last_message(self, role: str) -> StoredMessage | None:
        """The newest message of ``role`` in the conversation on screen."""
        if self._current is None:
            return None
        for message in reversed(self.history.messages(self._current)):
            if message.role == role:
                return message
        return None

    def regenerate_last(self) -> bool:
        last = self.last_message("assistant")
        return last is not None and self.regenerate(str(last.id))

    def continue_last(self) -> bool:
        last = self.last_message("assistant")
        resumable = (MessageStatus.INTERRUPTED, MessageStatus.CANCELLED)
        return last is not None and last.status in resumable and self.continue_answer(str(last.id))

    def message_text(self, message_id: str) -> str | None:
        try:
            mid = int(message_id)
        except ValueError:
            return None
        for controller in self._streams.values():
            if controller.message_id == message_id and controller.outcome is None:
                return controller.text
        try:
            return self.history.get_message(mid).text
        except StorageError:
            return None

    # ------------------------------------------------------------ switching

    def new_chat(self) -> None:
        """Show an empty chat; it is saved when its first message is sent."""
        self._detach_current()
        self._current = None
        self.view.set_messages([])
        self.conversationOpened.emit("")

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation; a stream into it (if any) reattaches to the view."""
        self._detach_current()
        try:
            messages = self.history.messages(conversation_id)
        except StorageError as exc:
            self._report(exc)
            return
        self._current = conversation_id
        controller = self._streams.get(conversation_id)
        live = controller if controller is not None and controller.outcome is None else None
        views = []
        for message in messages:
            if live is not None and str(message.id) == live.message_id:
                views.append(streaming_view(live.message_id, live.text, live.reasoning))
            else:
                views.append(view_of(message))
        self.view.set_messages(views)
        if live is not None:
            live.attach(self.view)
        self.conversationOpened.emit(str(conversation_id))

    def _detach_current(self) -> None:
        if self._current is not None:
            controller = self._streams.get(self._current)
            if controller is not None:
                controller.detach()

    # ------------------------------------------------------------ sending

    def send(self, text: str) -> bool:
        """Send a user message in the current conversation (creating it if new)."""
        if self.is_streaming():
            return False
        try:
            target = self._targets.current_target()
        except StreamdeskError as exc:
            self._report(exc)
            return False
        try:
            if self._current is None:
                conversation = self.history.create_conversation(
                    profile=target.profile, model=target.model
                )
                self._current = conversation.id
                self.conversationOpened.emit(str(conversation.id))
            user = self.history.add_user_message(self._current, text)
        except StorageError as exc:
            self._report(exc)
            return False
        self.view.append_message(view_of(user))
        self.conversationsChanged.emit()
        return self._start_answer(self._current, target)

    def resend_edited(self, message_id: str, text: str) -> bool:
        """Replace a user message's text, drop everything after it and ask again."""
        if self._current is None or self.is_streaming():
            return False
        try:
            target = self._targets.current_target()
            mid = int(message_id)
            self.history.edit_message(mid, text)  # a first message re-titles an auto title
            self._truncate_after(mid)
            self.view.update_message(view_of(self.history.get_message(mid)))
        except (StreamdeskError, ValueError) as exc:
            self._report(exc)
            return False
        self.view.remove_messages_after(message_id)
        self.conversationsChanged.emit()
        return self._start_answer(self._current, target)

    def regenerate(self, message_id: str) -> bool:
        """Drop an answer (and anything after it) and ask for a new one."""
        if self._current is None or self.is_streaming():
            return False
        try:
            target = self._targets.current_target()
            mid = int(message_id)
            messages = self.history.messages(self._current)
            index = next(i for i, m in enumerate(messages) if m.id == mid)
        except (StreamdeskError, ValueError, StopIteration) as exc:
            self._report(exc if isinstance(exc, StreamdeskError) else None)
            return False
        if index == 0:
            return False
        previous = messages[index - 1]
        try:
            self._truncate_after(previous.id)
        except StorageError as exc:
            self._report(exc)
            return False
        self.view.remove_messages_after(str(previous.id))
        return self._start_answer(self._current, target)

    retry = regenerate  # Retry on a failed answer asks again, the same way

    def continue_answer(self, message_id: str) -> bool:
        """Continue an interrupted answer from its partial text, in the same message."""
        if self._current is None or self.is_streaming():
            return False
        try:
            target = self._targets.current_target()
            message = self.history.get_message(int(message_id))
        except (StreamdeskError, ValueError) as exc:
            self._report(exc if isinstance(exc, StreamdeskError) else None)
            return False
        if message.role != "assistant" or not message.text:
            return self.regenerate(message_id)
        before = [m for m in self.history.messages(self._current) if m.position < message.position]
        request = self._request(target, before, prefill=message.text)
        # What the server continues from (Anthropic drops trailing whitespace): the new text
        # joins this, in the view and the history alike.
        base_text = target.provider.continues_after(message.text)
        try:
            # Streaming again, text kept: checkpoints save the continuation as it comes.
            self.history.reopen_message(message.id)
        except StorageError as exc:
            self._report(exc)
            return False
        self.view.update_message(streaming_view(message_id, base_text, message.reasoning))
        return self._start(
            self._current,
            message_id,
            target,
            request,
            base_text=base_text,
            base_reasoning=message.reasoning,
        )

    def stop(self, conversation_id: int | None = None) -> bool:
        cid = self._current if conversation_id is None else conversation_id
        controller = self._streams.get(cid) if cid is not None else None
        return controller is not None and controller.stop()

    # ------------------------------------------------------------ conversations

    def rename(self, conversation_id: int, title: str) -> None:
        try:
            self.history.rename_conversation(conversation_id, title)
        except StorageError as exc:
            self._report(exc)
        self.conversationsChanged.emit()

    def delete(self, conversation_id: int) -> None:
        """Soft-delete (undo brings it back); a stream into it is stopped first."""
        controller = self._streams.get(conversation_id)
        if controller is not None:
            controller.stop()
        try:
            self.history.delete_conversation(conversation_id)
        except StorageError as exc:
            self._report(exc)
            return
        if self._current == conversation_id:
            self._detach_current()
            self._current = None
            self.view.set_messages([])
            self.conversationOpened.emit("")
        self.conversationsChanged.emit()

    def restore(self, conversation_id: int) -> None:
        try:
            self.history.restore_conversation(conversation_id)
        except StorageError as exc:
            self._report(exc)
            return
        self.conversationsChanged.emit()
        self.open_conversation(conversation_id)

    # ------------------------------------------------------------ shutdown

    def save_all(self) -> None:
        """Write every streaming answer now (the app may be killed next), and every finished
        one whose end could not be written before (a full disk)."""
        for controller in self._streams.values():
            controller.save_now()
        self._retry_unsaved()

    def _retry_unsaved(self) -> None:
        self._unsaved = [recorder for recorder in self._unsaved if not recorder.retry()]
        if not self._unsaved:
            self._unsaved_timer.stop()

    def stop_all(self, *, closing: bool = False) -> list[StreamController]:
        stopped = []
        for controller in list(self._streams.values()):
            if controller.stop(closing=closing):
                stopped.append(controller)
        return stopped

    # ------------------------------------------------------------ internals

    def _start_answer(self, conversation_id: int, target: TurnTarget) -> bool:
        try:
            history = self.history.messages(conversation_id)
            message = self.history.start_assistant_message(
                conversation_id, model=target.model, profile=target.profile
            )
        except StorageError as exc:
            self._report(exc)
            return False
        message_id = str(message.id)
        if conversation_id == self._current:
            self.view.append_message(streaming_view(message_id))
        request = self._request(target, history)
        return self._start(conversation_id, message_id, target, request)

    def _truncate_after(self, message_id: int) -> None:
        """Delete the messages after ``message_id``, and forget their inspections."""
        assert self._current is not None
        messages = self.history.messages(self._current)
        at = next((m.position for m in messages if m.id == message_id), len(messages))
        removed = [str(m.id) for m in messages if m.position > at]
        self.history.truncate_after(message_id)
        self.inspections.forget(removed)

    def _request(
        self, target: TurnTarget, history: list[StoredMessage], *, prefill: str | None = None
    ) -> ChatRequest:
        return ChatRequest(
            messages=request_messages(history),
            model=target.model,
            system=target.system or None,
            temperature=target.temperature,
            max_tokens=target.max_tokens,
            prefill=prefill,
        )

    def _start(
        self,
        conversation_id: int,
        message_id: str,
        target: TurnTarget,
        request: ChatRequest,
        *,
        base_text: str = "",
        base_reasoning: str = "",
    ) -> bool:
        inspections = self.inspections
        inspection = inspections.start(message_id, provider=target.provider)
        recorder = HistoryRecorder(
            self.history,
            int(message_id),
            after_finish=lambda ended: inspections.finished(message_id, ended),
            on_problem=self._report,
        )
        controller = StreamController(
            conversation_id=str(conversation_id),
            message_id=message_id,
            source=turn_source(target, request, inspection),
            recorder=recorder,
            tasks=self._tasks,
            base_text=base_text,
            base_reasoning=base_reasoning,
            parent=self,
        )
        self._streams[conversation_id] = controller
        controller.streamFinished.connect(
            lambda status, c=controller: self._finished(conversation_id, c, status, recorder)
        )
        if conversation_id == self._current:
            controller.attach(self.view)
        controller.start()
        self.streamingChanged.emit(str(conversation_id), True)
        self.answerStarted.emit(str(conversation_id), message_id)
        return True

    def _finished(
        self,
        conversation_id: int,
        controller: StreamController,
        status: str,
        recorder: HistoryRecorder,
    ) -> None:
        if recorder.unsaved:  # a full disk: try again until space is freed, and at quit
            self._unsaved.append(recorder)
            self._unsaved_timer.start()
        outcome = controller.outcome
        if self._streams.get(conversation_id) is controller:
            del self._streams[conversation_id]
        controller.detach()
        if outcome is not None and conversation_id == self._current:
            self.view.end_stream(
                controller.message_id, view_of_outcome(controller.message_id, outcome)
            )
        # The controller's task may still be draining the connection; it is
        # owned by the task registry, and the QObject by us until then.
        controller.deleteLater()
        self.streamingChanged.emit(str(conversation_id), False)
        self.answerFinished.emit(str(conversation_id), controller.message_id, status)
        self.conversationsChanged.emit()

    def _report(self, exc: BaseException | None) -> None:
        sentence, hint = describe(exc)
        self.problemReported.emit(sentence, hint)
