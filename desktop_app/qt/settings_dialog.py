"""Settings: server profiles (with their keys), theme and text size.

``SettingsDialog`` edits copies of the profiles and settings and checks them
with the core's validation before it closes (an invalid profile shows the
core's sentence in the dialog; nothing is half-saved). ``open_settings``
opens it with ``open()`` (never ``exec()``: no nested loop under qasync) and,
when saved, applies it: profiles and settings go to their TOML files (never a
key), and keys go to the keychain, or to memory for this session, in a
background task with a timeout so an unlock prompt cannot freeze the window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import profiles as profiles_mod
from desktop_app.core.errors import ConfigError, StreamdeskError
from desktop_app.core.profiles import Profile, Settings
from desktop_app.core.secrets import KeyringSecretStore, adelete_key, aget_key, aset_key
from desktop_app.qt.errors import describe
from desktop_app.qt.profile_form import KeyWish, ProfileForm
from desktop_app.qt.theme import ThemeMode

if TYPE_CHECKING:
    from desktop_app.qt.main_window import MainWindow

log = logging.getLogger(__name__)

_TEMPLATE_LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "ollama": "Ollama (local)",
    "lmstudio": "LM Studio (local)",
    "llamacpp": "llama.cpp server (local)",
    "openrouter": "OpenRouter",
}


@dataclasses.dataclass
class _Row:
    profile: Profile
    original_name: str | None  # None: added in this dialog
    wish: KeyWish = dataclasses.field(default_factory=KeyWish)


class SettingsDialog(QDialog):
    """Edit profiles, keys and appearance. Read the result after ``accepted``."""

    def __init__(
        self,
        profiles: list[Profile],
        settings: Settings,
        current: str,
        *,
        store_description: str,
        keychain: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.setObjectName("settingsDialog")
        self._rows = [_Row(p, p.name) for p in profiles]
        self._removed: list[str] = []
        self._current_row = -1
        self.settings = settings

        self.list = QListWidget(self)
        self.list.setAccessibleName("Profiles")
        self.add_button = QPushButton("Add", self)
        self.add_button.setAccessibleName("Add a profile")
        add_menu = QMenu(self.add_button)
        for key, label in _TEMPLATE_LABELS.items():
            add_menu.addAction(label, lambda k=key: self.add_profile(k))
        self.add_button.setMenu(add_menu)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setAccessibleName("Remove this profile")
        self.remove_button.clicked.connect(self.remove_profile)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(list_buttons)

        self.form = ProfileForm(self)
        self.form.set_store(store_description, keychain=keychain)
        self.form.name.textEdited.connect(self._name_edited)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(self.form)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([180, 520])

        self.theme = QComboBox(self)
        self.theme.addItems(["Follow the system", "Light", "Dark"])
        self.theme.setAccessibleName("Theme")
        self.theme.setCurrentIndex(["system", "light", "dark"].index(settings.theme))
        self.font_size = QSpinBox(self)
        self.font_size.setRange(5, 48)
        self.font_size.setSpecialValueText("System size")
        self.font_size.setSuffix(" pt")
        self.font_size.setAccessibleName("Text size")
        self.font_size.setValue(settings.font_size or 5)
        appearance = QGroupBox("Appearance", self)
        appearance_form = QFormLayout(appearance)
        appearance_form.addRow("T&heme", self.theme)
        appearance_form.addRow("Te&xt size", self.font_size)

        self.error = QLabel(self)
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c5221f;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(appearance)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(780, 640)

        for row in self._rows:
            self.list.addItem(row.profile.name)
        self.list.currentRowChanged.connect(self._select)
        names = [r.profile.name for r in self._rows]
        self.list.setCurrentRow(names.index(current) if current in names else 0)

    # ------------------------------------------------------------ editing

    def _select(self, index: int) -> None:
        self._commit_form()
        self._current_row = index
        if 0 <= index < len(self._rows):
            row = self._rows[index]
            self.form.set_profile(row.profile)
            self.remove_button.setEnabled(not row.profile.embedded)

    def _commit_form(self) -> None:
        if 0 <= self._current_row < len(self._rows):
            row = self._rows[self._current_row]
            row.profile = self.form.profile()
            row.wish = self.form.key_wish()

    def _name_edited(self, text: str) -> None:
        item = self.list.item(self._current_row)
        if item is not None:
            item.setText(text.strip() or "(unnamed)")

    def add_profile(self, template: str) -> None:
        self._commit_form()
        taken = {r.profile.name.casefold() for r in self._rows}
        base = profiles_mod.TEMPLATES[template].name
        name, n = base, 2
        while name.casefold() in taken:
            name, n = f"{base} {n}", n + 1
        profile = profiles_mod.from_template(template, name)
        self._rows.append(_Row(profile, None))
        self.list.addItem(profile.name)
        self.list.setCurrentRow(len(self._rows) - 1)
        self.form.name.setFocus()
        self.form.name.selectAll()

    def remove_profile(self) -> None:
        index = self._current_row
        if not 0 <= index < len(self._rows) or self._rows[index].profile.embedded:
            return
        row = self._rows.pop(index)
        if row.original_name is not None:
            self._removed.append(row.original_name)
        self._current_row = -1
        self.list.takeItem(index)
        self.list.setCurrentRow(min(index, len(self._rows) - 1))

    # ------------------------------------------------------------ result

    def try_accept(self) -> None:
        """Close only if every profile is valid; else say what to fix."""
        self._commit_form()
        try:
            profiles_mod.validate_all(self.profiles())
        except ConfigError as exc:
            sentence, hint = describe(exc)
            self.error.setText(f"{sentence} {hint}".strip())
            self.error.show()
            return
        self.error.hide()
        self.accept()

    def profiles(self) -> list[Profile]:
        """The edited profiles; ``has_key`` follows what is asked for the key."""
        out = []
        for row in self._rows:
            profile = row.profile
            if row.wish.key:
                profile = dataclasses.replace(profile, has_key=True)
            elif row.wish.remove:
                profile = dataclasses.replace(profile, has_key=False)
            out.append(profile)
        return out

    def key_changes(self) -> list[tuple[str, str | None, KeyWish]]:
        """(name, original name, wish) for every profile whose key must be written or moved."""
        changes = []
        for row, profile in zip(self._rows, self.profiles(), strict=True):
            renamed = row.original_name is not None and row.original_name != profile.name
            if row.wish.key or row.wish.remove or (renamed and profile.has_key):
                changes.append((profile.name, row.original_name, row.wish))
        return changes

    def removed(self) -> list[str]:
        return list(self._removed)

    def new_settings(self) -> Settings:
        theme = ["system", "light", "dark"][self.theme.currentIndex()]
        size = self.font_size.value()
        return dataclasses.replace(
            self.settings,
            theme=theme,  # type: ignore[arg-type]
            font_size=None if size < 6 else size,
        )


# ---------------------------------------------------------------- open and apply


def open_settings(window: MainWindow) -> SettingsDialog:
    """Open the dialog (non-blocking); saving applies it to ``window``."""
    services = window.services
    store = services.secrets_known
    keychain = store is None or isinstance(store, KeyringSecretStore)
    description = store.description if store is not None else "the system keychain (checking…)"
    dialog = SettingsDialog(
        services.profiles,
        services.settings,
        window.current_profile().name,
        store_description=description,
        keychain=keychain,
        parent=window,
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.accepted.connect(lambda: apply_settings(window, dialog))
    dialog.open()
    if store is None:
        # Opened before the keychain was looked for: look now (off the GUI thread) and let the
        # form say where keys will go, offering the safe choices if there is no keychain.
        task = window.tasks.spawn(_show_store(window, dialog), name="find the keychain")
        dialog.destroyed.connect(lambda *_: task.cancel())
    window.settingsOpened.emit(dialog)
    return dialog


async def _show_store(window: MainWindow, dialog: SettingsDialog) -> None:
    store = await window.services.secret_store()
    keychain = isinstance(store, KeyringSecretStore)
    description = await asyncio.to_thread(lambda: store.description)  # may ask D-Bus
    dialog.form.set_store(description, keychain=keychain)


def apply_settings(window: MainWindow, dialog: SettingsDialog) -> None:
    services = window.services
    profiles = dialog.profiles()
    changes = dialog.key_changes()
    session_only = {name for name, _old, wish in changes if wish.session_only and wish.key}
    try:
        services.save_profiles(profiles, session_keys=session_only)
    except (StreamdeskError, OSError) as exc:
        window.banner.add(*describe(exc))
        return
    settings = dialog.new_settings()
    current = window.current_profile().name
    if current not in {p.name for p in profiles}:
        current = profiles[0].name if profiles else ""
    services.save_settings(dataclasses.replace(settings, last_profile=current or None))
    window.set_theme_mode(ThemeMode(settings.theme))
    window.apply_font_size(settings.font_size)
    window.reload_profiles(current)
    if changes or dialog.removed():
        window.tasks.spawn(_write_keys(window, changes, dialog.removed()), name="write keys")
    else:
        window.settingsApplied.emit("")


async def _write_keys(
    window: MainWindow, changes: list[tuple[str, str | None, KeyWish]], removed: list[str]
) -> None:
    """Keys to the keychain (or memory), off the GUI thread, each bounded by a timeout."""
    store = await window.services.secret_store()
    problems: list[str] = []
    done: list[str] = []
    for name, old, wish in changes:
        try:
            if wish.key:
                await aset_key(store, name, wish.key)
                done.append(f"Key saved for “{name}”")
            elif wish.remove:
                await adelete_key(store, old or name)
                done.append(f"Key removed for “{name}”")
            if old is not None and old != name:
                if not wish.key and not wish.remove:
                    key = await aget_key(store, old)
                    if key:
                        await aset_key(store, name, key)
                await adelete_key(store, old)
        except StreamdeskError as exc:
            sentence, hint = describe(exc)
            problems.append(f"“{name}”: {sentence} {hint}".strip())
    for name in removed:
        try:
            await adelete_key(store, name)
        except StreamdeskError:
            log.info("could not delete the key of removed profile %s", name)
    if problems:
        window.banner.add("The API key could not be saved.", " ".join(problems))
    summary = "; ".join(done)
    if summary:
        where = "this session only" if not isinstance(store, KeyringSecretStore) else "keychain"
        window.statusBar().showMessage(f"{summary} ({where}).", 5000)
    window.settingsApplied.emit(summary)
