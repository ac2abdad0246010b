"""Which answer the window's stream inspector shows, and when.

``InspectorFollower`` keeps the dock (``inspector.StreamInspector``) on one
answer of the open conversation:

- when the dock opens: the answer streaming now, else the conversation's
  last answer;
- when an answer starts in the open conversation: that one, live;
- when another conversation opens: its last answer;
- when the user clicks an answer, or moves the keyboard focus into one:
  that answer.

A model in memory (``InspectionHistory.get``) shows at once; an older
answer's comes back from the history in the background ("Loading…" meanwhile),
and an answer with none (from before this version, imported, or one that
never reached the server) says so. While the dock is hidden nothing is
followed or refreshed: clicks are watched only while it is visible.

It never blocks and never touches the history itself.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.inspector_model import InspectorModel
from desktop_app.qt.chat_controller import ChatController
from desktop_app.qt.chat_view import ChatView
from desktop_app.qt.inspector import StreamInspector
from desktop_app.qt.message_widget import MessageWidget
from desktop_app.qt.tasks import TaskRegistry

LOADING = "Loading what came over the wire for this answer…"
NOT_KEPT = (
    "Nothing was kept of this answer's stream: it is from an earlier version of "
    "Streamdesk or was imported, or it never reached the server."
)
NO_ANSWER = "This conversation has no answer yet. Send a message to see its stream here."
SUBJECT_CHARS = 80
_MARKUP = re.compile(r"[#>*_`|~]+")  # Markdown marks left out of the answer's first words


class InspectorFollower(QObject):
    def __init__(
        self,
        dock: StreamInspector,
        chat: ChatController,
        view: ChatView,
        tasks: TaskRegistry,
    ) -> None:
        super().__init__(dock)
        self.dock = dock
        self.chat = chat
        self.view = view
        self._tasks = tasks
        self._shown: str | None = None  # the message id on show (or being loaded)
        self._watching = False
        dock.visibilityChanged.connect(self._visibility_changed)
        chat.answerStarted.connect(self._answer_started)
        chat.conversationOpened.connect(lambda _cid: self._follow_latest())
        chat.answerFinished.connect(self._answer_finished)

    @property
    def shown_message(self) -> str | None:
        return self._shown

    # ------------------------------------------------------------ what to show

    def show_message(self, message_id: str | None) -> None:
        """Inspect this answer (None: the conversation has none)."""
        if not self.dock.isVisible():
            self._shown = None  # chosen again when the dock opens
            return
        if message_id is None:
            self._shown = None
            self.dock.set_subject("")
            self.dock.show_model(None, NO_ANSWER)
            return
        if message_id == self._shown and self.dock.model is not None:
            return
        self._shown = message_id
        model = self.chat.inspections.get(message_id)
        if model is not None:
            self._show(message_id, model)
            return
        self._show_subject(message_id, None)
        self.dock.show_model(None, LOADING)
        with contextlib.suppress(RuntimeError):  # the window is closing
            self._tasks.spawn(self._load(message_id), name="show inspection")

    async def _load(self, message_id: str) -> None:
        model = await self.chat.inspections.load(message_id)
        if self._shown != message_id or not shiboken6.isValid(self.dock):
            return  # the user moved on meanwhile
        self._show(message_id, model)

    def _show(self, message_id: str, model: InspectorModel | None) -> None:
        self._show_subject(message_id, model)
        self.dock.show_model(model, NOT_KEPT)

    def _follow_latest(self) -> None:
        """The open conversation's streaming answer, else its last one."""
        if not self.dock.isVisible():
            return
        cid = self.chat.current_id
        controller = self.chat.stream_of(cid) if cid is not None else None
        if controller is not None and controller.outcome is None:
            self.show_message(controller.message_id)
            return
        last = self.chat.last_message("assistant")
        self.show_message(str(last.id) if last is not None else None)

    def _answer_started(self, conversation_id: str, message_id: str) -> None:
        if conversation_id == str(self.chat.current_id):
            self._shown = None  # a Continue reuses the id with a fresh inspection
            self.show_message(message_id)

    def _answer_finished(self, _conversation_id: str, message_id: str, _status: str) -> None:
        if message_id == self._shown:
            self._show_subject(message_id, self.dock.model)  # now with its words

    def _show_subject(self, message_id: str, model: InspectorModel | None) -> None:
        subject = self._subject(message_id)
        # An answer may quote the key (a server echoing it): never show it here.
        self.dock.set_subject(model.mask(subject) if model is not None else subject)

    def _subject(self, message_id: str) -> str:
        """Which answer this is: its place, its time and its first words (plain text)."""
        cid = self.chat.current_id
        try:
            messages = self.chat.history.messages(cid) if cid is not None else []
        except StreamdeskError:
            messages = []
        answers = [m for m in messages if m.role == "assistant"]
        place = next((i for i, m in enumerate(answers, 1) if str(m.id) == message_id), None)
        if place is None:
            return "An answer"
        when = time.strftime("%H:%M", time.localtime(answers[place - 1].created_at))
        head = f"Answer {place} of {len(answers)} · {when}"
        words = " ".join(_MARKUP.sub(" ", self.chat.message_text(message_id) or "").split())
        if not words:
            return f"{head} · being written" if self.chat.is_streaming() else head
        if len(words) > SUBJECT_CHARS:
            words = words[: SUBJECT_CHARS - 1] + "…"
        return f"{head} · “{words}”"

    # ------------------------------------------------------------ the dock and clicks

    def _visibility_changed(self, visible: bool) -> None:
        app = QApplication.instance()
        if visible and not self._watching and isinstance(app, QApplication):
            app.installEventFilter(self)
            app.focusChanged.connect(self._focus_changed)
            self._watching = True
        elif not visible and self._watching and isinstance(app, QApplication):
            app.removeEventFilter(self)
            app.focusChanged.disconnect(self._focus_changed)
            self._watching = False
        if visible:
            self._follow_latest()
        else:
            # Hidden: stop refreshing the panel; what to show is chosen again on opening.
            self._shown = None
            self.dock.show_model(None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(watched, QWidget):
            self._select_from(watched)
        return False

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is not None:
            self._select_from(now)

    def _select_from(self, widget: QWidget) -> None:
        """If ``widget`` is inside an answer in the chat, inspect that answer."""
        if not self.view.isAncestorOf(widget):
            return
        found = _enclosing(widget, lambda w: isinstance(w, MessageWidget))
        if isinstance(found, MessageWidget) and found.view.role == "assistant":
            self.show_message(found.message_id)


def _enclosing(widget: QWidget, wanted: Callable[[QWidget], bool]) -> QWidget | None:
    current: QWidget | None = widget
    while current is not None and not wanted(current):
        current = current.parentWidget()
    return current
