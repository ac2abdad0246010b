"""The main window: conversation list, profile bar, chat view and composer, wired together.

It builds the widgets, connects them to the ``ChatController`` (what chat
actions mean) and to ``AppServices`` (history, profiles, keys, clients, the
offline stub), keeps the window state (geometry, theme, font size) and shows
problems in a non-modal banner: a damaged history or a broken settings file
never stops the app or opens a blocking dialog.

It never blocks the GUI thread and never runs a nested event loop: dialogs
are opened with ``open()``, background work goes through the ``TaskRegistry``.
Closing is two-step: ``closeEvent`` asks ``app.main`` to shut down, which
stops the streams (saving them), then hides the window for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import paths
from desktop_app.core.errors import StreamdeskError
from desktop_app.core.profiles import Profile
from desktop_app.core.providers.registry import get_provider
from desktop_app.core.session import TurnSettings
from desktop_app.qt.chat_controller import ChatController, TurnTarget
from desktop_app.qt.chat_view import ChatView
from desktop_app.qt.composer import Composer
from desktop_app.qt.errors import describe
from desktop_app.qt.markdown_body import warm_up_in_background
from desktop_app.qt.profile_bar import ProfileBar
from desktop_app.qt.services import AppServices
from desktop_app.qt.sidebar import ConversationItem, Sidebar
from desktop_app.qt.tasks import TaskRegistry
from desktop_app.qt.theme import ThemeManager, ThemeMode, app_icon
from desktop_app.qt.window_actions import WindowActions, shortcuts_html

log = logging.getLogger(__name__)

MODEL_LIST_TIMEOUT = 10.0
SHUTDOWN_GRACE = 5.0
DEFAULT_FONT_POINTS = 10.0


class Banner(QFrame):
    """A message across the top of the chat that does not block anything."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAccessibleName("Dismiss this message")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self._messages: list[str] = []
        self.hide()

    def add(self, sentence: str, hint: str = "") -> None:
        text = sentence if not hint else f"{sentence} {hint}"
        if text in self._messages:
            return
        self._messages.append(text)
        self.label.setText("\n".join(self._messages))
        self.setAccessibleName("Notice: " + " ".join(self._messages))
        self.show()

    def text(self) -> str:
        return "\n".join(self._messages)

    def dismiss(self) -> None:
        self._messages.clear()
        self.label.clear()
        self.hide()


class MainWindow(QMainWindow):
    """Streamdesk's one window."""

    closeRequested = Signal()  # the user (or the system) asked to close
    modelsListed = Signal(str)  # profile name, after each model-list attempt
    settingsOpened = Signal(object)  # the SettingsDialog just opened
    settingsApplied = Signal(str)  # saved; keys written (a summary, "" if none changed)

    def __init__(
        self,
        services: AppServices,
        tasks: TaskRegistry,
        theme_manager: ThemeManager | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.setWindowTitle("Streamdesk")
        self.setWindowIcon(app_icon())
        self.setObjectName("mainWindow")
        self.setAccessibleName("Streamdesk")
        self._closing = False
        self._drafts: dict[str, str] = {}
        self._last_deleted: int | None = None
        self._model_task: asyncio.Task[None] | None = None
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        mode = ThemeMode(services.settings.theme)
        self.theme_manager = theme_manager or ThemeManager(app, mode)
        if self.theme_manager.mode is not mode:
            self.theme_manager.set_mode(mode)

        self.sidebar = Sidebar(self)
        self.profile_bar = ProfileBar(self)
        self.banner = Banner(self)
        self.chat_view = ChatView(self, theme=self.theme_manager.theme)
        self.composer = Composer(self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.profile_bar)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.chat_view, 1)
        right_layout.addWidget(self.composer)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([240, 760])
        self.setCentralWidget(self.splitter)
        self.statusBar().setSizeGripEnabled(True)

        self.chat = ChatController(
            history=services.history, view=self.chat_view, targets=self, tasks=tasks, parent=self
        )
        self.commands = WindowActions(self)
        self._connect()
        self._apply_font(services.settings.font_size)
        self._fill_profiles(services.profile(None).name)
        self._restore_window_state()

    # ------------------------------------------------------------ wiring

    def _connect(self) -> None:
        chat, composer, sidebar, view = self.chat, self.composer, self.sidebar, self.chat_view
        composer.sendRequested.connect(chat.send)
        composer.editSubmitted.connect(chat.resend_edited)
        composer.stopRequested.connect(lambda: chat.stop())
        view.retryRequested.connect(chat.retry)
        view.regenerateRequested.connect(chat.regenerate)
        view.continueRequested.connect(chat.continue_answer)
        view.editRequested.connect(self.edit_message)
        # The message bodies open http/https links themselves (and refuse the rest).
        view.linkActivated.connect(
            lambda url: self.statusBar().showMessage(f"Opened {url.toString()}", 3000)
        )
        view.noticeShown.connect(lambda text: self.statusBar().showMessage(text, 3000))

        chat.conversationsChanged.connect(self.refresh_sidebar)
        chat.conversationOpened.connect(self._conversation_opened)
        chat.streamingChanged.connect(self._streaming_changed)
        chat.problemReported.connect(self.banner.add)

        sidebar.conversationSelected.connect(lambda cid: self.open_conversation(int(cid)))
        sidebar.newRequested.connect(self.new_chat)
        sidebar.renameRequested.connect(lambda cid, title: chat.rename(int(cid), title))
        sidebar.deleteRequested.connect(lambda cid: self.delete_conversation(int(cid)))
        sidebar.undoRequested.connect(self.undo_delete)
        sidebar.undo_bar.expired.connect(self._undo_expired)
        sidebar.searchChanged.connect(self.search)

        bar = self.profile_bar
        bar.profileChosen.connect(self.choose_profile)
        bar.modelChosen.connect(self._model_chosen)
        bar.refreshRequested.connect(lambda: self.list_models(self.current_profile()))
        bar.settingsRequested.connect(self.open_settings)

        self.theme_manager.themeChanged.connect(self.chat_view.set_theme)

        a = self.commands
        a["new_chat"].triggered.connect(self.new_chat)
        a["export_chat"].triggered.connect(lambda: self.export_chats(current_only=True))
        a["export_all"].triggered.connect(lambda: self.export_chats(current_only=False))
        a["import_chats"].triggered.connect(self.import_chats)
        a["settings"].triggered.connect(self.open_settings)
        a["quit"].triggered.connect(self.close)
        a["copy_answer"].triggered.connect(self.copy_last_answer)
        a["edit_last"].triggered.connect(self.edit_last_message)
        a["search"].triggered.connect(self._focus_search)
        a["rename"].triggered.connect(lambda: self.sidebar.begin_rename())
        a["delete_chat"].triggered.connect(self._delete_current)
        a["undo_delete"].triggered.connect(self.undo_delete)
        a["stop"].triggered.connect(self._stop_or_cancel)
        a["regenerate"].triggered.connect(self._regenerate_last)
        a["continue"].triggered.connect(self._continue_last)
        a["focus_composer"].triggered.connect(self.composer.focus_editor)
        a["pick_profile"].triggered.connect(self.profile_bar.focus_profiles)
        a["pick_model"].triggered.connect(self._focus_model)
        a["previous_chat"].triggered.connect(lambda: self._step_conversation(-1))
        a["next_chat"].triggered.connect(lambda: self._step_conversation(1))
        a["zoom_in"].triggered.connect(lambda: self.change_font_size(1))
        a["zoom_out"].triggered.connect(lambda: self.change_font_size(-1))
        a["zoom_reset"].triggered.connect(lambda: self.change_font_size(0))
        a["jump_latest"].triggered.connect(self.chat_view.jump_to_latest)
        a["toggle_sidebar"].toggled.connect(self.sidebar.setVisible)
        a["shortcuts"].triggered.connect(self.show_shortcuts)
        a["about"].triggered.connect(self.show_about)
        a["stop"].setEnabled(False)
        a["undo_delete"].setEnabled(False)

    # ------------------------------------------------------------ start

    def start(self) -> None:
        """After the first show: open the latest chat, list models, warm up, show problems."""
        for problem in self.services.problems:
            sentence, hint = describe(problem)
            self.banner.add(sentence, hint)
        if self.services.history.recovered:
            count = self.services.history.recovered
            self.statusBar().showMessage(
                f"{count} answer{'s were' if count != 1 else ' was'} cut off when Streamdesk "
                "last closed; use Continue to finish.",
                10_000,
            )
        latest = self.services.history.latest_conversation()
        if latest is not None:
            self.open_conversation(latest.id)
        else:
            self.new_chat()
        self.refresh_sidebar()
        profile = self.current_profile()
        self.tasks.spawn(self.services.warm_up(profile), name="warm up")
        self.list_models(profile)
        # Compile the Markdown parser and lexers off the GUI thread, before the first answer.
        warm_up_in_background()
        self.composer.focus_editor()

    # ------------------------------------------------------------ profiles and models

    def current_profile(self) -> Profile:
        return self.services.profile(self.profile_bar.current_profile())

    def current_target(self) -> TurnTarget:
        """Where the next message goes (``ChatController`` asks at each send)."""
        profile = self.current_profile()
        provider = get_provider(profile.provider)
        model = self.profile_bar.current_model() or profile.model
        services = self.services
        return TurnTarget(
            profile=profile.name,
            provider=provider,
            model=model,
            connect=lambda: services.connect(profile),
            system=profile.system_prompt or None,
            temperature=profile.temperature,
            max_tokens=profile.max_tokens,
            settings=TurnSettings(),
        )

    def _fill_profiles(self, current: str) -> None:
        names = [p.name for p in self.services.profiles]
        self.profile_bar.set_profiles(names, current)
        self.profile_bar.set_model(self.services.profile(current).model)
        self._update_title()

    def reload_profiles(self, current: str) -> None:
        """The profiles were edited: refill the picker and list the models again."""
        self._fill_profiles(current)
        self.list_models(self.current_profile())

    def choose_profile(self, name: str) -> None:
        profile = self.services.profile(name)
        self.profile_bar.set_model(profile.model)
        self.services.save_settings(
            dataclasses.replace(self.services.settings, last_profile=profile.name)
        )
        self._update_title()
        self.list_models(profile)
        self.tasks.spawn(self.services.warm_up(profile), name="warm up")

    def _model_chosen(self, model: str) -> None:
        profile = self.current_profile()
        if model == profile.model:
            return
        # The picked model sticks to the profile (saved in profiles.toml).
        updated = [
            dataclasses.replace(p, model=model) if p.name == profile.name else p
            for p in self.services.profiles
        ]
        try:
            self.services.save_profiles(updated)
        except (StreamdeskError, OSError) as exc:
            self.banner.add(*describe(exc))
        self._update_title()

    def list_models(self, profile: Profile) -> None:
        """Ask the server for its models in the background; the typed model stays usable."""
        if self._model_task is not None and not self._model_task.done():
            self._model_task.cancel()
        self.profile_bar.listing_started()
        self._model_task = self.tasks.spawn(self._list_models(profile), name="list models")

    async def _list_models(self, profile: Profile) -> None:
        models: list[str] = []
        note = ""
        try:
            provider = get_provider(profile.provider)
            async with asyncio.timeout(MODEL_LIST_TIMEOUT):
                client, endpoint = await self.services.connect(profile)
                if provider.models_url(endpoint) is None:
                    note = "This server format has no model list: type the model name."
                else:
                    models = await client.list_models(provider, endpoint)
                    if not models:
                        note = "The server listed no models: type the model name."
        except TimeoutError:
            note = "The server did not list its models in time: type the model name."
        except StreamdeskError as exc:
            sentence, _hint = describe(exc)
            note = f"Models not listed: {sentence}"
        if self.profile_bar.current_profile() == profile.name:
            current = self.profile_bar.current_model() or profile.model
            self.profile_bar.set_models(models, current, note)
        self.modelsListed.emit(profile.name)

    def _update_title(self) -> None:
        profile = self.current_profile()
        where = "offline demo" if profile.embedded else profile.name
        self.setWindowTitle(f"Streamdesk — {where}")

    # ------------------------------------------------------------ conversations

    def new_chat(self) -> None:
        self._save_draft()
        self.sidebar.list.clearSelection()
        self.chat.new_chat()
        self.composer.focus_editor()

    def open_conversation(self, conversation_id: int) -> None:
        if self.chat.current_id == conversation_id:
            return
        self._save_draft()
        self.chat.open_conversation(conversation_id)

    def _conversation_opened(self, conversation_id: str) -> None:
        if self.composer.editing_id is not None:
            self.composer.cancel_edit()
        self.composer.set_text(self._drafts.pop(conversation_id, ""))
        self._sync_streaming_state()
        if conversation_id:
            self.sidebar.select(conversation_id)

    def _save_draft(self) -> None:
        key = str(self.chat.current_id) if self.chat.current_id is not None else ""
        text = self.composer.text() if self.composer.editing_id is None else ""
        if text.strip():
            self._drafts[key] = text
        else:
            self._drafts.pop(key, None)

    def refresh_sidebar(self) -> None:
        if self.sidebar.searching and self.sidebar.search.text().strip():
            self.search(self.sidebar.search.text().strip())
            return
        try:
            conversations = self.services.history.list_conversations()
        except StreamdeskError as exc:
            self.banner.add(*describe(exc))
            return
        items = [
            ConversationItem(str(c.id), c.title or "New chat", _when(c.updated_at))
            for c in conversations
        ]
        current = str(self.chat.current_id) if self.chat.current_id is not None else None
        self.sidebar.set_conversations(items, current)
        for cid in self.chat.streaming_ids():
            self.sidebar.set_streaming(str(cid), True)

    def search(self, query: str) -> None:
        if not query:
            self.refresh_sidebar()
            return
        try:
            hits = self.services.history.search(query)
        except StreamdeskError as exc:
            self.banner.add(*describe(exc))
            return
        seen: dict[int, ConversationItem] = {}
        for hit in hits:
            if hit.conversation_id not in seen:
                seen[hit.conversation_id] = ConversationItem(
                    str(hit.conversation_id), hit.title or "New chat", hit.snippet
                )
        self.sidebar.show_search_results(list(seen.values()))

    def delete_conversation(self, conversation_id: int) -> None:
        title = self.sidebar.title_of(str(conversation_id)) or "this chat"
        self.chat.delete(conversation_id)
        self._last_deleted = conversation_id
        self.sidebar.show_undo(title)
        self.commands["undo_delete"].setEnabled(True)

    def undo_delete(self) -> None:
        if self._last_deleted is None:
            return
        conversation_id, self._last_deleted = self._last_deleted, None
        self.sidebar.hide_undo()
        self.commands["undo_delete"].setEnabled(False)
        self.chat.restore(conversation_id)

    def _undo_expired(self) -> None:
        self._last_deleted = None
        self.commands["undo_delete"].setEnabled(False)

    def _delete_current(self) -> None:
        if self.chat.current_id is not None:
            self.delete_conversation(self.chat.current_id)

    def _step_conversation(self, step: int) -> None:
        ids = self.sidebar.ids()
        if not ids:
            return
        current = str(self.chat.current_id) if self.chat.current_id is not None else None
        index = ids.index(current) + step if current in ids else 0
        if 0 <= index < len(ids):
            self.open_conversation(int(ids[index]))

    def _focus_search(self) -> None:
        self.commands["toggle_sidebar"].setChecked(True)
        self.sidebar.focus_search()

    def _focus_model(self) -> None:
        self.profile_bar.model_box.setFocus()
        line = self.profile_bar.model_box.lineEdit()
        if line is not None:
            line.selectAll()

    # ------------------------------------------------------------ streaming state

    def _streaming_changed(self, conversation_id: str, streaming: bool) -> None:
        self.sidebar.set_streaming(conversation_id, streaming)
        self._sync_streaming_state()

    def _sync_streaming_state(self) -> None:
        streaming = self.chat.is_streaming()
        self.composer.set_streaming(streaming)
        # Esc is a window shortcut only while there is something to stop, so
        # it never steals Esc from popups, the rename editor or edit mode.
        self.commands["stop"].setEnabled(streaming)

    def _stop_or_cancel(self) -> None:
        if not self.chat.stop() and self.composer.editing_id is not None:
            self.composer.cancel_edit()

    # ------------------------------------------------------------ message actions

    def edit_message(self, message_id: str) -> None:
        if self.chat.is_streaming():
            self.statusBar().showMessage("Stop the answer before editing a message.", 4000)
            return
        text = self.chat.message_text(message_id)
        if text is not None:
            self.composer.begin_edit(message_id, text)

    def edit_last_message(self) -> None:
        if self.chat.current_id is None:
            return
        for message in reversed(self.services.history.messages(self.chat.current_id)):
            if message.role == "user":
                self.edit_message(str(message.id))
                return

    def _last_assistant(self) -> tuple[str, str] | None:
        if self.chat.current_id is None:
            return None
        for message in reversed(self.services.history.messages(self.chat.current_id)):
            if message.role == "assistant":
                return str(message.id), message.status.value
        return None

    def _regenerate_last(self) -> None:
        last = self._last_assistant()
        if last is not None:
            self.chat.regenerate(last[0])

    def _continue_last(self) -> None:
        last = self._last_assistant()
        if last is not None and last[1] in ("interrupted", "cancelled"):
            self.chat.continue_answer(last[0])

    def copy_last_answer(self) -> None:
        text = self.chat.last_answer_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.statusBar().showMessage("Last answer copied", 3000)

    # ------------------------------------------------------------ view settings

    def _apply_font(self, points: int | None) -> None:
        size = float(points) if points else _system_points()
        self.chat_view.set_font_point_size(size)
        font = self.composer.editor.font()
        font.setPointSizeF(size)
        self.composer.editor.setFont(font)

    def apply_font_size(self, points: int | None) -> None:
        self._apply_font(points)

    def change_font_size(self, step: int) -> None:
        current = self.services.settings.font_size or round(_system_points())
        size = None if step == 0 else max(6, min(48, current + step))
        self._apply_font(size)
        self.services.save_settings(dataclasses.replace(self.services.settings, font_size=size))
        shown = size or round(_system_points())
        self.statusBar().showMessage(f"Text size {shown} pt", 2000)

    def set_theme_mode(self, mode: ThemeMode) -> None:
        self.theme_manager.set_mode(mode)
        self.chat_view.set_theme(self.theme_manager.theme)
        self.services.save_settings(dataclasses.replace(self.services.settings, theme=mode.value))

    # ------------------------------------------------------------ dialogs (never exec())

    def open_settings(self) -> None:
        from desktop_app.qt.settings_dialog import open_settings

        open_settings(self)

    def export_chats(self, *, current_only: bool) -> None:
        from desktop_app.qt.history_transfer import export_chats

        export_chats(self, current_only=current_only)

    def import_chats(self) -> None:
        from desktop_app.qt.history_transfer import import_chats

        import_chats(self)

    def show_about(self) -> None:
        from desktop_app.qt.about_dialog import AboutDialog

        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        text = QTextBrowser(dialog)
        text.setAccessibleName("Keyboard shortcuts")
        text.setHtml(shortcuts_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(460, 560)
        dialog.open()

    # ------------------------------------------------------------ window state and closing

    def _window_settings(self) -> QSettings:
        file = paths.ensure_dir(paths.state_dir()) / "window.ini"
        return QSettings(str(file), QSettings.Format.IniFormat)

    def _restore_window_state(self) -> None:
        if self.services.read_only:
            self.resize(1100, 760)
            return
        settings = self._window_settings()
        geometry = settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        splitter = settings.value("splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        sidebar = settings.value("sidebar", True)
        visible = sidebar not in (False, "false", "0")
        self.commands["toggle_sidebar"].setChecked(visible)
        self.sidebar.setVisible(visible)

    def save_window_state(self) -> None:
        if self.services.read_only:
            return
        settings = self._window_settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("sidebar", self.commands["toggle_sidebar"].isChecked())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        # Shut down first (streams saved, connections closed), then close.
        event.ignore()
        self.closeRequested.emit()

    async def shutdown(self) -> None:
        """Stop every stream (saved as interrupted), close services; then close for real."""
        if self._closing:
            return
        self._closing = True
        self.save_window_state()
        self.chat.save_all()
        stopped = self.chat.stop_all(closing=True)
        if stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    for controller in stopped:
                        await controller.wait()
        await self.tasks.shutdown(SHUTDOWN_GRACE)
        await self.services.aclose()
        # hide(), not close(): closing the last window may quit the application,
        # which would stop the loop under the coroutine that called us.
        self.hide()


def _system_points() -> float:
    size = QGuiApplication.font().pointSizeF()
    return size if size > 0 else DEFAULT_FONT_POINTS


def _when(timestamp: float) -> str:
    now = time.time()
    age = now - timestamp
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    local = time.localtime(timestamp)
    if time.localtime(now)[:3] == local[:3]:
        return time.strftime("today %H:%M", local)
    return time.strftime("%d %b %Y", local)
