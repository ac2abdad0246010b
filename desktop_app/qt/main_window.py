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
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.profiles import Profile
from desktop_app.qt import window_state
from desktop_app.qt.banner import Banner
from desktop_app.qt.chat_controller import ChatController
from desktop_app.qt.chat_view import ChatView
from desktop_app.qt.composer import Composer
from desktop_app.qt.conversation_list import ConversationList
from desktop_app.qt.empty_state import EmptyState
from desktop_app.qt.errors import describe
from desktop_app.qt.inspector import add_inspector_dock
from desktop_app.qt.markdown_body import warm_up_in_background
from desktop_app.qt.message_focus import reveal_search_hit
from desktop_app.qt.next_answer import NextAnswerChooser
from desktop_app.qt.profile_bar import ProfileBar
from desktop_app.qt.profile_picker import ProfilePicker
from desktop_app.qt.services import AppServices
from desktop_app.qt.shell_style import apply_shell_style
from desktop_app.qt.sidebar import Sidebar
from desktop_app.qt.tasks import TaskRegistry
from desktop_app.qt.theme import Theme, ThemeManager, ThemeMode, app_icon
from desktop_app.qt.turns import TurnTarget
from desktop_app.qt.window_actions import WindowActions, show_shortcuts
from desktop_app.qt.window_inspector import InspectorFollower

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0


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
        self.empty_state = EmptyState(self.chat_view)
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
        self.profiles = ProfilePicker(self.profile_bar, services, tasks, self)
        self.conversations = ConversationList(self.sidebar, services.history, self.chat, self)
        self.commands = WindowActions(self)
        self.inspector = add_inspector_dock(self, self.commands.menus["&View"])
        self.inspector_follower = InspectorFollower(
            self.inspector, self.chat, self.chat_view, tasks
        )
        self.next_answer = NextAnswerChooser(
            self, services, tasks, self.commands.menus["&Chat"], self.statusBar()
        )
        apply_shell_style(self, self.theme_manager.theme)
        self._connect()
        window_state.apply_font(self, services.settings.font_size)
        self.profiles.fill(services.profile(None).name)
        window_state.restore_geometry(self)

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

        chat.conversationOpened.connect(self._conversation_opened)
        chat.streamingChanged.connect(self._streaming_changed)
        chat.conversationsChanged.connect(self._update_empty_state)
        chat.problemReported.connect(self.banner.add)
        self.next_answer.problemReported.connect(self.banner.add)
        self.inspector.problemReported.connect(lambda text: self.banner.add(text, ""))
        self.inspector.recordingSaved.connect(
            lambda path: self.statusBar().showMessage(f"Recording saved to {path}", 4000)
        )

        sidebar.newRequested.connect(self.new_chat)
        lists = self.conversations
        lists.openRequested.connect(self.open_conversation)
        lists.problemReported.connect(self.banner.add)
        lists.undoAvailable.connect(lambda on: self.commands["undo_delete"].setEnabled(on))

        picker = self.profiles
        picker.modelsListed.connect(self.modelsListed)
        picker.profileChanged.connect(self._profile_changed)
        picker.problemReported.connect(self.banner.add)
        self.profile_bar.settingsRequested.connect(self.open_settings)

        self.theme_manager.themeChanged.connect(self._theme_changed)

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
        a["delete_chat"].triggered.connect(self.conversations.delete_current)
        a["undo_delete"].triggered.connect(self.conversations.undo_delete)
        a["stop"].triggered.connect(self._stop_or_cancel)
        a["regenerate"].triggered.connect(self.chat.regenerate_last)
        a["continue"].triggered.connect(self.chat.continue_last)
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
        self.profiles.list_models(profile)
        # Compile the Markdown parser and lexers off the GUI thread, before the first answer.
        warm_up_in_background()
        self.composer.focus_editor()

    # ------------------------------------------------------------ profiles and models

    def current_profile(self) -> Profile:
        return self.profiles.current_profile()

    def current_target(self) -> TurnTarget:
        """Where the next message goes (``ChatController`` asks at each send).

        In the offline demo, a scenario or recording armed under Chat → Next
        answer answers this one turn.
        """
        return self.next_answer.take(self.profiles.current_target(), self.current_profile())

    def reload_profiles(self, current: str) -> None:
        self.profiles.reload(current)

    def _profile_changed(self, _name: str) -> None:
        profile = self.current_profile()
        where = "offline demo" if profile.embedded else profile.name
        self.setWindowTitle(f"Streamdesk — {where}")
        self.empty_state.set_demo(profile.embedded)
        self.next_answer.set_available(profile.embedded)

    def _update_empty_state(self) -> None:
        self.empty_state.setVisible(self.chat_view.message_count() == 0)

    # ------------------------------------------------------------ conversations

    def new_chat(self) -> None:
        self._save_draft()
        self.chat.new_chat()
        self.composer.focus_editor()

    def open_conversation(self, conversation_id: int) -> None:
        query = self.sidebar.search.text().strip() if self.sidebar.searching else ""
        if self.chat.current_id != conversation_id:
            self._save_draft()
            self.chat.open_conversation(conversation_id)
        if query and self.chat.current_id == conversation_id:
            # A search hit: show the matching message, not just the conversation.
            reveal_search_hit(self.chat_view, self.services.history, conversation_id, query)

    def _conversation_opened(self, conversation_id: str) -> None:
        if self.composer.editing_id is not None:
            self.composer.cancel_edit()
        self.composer.set_text(self._drafts.pop(conversation_id, ""))
        self._sync_streaming_state()
        self._update_empty_state()
        if conversation_id:
            self.sidebar.select(conversation_id)
        else:
            self.sidebar.clear_current()

    def _save_draft(self) -> None:
        key = str(self.chat.current_id) if self.chat.current_id is not None else ""
        text = self.composer.text() if self.composer.editing_id is None else ""
        if text.strip():
            self._drafts[key] = text
        else:
            self._drafts.pop(key, None)

    def refresh_sidebar(self) -> None:
        self.conversations.refresh()

    def search(self, query: str) -> None:
        self.conversations.search(query)

    def _step_conversation(self, step: int) -> None:
        target = self.conversations.neighbour(step)
        if target is not None:
            self.open_conversation(target)

    def _focus_search(self) -> None:
        self.commands["toggle_sidebar"].setChecked(True)
        self.sidebar.focus_search()

    def _focus_model(self) -> None:
        self.profile_bar.model_box.setFocus()
        line = self.profile_bar.model_box.lineEdit()
        if line is not None:
            line.selectAll()

    # ------------------------------------------------------------ streaming state

    def _streaming_changed(self, _conversation_id: str, _streaming: bool) -> None:
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
        last = self.chat.last_message("user")
        if last is not None:
            self.edit_message(str(last.id))

    def copy_last_answer(self) -> None:
        text = self.chat.last_answer_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.statusBar().showMessage("Last answer copied", 3000)

    # ------------------------------------------------------------ view settings

    def apply_font_size(self, points: int | None) -> None:
        window_state.apply_font(self, points)

    def change_font_size(self, step: int) -> None:
        shown = window_state.change_font_size(self, step)
        self.statusBar().showMessage(f"Text size {shown} pt", 2000)

    def set_theme_mode(self, mode: ThemeMode) -> None:
        window_state.set_theme_mode(self, mode)
        self._theme_changed(self.theme_manager.theme)

    def _theme_changed(self, theme: Theme) -> None:
        self.chat_view.set_theme(theme)
        apply_shell_style(self, theme)

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
        show_shortcuts(self)

    # ------------------------------------------------------------ window state and closing

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
        window_state.save_geometry(self)
        self.chat.save_all()
        stopped = self.chat.stop_all(closing=True)
        if stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    for controller in stopped:
                        await controller.wait()
        await self.chat.inspections.wait_saved(SHUTDOWN_GRACE)  # before the history closes
        await self.tasks.shutdown(SHUTDOWN_GRACE)
        await self.services.aclose()
        # hide(), not close(): closing the last window may quit the application,
        # which would stop the loop under the coroutine that called us.
        self.hide()
