"""The profile and model picker above the chat, always in view.

The profile box lists the server profiles by name; the model box is editable
and offers the models the server lists (``/v1/models``), fetched by the
window in the background. Until they arrive, or when the server has no list
or cannot be reached, the typed model stays usable and a short note says why
the list is missing.

The bar shows and reports choices; it never fetches, awaits or saves.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QWidget,
)


class ProfileBar(QWidget):
    """Pick the profile and the model for the next message."""

    profileChosen = Signal(str)  # profile name
    modelChosen = Signal(str)  # model name (typed or picked)
    refreshRequested = Signal()  # list the server's models again
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profileBar")
        self._filling = False

        profile_label = QLabel("&Profile", self)
        self.profile_box = QComboBox(self)
        self.profile_box.setObjectName("profileBox")
        self.profile_box.setAccessibleName("Server profile")
        self.profile_box.setToolTip("Which server answers (Ctrl+Shift+P)")
        self.profile_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.profile_box.currentTextChanged.connect(self._profile_changed)
        profile_label.setBuddy(self.profile_box)

        model_label = QLabel("&Model", self)
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("modelBox")
        self.model_box.setEditable(True)
        self.model_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_box.setAccessibleName("Model")
        self.model_box.setToolTip("The model to ask; pick one the server lists or type a name")
        self.model_box.setMinimumContentsLength(18)
        self.model_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.model_box.activated.connect(self._model_picked)
        line_edit = self.model_box.lineEdit()
        assert line_edit is not None
        line_edit.setAccessibleName("Model name")
        line_edit.editingFinished.connect(self._model_typed)
        model_label.setBuddy(self.model_box)

        self.refresh_button = QToolButton(self)
        self.refresh_button.setText("↻")
        self.refresh_button.setAccessibleName("Refresh the model list")
        self.refresh_button.setToolTip("Ask the server for its models again")
        self.refresh_button.clicked.connect(self.refreshRequested)

        self.note = QLabel(self)
        self.note.setObjectName("modelNote")
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.settings_button = QToolButton(self)
        self.settings_button.setText("Settings")
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_button.setAccessibleName("Open settings")
        self.settings_button.setToolTip("Profiles, keys, appearance (Ctrl+,)")
        self.settings_button.clicked.connect(self.settingsRequested)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(profile_label)
        layout.addWidget(self.profile_box)
        layout.addSpacing(8)
        layout.addWidget(model_label)
        layout.addWidget(self.model_box, 1)
        layout.addWidget(self.refresh_button)
        layout.addWidget(self.note, 1)
        layout.addWidget(self.settings_button)

        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(300)  # say "listing models…" only if it takes a while
        self._busy_timer.timeout.connect(lambda: self.note.setText("Listing models…"))

    # ------------------------------------------------------------ filled by the window

    def set_profiles(self, names: list[str], current: str) -> None:
        self._filling = True
        try:
            self.profile_box.clear()
            self.profile_box.addItems(names)
            index = self.profile_box.findText(current)
            self.profile_box.setCurrentIndex(max(0, index))
        finally:
            self._filling = False

    def current_profile(self) -> str:
        return self.profile_box.currentText()

    def current_model(self) -> str:
        return self.model_box.currentText().strip()

    def set_model(self, model: str) -> None:
        """Show the profile's model before the server's list arrives."""
        self._filling = True
        try:
            self.model_box.clear()
            if model:
                self.model_box.addItem(model)
            self.model_box.setEditText(model)
        finally:
            self._filling = False

    def listing_started(self) -> None:
        self.note.clear()
        self._busy_timer.start()

    def set_models(self, models: list[str], current: str, note: str = "") -> None:
        """The server's model list arrived (``models`` may be empty; ``note`` says why)."""
        self._busy_timer.stop()
        self._filling = True
        try:
            self.model_box.clear()
            names = list(dict.fromkeys(models))
            if current and current not in names:
                names.insert(0, current)  # the typed model always stays a choice
            self.model_box.addItems(names)
            self.model_box.setEditText(current)
        finally:
            self._filling = False
        self.note.setText(note)
        self.note.setToolTip(note)
        count = len(models)
        self.model_box.setAccessibleDescription(
            f"{count} models listed by the server" if count else (note or "Type a model name")
        )

    def focus_profiles(self) -> None:
        self.profile_box.setFocus()
        self.profile_box.showPopup()

    # ------------------------------------------------------------ user choices

    def _profile_changed(self, name: str) -> None:
        if not self._filling and name:
            self.profileChosen.emit(name)

    def _model_picked(self, _index: int) -> None:
        if not self._filling:
            self.modelChosen.emit(self.current_model())

    def _model_typed(self) -> None:
        if not self._filling and self.current_model():
            self.modelChosen.emit(self.current_model())
