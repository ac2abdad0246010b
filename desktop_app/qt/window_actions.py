"""Every window action with its menu place and keyboard shortcut, in one table.

Keyboard access to every action is a requirement; keeping the actions in one
place makes the menus, the shortcuts and the "Keyboard shortcuts" help agree.
``WindowActions`` builds the ``QAction``s and the menu bar; the main window
connects them. It holds no behaviour and never awaits.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    text: str
    menu: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    separator_before: bool = False


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("new_chat", "&New chat", "&File", ("Ctrl+N",), "Start a new conversation"),
    ActionSpec(
        "export_chat", "&Export this chat…", "&File", ("Ctrl+Shift+E",), separator_before=True
    ),
    ActionSpec("export_all", "Export &all chats…", "&File"),
    ActionSpec("import_chats", "&Import chats…", "&File"),
    ActionSpec("settings", "&Settings…", "&File", ("Ctrl+,",), separator_before=True),
    ActionSpec("quit", "&Quit", "&File", ("Ctrl+Q",), separator_before=True),
    ActionSpec("copy_answer", "&Copy last answer", "&Edit", ("Ctrl+Shift+C",)),
    ActionSpec("edit_last", "&Edit last message", "&Edit", ("Ctrl+E",)),
    ActionSpec("search", "&Search chats", "&Edit", ("Ctrl+K", "Ctrl+F"), separator_before=True),
    ActionSpec("rename", "&Rename chat", "&Edit", ("F2",)),
    ActionSpec("delete_chat", "&Delete chat", "&Edit", ("Ctrl+Shift+Backspace",)),
    ActionSpec("undo_delete", "&Undo delete", "&Edit", ("Ctrl+Z",)),
    ActionSpec("stop", "&Stop answer", "&Chat", ("Esc",), "Stop the answer now"),
    ActionSpec("regenerate", "&Regenerate last answer", "&Chat", ("Ctrl+R",)),
    ActionSpec("continue", "&Continue answer", "&Chat", ("Ctrl+Shift+Return",)),
    ActionSpec("focus_composer", "&Write a message", "&Chat", ("Ctrl+L",), separator_before=True),
    ActionSpec("pick_profile", "Choose &profile", "&Chat", ("Ctrl+Shift+P",)),
    ActionSpec("pick_model", "Choose &model", "&Chat", ("Ctrl+M",)),
    ActionSpec("previous_chat", "&Previous chat", "&Chat", ("Ctrl+PgUp",), separator_before=True),
    ActionSpec("next_chat", "Ne&xt chat", "&Chat", ("Ctrl+PgDown",)),
    ActionSpec("zoom_in", "&Larger text", "&View", ("Ctrl++", "Ctrl+=")),
    ActionSpec("zoom_out", "&Smaller text", "&View", ("Ctrl+-",)),
    ActionSpec("zoom_reset", "&Normal text size", "&View", ("Ctrl+0",)),
    # Ctrl+End belongs to the chat view itself (a window shortcut would be ambiguous).
    ActionSpec("jump_latest", "&Jump to latest", "&View", separator_before=True),
    ActionSpec("toggle_sidebar", "Show chat &list", "&View", ("Ctrl+B",)),
    ActionSpec("shortcuts", "&Keyboard shortcuts", "&Help", ("F1",)),
    ActionSpec("about", "&About Streamdesk", "&Help"),
)


class WindowActions(QObject):
    """The window's actions by name (``actions["stop"]``) and its menu bar."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.actions: dict[str, QAction] = {}
        menus: dict[str, QMenu] = {}
        bar = window.menuBar()
        for spec in SPECS:
            menu = menus.get(spec.menu)
            if menu is None:
                menu = bar.addMenu(spec.menu)
                menus[spec.menu] = menu
            if spec.separator_before:
                menu.addSeparator()
            action = QAction(spec.text, window)
            action.setObjectName(f"action_{spec.name}")
            if spec.shortcuts:
                action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
                # The shortcut works wherever focus is in the window.
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.tip:
                action.setStatusTip(spec.tip)
                action.setToolTip(spec.tip)
            menu.addAction(action)
            window.addAction(action)
            self.actions[spec.name] = action
        self.menus = menus
        self.actions["toggle_sidebar"].setCheckable(True)
        self.actions["toggle_sidebar"].setChecked(True)
        self.actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
        self.actions["settings"].setMenuRole(QAction.MenuRole.PreferencesRole)
        self.actions["about"].setMenuRole(QAction.MenuRole.AboutRole)

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]


def shortcuts_html() -> str:
    """The keyboard help: every action with a shortcut, grouped by menu."""
    rows: list[str] = []
    menu = ""
    for spec in SPECS:
        if not spec.shortcuts:
            continue
        if spec.menu != menu:
            menu = spec.menu
            rows.append(f"<tr><th colspan='2' align='left'>{menu.replace('&', '')}</th></tr>")
        keys = " or ".join(
            QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts
        )
        rows.append(f"<tr><td>{spec.text.replace('&', '')}</td><td><b>{keys}</b></td></tr>")
    rows.append("<tr><th colspan='2' align='left'>Message box</th></tr>")
    rows.append("<tr><td>Send</td><td><b>Enter</b> or <b>Ctrl+Enter</b></td></tr>")
    rows.append("<tr><td>New line</td><td><b>Shift+Enter</b></td></tr>")
    rows.append("<tr><td>Cancel editing</td><td><b>Esc</b></td></tr>")
    return "<table cellspacing='0' cellpadding='4'>" + "".join(rows) + "</table>"


def show_shortcuts(parent: QWidget) -> QDialog:
    """The keyboard help, opened with ``open()`` (never ``exec()``)."""
    dialog = QDialog(parent)
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
    return dialog
