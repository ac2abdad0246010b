"""The stream inspections of the window's answers: live in memory, kept in the history.

``InspectionHistory`` wraps a core ``InspectionLog`` (the recent answers'
``InspectorModel``s) and the history's ``message_inspections`` rows:

- ``start(message_id, provider=...)``: the model a new turn reports to;
- ``finished(message_id, ended)``: the turn is over (saved already); its
  inspection is written to the history, bounded (``core.inspections``), the
  JSON built in a worker thread (a big stream takes a second) and the row
  written back on the GUI thread that owns the store;
- ``get(message_id)``: a model already in memory; ``load(message_id)``: one
  from the history, parsed in a worker thread (None when the answer has
  none: an older or imported answer, or a turn that never connected).

``wait_saved()`` lets the window finish pending writes before it closes the
history. It never touches widgets.
"""

from __future__ import annotations

import asyncio
import logging

from desktop_app.core.errors import StorageError, StreamdeskError
from desktop_app.core.events import TurnEnded
from desktop_app.core.inspections import InspectionLog, stored_json
from desktop_app.core.inspector_model import InspectorModel
from desktop_app.core.providers.base import Provider
from desktop_app.core.storage import HistoryStore
from desktop_app.qt.tasks import TaskRegistry

log = logging.getLogger(__name__)


class InspectionHistory:
    def __init__(self, history: HistoryStore, tasks: TaskRegistry) -> None:
        self.history = history
        self.log = InspectionLog()
        self._tasks = tasks
        self._saving: set[asyncio.Task[None]] = set()
        self._loading: dict[str, asyncio.Task[InspectorModel | None]] = {}

    def start(self, message_id: str, *, provider: Provider | None) -> InspectorModel:
        """A fresh inspection for an answer about to stream (Continue replaces the earlier one)."""
        self._loading.pop(message_id, None)
        return self.log.start(message_id, provider=provider)

    def get(self, message_id: str) -> InspectorModel | None:
        return self.log.get(message_id)

    def forget(self, message_ids: list[str]) -> None:
        """Answers removed from the history (regenerate, edit): their ids may be reused."""
        for message_id in message_ids:
            self.log.forget(message_id)

    # ------------------------------------------------------------ keeping

    def finished(self, message_id: str, ended: TurnEnded) -> None:
        """The answer was written: keep its inspection in the history too."""
        model = self.log.get(message_id)
        if model is None:
            return
        if model.end_state is None:
            model.finish(ended)  # ended here, not by the session (Stop, a bug)
        if not model.exchanges:
            return  # nothing went over the wire (no key, Stop before connecting)
        try:
            task = self._tasks.spawn(self._save(int(message_id), model), name="keep inspection")
        except RuntimeError:
            return  # the window is closing and no longer takes new work
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save(self, message_id: int, model: InspectorModel) -> None:
        # The turn is over, so nothing writes to the model while a worker reads it.
        data = await asyncio.to_thread(stored_json, model)
        if not data:
            log.warning("the inspection of message %s is too large to keep", message_id)
            return
        try:
            self.history.save_inspection(message_id, data)
        except StorageError:
            log.warning("could not keep the inspection of message %s", message_id, exc_info=True)

    async def wait_saved(self, timeout: float) -> None:  # noqa: ASYNC109 - bounded by design
        """Let pending writes finish (at most ``timeout`` s), before the history closes."""
        pending = [t for t in self._saving if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # ------------------------------------------------------------ bringing back

    async def load(self, message_id: str) -> InspectorModel | None:
        """The answer's inspection: from memory, else from the history (parsed off the GUI thread)."""
        model = self.log.get(message_id)
        if model is not None:
            return model
        task = self._loading.get(message_id)
        if task is None:
            try:
                task = self._tasks.spawn(self._load(message_id), name="load inspection")
            except RuntimeError:
                return None  # the window is closing
            self._loading[message_id] = task
            task.add_done_callback(lambda _t: self._forget_load(message_id, task))
        return await asyncio.shield(task)

    def _forget_load(self, message_id: str, task: asyncio.Task[InspectorModel | None]) -> None:
        if self._loading.get(message_id) is task:
            del self._loading[message_id]

    async def _load(self, message_id: str) -> InspectorModel | None:
        try:
            stored = self.history.inspection(int(message_id))
        except (StorageError, ValueError):
            return None
        if stored is None:
            return None
        try:
            model = await asyncio.to_thread(InspectorModel.from_json, stored)
        except StreamdeskError:
            log.warning("the stored inspection of message %s is damaged", message_id)
            return None
        # A turn started meanwhile (Continue) has the newer inspection: keep that one.
        current = self.log.get(message_id)
        if current is not None:
            return current
        self.log.put(message_id, model)
        return model
