"""The form for one server profile, and the API key section under it.

``ProfileForm`` shows a ``Profile`` in editable fields and reads it back
(``profile()``); it never validates beyond what a field can hold (the core's
``profiles.validate`` says what is wrong, in a sentence) and never sees a
saved key: the key box is write-only. Typing a key only records the wish
(``pending_key``); the settings dialog writes it to the keychain off the GUI
thread.

Where there is no keychain the key section says so and offers the two safe
choices: read the key from an environment variable, or keep it in memory for
this session only. There is no "save to a file" choice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.profiles import PROVIDERS, Profile

NO_KEYCHAIN_TEXT = (
    "This computer has no system keychain, so Streamdesk cannot store keys safely. "
    "Choose where the key comes from:"
)

_PROXY_SYSTEM, _PROXY_NONE, _PROXY_CUSTOM = 0, 1, 2
PROVIDER_LABELS = {
    "openai": "OpenAI-compatible (OpenAI, Ollama, llama.cpp, LM Studio, vLLM…)",
    "anthropic": "Anthropic Messages",
    "generic": "Generic SSE app format",
}


@dataclass(frozen=True, slots=True)
class KeyWish:
    """What the user asked for the key: ``key`` to store, or ``remove`` it."""

    key: str | None = None
    remove: bool = False
    session_only: bool = False


class ProfileForm(QWidget):
    """Edits one profile. ``changed`` fires on every edit (the dialog marks it unsaved)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._profile = Profile(name="")
        self._keychain = True

        self.name = QLineEdit(self)
        self.name.setAccessibleName("Profile name")
        self.provider = QComboBox(self)
        for name in PROVIDERS:
            self.provider.addItem(PROVIDER_LABELS.get(name, name), name)
        self.provider.setAccessibleName("Provider format")
        self.provider.setToolTip("The wire format the server speaks")
        self.base_url = QLineEdit(self)
        self.base_url.setAccessibleName("Base URL")
        self.base_url.setPlaceholderText("https://api.example.com/v1")
        self.model = QLineEdit(self)
        self.model.setAccessibleName("Model")
        self.system_prompt = QPlainTextEdit(self)
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setPlaceholderText("Optional instructions sent before every chat")
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setFixedHeight(70)
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(-0.1, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText("Server default")
        self.temperature.setAccessibleName("Temperature")
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSpecialValueText("Server default")
        self.max_tokens.setAccessibleName("Maximum tokens")
        self.headers = QPlainTextEdit(self)
        self.headers.setAccessibleName("Extra headers")
        self.headers.setPlaceholderText("One per line: Header-Name: value (no keys here)")
        self.headers.setTabChangesFocus(True)
        self.headers.setFixedHeight(54)
        self.proxy_mode = QComboBox(self)
        self.proxy_mode.addItems(["System proxy", "No proxy", "This proxy:"])
        self.proxy_mode.setAccessibleName("Proxy")
        self.proxy = QLineEdit(self)
        self.proxy.setAccessibleName("Proxy URL")
        self.proxy.setPlaceholderText("http://proxy.example.com:3128")
        self.proxy_mode.currentIndexChanged.connect(
            lambda i: self.proxy.setEnabled(i == _PROXY_CUSTOM)
        )
        self.ca_bundle = QLineEdit(self)
        self.ca_bundle.setAccessibleName("CA bundle")
        self.ca_bundle.setPlaceholderText("Extra certificates (PEM) trusted for this server")
        browse = QPushButton("Browse…", self)
        browse.setAccessibleName("Choose a CA bundle file")
        browse.clicked.connect(self._browse_ca)

        proxy_row = QHBoxLayout()
        proxy_row.addWidget(self.proxy_mode)
        proxy_row.addWidget(self.proxy, 1)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_bundle, 1)
        ca_row.addWidget(browse)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&Name", self.name)
        form.addRow("&Format", self.provider)
        form.addRow("Base &URL", self.base_url)
        form.addRow("&Model", self.model)
        form.addRow("S&ystem prompt", self.system_prompt)
        form.addRow("&Temperature", self.temperature)
        form.addRow("Max &tokens", self.max_tokens)
        form.addRow("Extra &headers", self.headers)
        # A row whose field is a layout gets no buddy: make the label's & work.
        proxy_label = QLabel("&Proxy", self)
        proxy_label.setBuddy(self.proxy_mode)
        ca_label = QLabel("&CA bundle", self)
        ca_label.setBuddy(self.ca_bundle)
        form.addRow(proxy_label, proxy_row)
        form.addRow(ca_label, ca_row)

        self.key_box = self._build_key_box()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.key_box)
        layout.addStretch(1)

        for line in (self.name, self.base_url, self.model, self.proxy, self.ca_bundle):
            line.textEdited.connect(self.changed)
        for text in (self.system_prompt, self.headers):
            text.textChanged.connect(self.changed)
        self.provider.currentIndexChanged.connect(self.changed)
        self.proxy_mode.currentIndexChanged.connect(self.changed)
        self.temperature.valueChanged.connect(self.changed)
        self.max_tokens.valueChanged.connect(self.changed)

    def _build_key_box(self) -> QGroupBox:
        box = QGroupBox("API key", self)
        self.store_label = QLabel(box)
        self.store_label.setObjectName("keyStore")
        self.store_label.setWordWrap(True)
        self.key_state = QLabel(box)
        self.key_state.setObjectName("keyState")
        self.key = QLineEdit(box)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("API key")
        self.key.setPlaceholderText(
            "Paste a new key to save it; leave empty to keep the current one"
        )
        self.key.textEdited.connect(self.changed)
        self.remove_key = QPushButton("Remove saved key", box)
        self.remove_key.setAccessibleName("Remove the saved API key")
        self.remove_key.setCheckable(True)
        self.remove_key.toggled.connect(self.changed)

        self.no_keychain = QLabel(NO_KEYCHAIN_TEXT, box)
        self.no_keychain.setObjectName("noKeychain")
        self.no_keychain.setWordWrap(True)
        self.use_env = QRadioButton("Read it from the environment variable", box)
        self.use_env.setAccessibleName("Read the key from an environment variable")
        self.env_name = QLineEdit(box)
        self.env_name.setAccessibleName("Environment variable name")
        self.env_name.setPlaceholderText("e.g. OPENAI_API_KEY")
        self.env_name.textEdited.connect(self.changed)
        self.use_session = QRadioButton("Keep it in memory for this session only", box)
        self.use_session.setAccessibleName("Keep the key in memory for this session only")
        self.key_choice = QButtonGroup(box)
        self.key_choice.addButton(self.use_env)
        self.key_choice.addButton(self.use_session)
        self.use_env.toggled.connect(self._key_choice_changed)

        env_row = QHBoxLayout()
        env_row.addWidget(self.use_env)
        env_row.addWidget(self.env_name, 1)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.remove_key)
        layout = QVBoxLayout(box)
        layout.addWidget(self.store_label)
        layout.addWidget(self.no_keychain)
        layout.addLayout(env_row)
        layout.addWidget(self.use_session)
        layout.addLayout(key_row)
        layout.addWidget(self.key_state)
        return box

    # ------------------------------------------------------------ in and out

    def set_store(self, description: str, *, keychain: bool) -> None:
        """Say where keys are kept; without a keychain, offer the two safe choices."""
        self._keychain = keychain
        self.store_label.setText(f"Keys are kept in: {description}" if keychain else description)
        for widget in (self.no_keychain, self.use_env, self.env_name, self.use_session):
            widget.setVisible(not keychain)
        self._key_choice_changed()

    def set_profile(self, profile: Profile) -> None:
        self._profile = profile
        blockers = [w.blockSignals(True) for w in self._inputs()]
        try:
            self.name.setText(profile.name)
            self.provider.setCurrentIndex(max(0, self.provider.findData(profile.provider)))
            self.base_url.setText(profile.base_url)
            self.model.setText(profile.model)
            self.system_prompt.setPlainText(profile.system_prompt)
            self.temperature.setValue(
                profile.temperature if profile.temperature is not None else -0.1
            )
            self.max_tokens.setValue(profile.max_tokens or 0)
            self.headers.setPlainText(
                "\n".join(f"{k}: {v}" for k, v in profile.extra_headers.items())
            )
            if profile.proxy is None:
                self.proxy_mode.setCurrentIndex(_PROXY_SYSTEM)
            elif profile.proxy == "":
                self.proxy_mode.setCurrentIndex(_PROXY_NONE)
            else:
                self.proxy_mode.setCurrentIndex(_PROXY_CUSTOM)
            self.proxy.setText(profile.proxy or "")
            self.proxy.setEnabled(self.proxy_mode.currentIndex() == _PROXY_CUSTOM)
            self.ca_bundle.setText(profile.ca_bundle or "")
            self.key.clear()
            self.remove_key.setChecked(False)
            self.env_name.setText(profile.api_key_env or "")
            (self.use_env if profile.api_key_env else self.use_session).setChecked(True)
        finally:
            for widget, was in zip(self._inputs(), blockers, strict=True):
                widget.blockSignals(was)
        embedded = profile.embedded
        for widget in (self.base_url, self.provider, self.proxy_mode, self.proxy, self.ca_bundle):
            widget.setEnabled(not embedded and (widget is not self.proxy or self.proxy.isEnabled()))
        self.key_box.setEnabled(not embedded)
        self._show_key_state()
        self._key_choice_changed()

    def _inputs(self) -> list[QWidget]:
        return [
            self.name,
            self.provider,
            self.base_url,
            self.model,
            self.system_prompt,
            self.temperature,
            self.max_tokens,
            self.headers,
            self.proxy_mode,
            self.proxy,
            self.ca_bundle,
            self.key,
            self.remove_key,
            self.env_name,
            self.use_env,
            self.use_session,
        ]

    def profile(self) -> Profile:
        """The profile as edited (``has_key`` as before; the dialog updates it)."""
        mode = self.proxy_mode.currentIndex()
        proxy = None if mode == _PROXY_SYSTEM else "" if mode == _PROXY_NONE else self.proxy.text()
        temperature = self.temperature.value()
        env = self.env_name.text().strip() or None
        if not self._keychain and not self.use_env.isChecked():
            env = None
        elif self._keychain:
            env = self._profile.api_key_env
        return dataclasses.replace(
            self._profile,
            name=self.name.text().strip(),
            provider=str(self.provider.currentData()),
            base_url=self.base_url.text().strip(),
            model=self.model.text().strip(),
            system_prompt=self.system_prompt.toPlainText(),
            temperature=None if temperature < 0 else round(temperature, 2),
            max_tokens=self.max_tokens.value() or None,
            extra_headers=parse_headers(self.headers.toPlainText()),
            proxy=proxy.strip() if proxy else proxy,
            ca_bundle=self.ca_bundle.text().strip() or None,
            api_key_env=env,
        )

    def key_wish(self) -> KeyWish:
        key = self.key.text().strip()
        if not self._keychain and self.use_env.isChecked():
            return KeyWish(remove=self._profile.has_key)
        if key:
            return KeyWish(key=key, session_only=not self._keychain)
        return KeyWish(remove=self.remove_key.isChecked())

    def _show_key_state(self) -> None:
        if self._profile.embedded:
            self.key_state.setText("The offline demo needs no key.")
        elif self._profile.has_key:
            self.key_state.setText("A key is saved for this profile.")
        elif self._profile.api_key_env:
            self.key_state.setText(f"The key is read from ${self._profile.api_key_env}.")
        else:
            self.key_state.setText("No key saved (fine for local servers).")
        self.remove_key.setVisible(self._profile.has_key)

    def _key_choice_changed(self, *_args: object) -> None:
        env = not self._keychain and self.use_env.isChecked()
        self.env_name.setEnabled(env)
        self.key.setEnabled(not env)

    def _browse_ca(self) -> None:
        dialog = QFileDialog(
            self, "Choose a CA bundle", "", "Certificates (*.pem *.crt *.cer);;All files (*)"
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self._ca_chosen)
        dialog.open()  # never exec() under qasync

    def _ca_chosen(self, path: str) -> None:
        self.ca_bundle.setText(path)
        self.changed.emit()


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines into a dict (blank lines ignored; the core validates names)."""
    headers: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        headers[name.strip()] = value.strip() if sep else ""
    return headers
