"""Chat → Next answer: in the offline demo, a stub scenario or a recording answers the next prompt.

For testers: ``NextAnswerChooser`` adds a submenu listing the embedded
stub's scenarios (filled when first opened, from the stub's own registry)
and "From a recording…" (a file dialog opened with ``open()``). The choice
is armed for the next prompt only: a status-bar button shows it while armed
(clicking it, or "Answer normally", disarms it), and ``take()`` spends it on
the next turn, giving the ``TurnTarget`` the stub's header, and for a
recording its format and base URL (``offline_answers``). It applies to the
offline demo profile only and is dropped when another profile is chosen.

It never blocks: registering a recording (reading the file, starting the
stub if needed) runs in the task registry.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu, QStatusBar, QToolButton, QWidget

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.profiles import Profile
from desktop_app.core.providers.registry import get_provider
from desktop_app.qt.errors import describe
from desktop_app.qt.offline_answers import (
    SCENARIO_HEADER,
    NextAnswer,
    scenario_answer,
    scenario_choices,
)
from desktop_app.qt.services import AppServices
from desktop_app.qt.tasks import TaskRegistry
from desktop_app.qt.turns import TurnTarget

NORMAL = "Answer &normally"
FROM_RECORDING = "From a &recording…"


class NextAnswerChooser(QObject):
    armedChanged = Signal(str)  # the armed choice's label, "" when the next answer is normal
    problemReported = Signal(str, str)  # (sentence, hint)

    def __init__(
        self,
        parent: QWidget,
        services: AppServices,
        tasks: TaskRegistry,
        menu: QMenu,
        status_bar: QStatusBar,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._services = services
        self._tasks = tasks
        self._armed: NextAnswer | None = None
        self.menu = QMenu("Ne&xt answer (offline demo)", parent)
        self.menu.setObjectName("menu_next_answer")
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self._fill)
        menu.addSeparator()
        self.menu_action = menu.addMenu(self.menu)
        self.menu_action.setStatusTip("Choose how the offline demo server answers the next prompt")
        self._group = QActionGroup(self)
        self._normal = self._checkable(NORMAL, "")
        self._normal.setChecked(True)
        self._normal.triggered.connect(self.disarm)
        self._filled = False
        self.indicator = QToolButton(status_bar)
        self.indicator.setObjectName("nextAnswerIndicator")
        self.indicator.setAutoRaise(True)
        self.indicator.setToolTip("The next prompt gets this answer. Click to answer normally.")
        self.indicator.clicked.connect(self.disarm)
        self.indicator.hide()
        status_bar.addPermanentWidget(self.indicator)

    # ------------------------------------------------------------ the menu

    def _checkable(self, text: str, name: str) -> QAction:
        action = QAction(text, self.menu)
        action.setCheckable(True)
        action.setData(name)
        self._group.addAction(action)
        self.menu.addAction(action)
        return action

    def _fill(self) -> None:
        """The scenarios, read from the stub's registry the first time the menu opens."""
        if self._filled:
            return
        self._filled = True
        self.menu.addSeparator()
        for name, description in scenario_choices():
            action = self._checkable(name, name)
            action.setToolTip(description)
            action.setStatusTip(description)
            action.triggered.connect(lambda _checked=False, n=name: self.choose_scenario(n))
        self.menu.addSeparator()
        recording = self.menu.addAction(FROM_RECORDING)
        recording.setStatusTip("Replay a recorded stream (streamdesk ask --record, the inspector)")
        recording.triggered.connect(self.choose_recording_file)
        self._sync_checks()

    def set_available(self, available: bool) -> None:
        """Only the offline demo's embedded stub can answer this way."""
        self.menu_action.setEnabled(available)
        if not available:
            self.disarm()

    # ------------------------------------------------------------ choosing

    @property
    def armed(self) -> NextAnswer | None:
        return self._armed

    def choose_scenario(self, name: str) -> None:
        try:
            self.arm(scenario_answer(name))
        except StreamdeskError as exc:
            self.problemReported.emit(*describe(exc))

    def choose_recording_file(self) -> None:
        dialog = QFileDialog(self._parent, "Answer the next prompt with a recording")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Recordings (*.jsonl)", "All files (*)"])
        dialog.fileSelected.connect(self.choose_recording)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def choose_recording(self, path: str) -> None:
        """Register the recording with the offline stub (in the background), then arm it."""
        self._tasks.spawn(self._register(Path(path)), name="register recording")

    async def _register(self, path: Path) -> None:
        try:
            answer = await self._services.recording_answer(path)
        except StreamdeskError as exc:
            self.problemReported.emit(*describe(exc))
            return
        self.arm(answer)

    def arm(self, answer: NextAnswer) -> None:
        self._armed = answer
        self.indicator.setText(f"Next answer: {answer.label}  ✕")
        self.indicator.setAccessibleName(f"Next answer: {answer.label}. Press to answer normally.")
        self.indicator.show()
        self._sync_checks()
        self.armedChanged.emit(answer.label)

    def disarm(self) -> None:
        if self._armed is None:
            return
        self._armed = None
        self.indicator.hide()
        self._sync_checks()
        self.armedChanged.emit("")

    def _sync_checks(self) -> None:
        armed = self._armed
        wanted = armed.headers.get(SCENARIO_HEADER, "") if armed is not None else ""
        for action in self._group.actions():
            if action is self._normal:
                action.setChecked(armed is None)
            else:
                action.setChecked(bool(wanted) and action.data() == wanted)

    # ------------------------------------------------------------ spending it

    def take(self, target: TurnTarget, profile: Profile) -> TurnTarget:
        """``target`` answered as armed (once; then back to normal), or ``target`` itself."""
        answer = self._armed
        if answer is None or not profile.embedded:
            return target
        self.disarm()
        services = self._services
        provider = get_provider(answer.provider) if answer.provider else target.provider
        return dataclasses.replace(
            target, provider=provider, connect=lambda: services.connect(profile, answer)
        )
