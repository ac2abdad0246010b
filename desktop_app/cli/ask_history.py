"""``streamdesk ask`` in the history: the same conversations the window shows.

``AskHistory`` picks the conversation (a new one, the most recent with
``--continue``, or ``--conversation ID``), gives the earlier messages as the
request's context, saves the prompt, then the answer as it grows (at least
once a second, like the window) and at its end with its status: complete,
interrupted, error, or cancelled after Ctrl-C. A history that cannot be
written never stops the answer: the problem is said once on stderr and the
answer goes on unsaved.

Must not: print (``problems`` holds the sentences for the caller), or keep
an API key (nothing here receives one).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from desktop_app.core.answer import JoinedText
from desktop_app.core.errors import StorageError
from desktop_app.core.events import TurnEnded, TurnState
from desktop_app.core.providers.base import ChatMessage
from desktop_app.core.storage import (
    Checkpointer,
    ConversationNotFound,
    HistoryStore,
    MessageStatus,
    StoredMessage,
)

CHECKPOINT_INTERVAL = 1.0


class UnknownConversation(Exception):
    """``--conversation ID`` names no conversation (exit code 2)."""


def context_of(messages: list[StoredMessage]) -> tuple[ChatMessage, ...]:
    """The conversation as the server should see it (the window's rule): user and
    assistant text in order; empty answers (an error before any text) are left out,
    partial ones kept."""
    return tuple(
        ChatMessage(m.role, m.text)
        for m in messages
        if m.role != "system" and not (m.role == "assistant" and not m.text)
    )


class AskHistory:
    """One exchange of ``streamdesk ask``: prompt and answer, saved as they happen."""

    def __init__(
        self,
        store: HistoryStore | None,
        conversation_id: int | None,
        *,
        save: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._save = save and store is not None
        self.conversation_id = conversation_id
        self.problems: list[str] = []
        self._clock = clock
        self._checkpointer = Checkpointer(clock, CHECKPOINT_INTERVAL)
        self._message_id: int | None = None
        # Joined as they come: a list of a million deltas would hold 30x the text.
        self._text = JoinedText()
        self._reasoning = JoinedText()
        self._finished = False
        if store is not None and save:
            for warning in store.warnings:
                self._problem(warning)
            if not store.persistent:
                self._save = False

    @classmethod
    def open(
        cls, *, save: bool, continue_latest: bool = False, conversation: int | None = None
    ) -> AskHistory:
        """Open the history if anything is to be read or saved; raises ``UnknownConversation``."""
        if not save and not continue_latest and conversation is None:
            return cls(None, None, save=False)
        store = HistoryStore.open()
        try:
            chosen: int | None = None
            if conversation is not None:
                chosen = store.get_conversation(conversation).id
            elif continue_latest:
                latest = store.latest_conversation()
                chosen = latest.id if latest is not None else None
        except ConversationNotFound as exc:
            store.close()
            raise UnknownConversation(
                f"{exc} `streamdesk history list` shows the conversations."
            ) from None
        except StorageError as exc:  # unreadable: go on without it
            history = cls(store, None, save=False)
            history._problem(exc)
            return history
        return cls(store, chosen, save=save)

    @property
    def saving(self) -> bool:
        return self._save

    def context(self) -> tuple[ChatMessage, ...]:
        """The earlier messages of the chosen conversation (none for a new one)."""
        if self._store is None or self.conversation_id is None:
            return ()
        try:
            return context_of(self._store.messages(self.conversation_id))
        except StorageError as exc:
            self._problem(exc)
            return ()

    def begin(self, prompt: str, *, model: str, profile: str | None) -> None:
        """Save the prompt and an empty answer marked streaming."""
        if not self._save or self._store is None:
            return
        store = self._store
        try:
            if self.conversation_id is None:
                self.conversation_id = store.create_conversation(profile=profile, model=model).id
            store.add_user_message(self.conversation_id, prompt)
            answer = store.start_assistant_message(
                self.conversation_id, model=model, profile=profile
            )
        except StorageError as exc:
            self._problem(exc)
            self._save = False
            return
        self._message_id = answer.id
        self._checkpointer = Checkpointer(self._clock, CHECKPOINT_INTERVAL)

    def text(self, text: str) -> None:
        self._text.append(text)
        self._changed()

    def reasoning(self, text: str) -> None:
        self._reasoning.append(text)
        self._changed()

    def _changed(self) -> None:
        if self._checkpointer.changed():
            self._checkpoint()

    def tick(self) -> None:
        """Called about every quarter second: text that arrived and then stalled is saved too."""
        if self._checkpointer.due():
            self._checkpoint()

    def _checkpoint(self) -> None:
        if self._message_id is None or self._store is None or self._finished:
            return
        try:
            self._store.checkpoint(self._message_id, str(self._text), str(self._reasoning))
        except StorageError as exc:
            self._problem(exc)  # the final write tries again
        self._checkpointer.written()

    def finish(self, ended: TurnEnded) -> None:
        """Save the end of the answer as the session reported it."""
        if self._message_id is None or self._store is None or self._finished:
            return
        self._finished = True
        try:
            self._store.finish_turn(self._message_id, ended)
        except StorageError as exc:
            self._problem(exc)

    def abandon(self, state: TurnState = TurnState.CANCELLED) -> None:
        """The turn ended without a ``TurnEnded`` (Ctrl-C, the reader went away): keep the text."""
        if self._message_id is None or self._store is None or self._finished:
            return
        self._finished = True
        try:
            self._store.finish_message(
                self._message_id,
                status=MessageStatus.from_turn_state(state),
                text=str(self._text),
                reasoning=str(self._reasoning),
            )
        except StorageError as exc:
            self._problem(exc)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _problem(self, error: BaseException) -> None:
        sentence = f"history: {error} {getattr(error, 'hint', '')}".strip()
        if sentence not in self.problems:
            self.problems.append(sentence)
