"""The stream inspections of recent answers, by message id: what the inspector can show.

``InspectionLog.start()`` makes the ``InspectorModel`` a new answer's turn
reports to (pass it to ``stream_turn`` as the observer; give it the
``TurnEnded`` with ``finish``); ``get()`` finds it again for the inspector,
live or finished. Only the ``max_answers`` most recently started or looked
at are kept in memory; a finished one can be kept longer as
``model.to_json()`` in the history and come back with ``load()``.

Must not: do I/O or import Qt.
"""

from __future__ import annotations

from collections import OrderedDict

from desktop_app.core.inspector_model import InspectorModel
from desktop_app.core.providers.base import Provider

MAX_ANSWERS = 50


class InspectionLog:
    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self._max = max(1, max_answers)
        self._models: OrderedDict[str, InspectorModel] = OrderedDict()

    def __len__(self) -> int:
        return len(self._models)

    def start(
        self, message_id: str, *, provider: Provider | None, secret: str | None = None
    ) -> InspectorModel:
        """A fresh model for an answer about to stream (it replaces an earlier one: Continue).

        The key may be given later (``model.set_secret``), before the first request.
        """
        model = InspectorModel(provider=provider, secret=secret)
        self.put(message_id, model)
        return model

    def put(self, message_id: str, model: InspectorModel) -> None:
        self._models[message_id] = model
        self._models.move_to_end(message_id)
        while len(self._models) > self._max:
            oldest, dropped = next(iter(self._models.items()))
            if dropped.end_state is None and dropped.exchanges:
                # Still streaming: never drop a live one; drop the next oldest instead.
                self._models.move_to_end(oldest)
                if all(m.end_state is None and m.exchanges for m in self._models.values()):
                    break
                continue
            del self._models[oldest]

    def get(self, message_id: str) -> InspectorModel | None:
        model = self._models.get(message_id)
        if model is not None:
            self._models.move_to_end(message_id)
        return model

    def load(
        self, message_id: str, stored: str, *, provider: Provider | None = None
    ) -> InspectorModel:
        """A stored inspection (``to_json``) back in the log; raises ``InvalidRecording``."""
        model = InspectorModel.from_json(stored, provider=provider)
        self.put(message_id, model)
        return model

    def forget(self, message_id: str) -> None:
        self._models.pop(message_id, None)
