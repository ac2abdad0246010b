"""The look of the window around the chat: sidebar, profile bar, composer, banner.

The chat view styles itself (``resources/styles/chat.qss``); this module
gives the rest of the window the same colours from the active ``Theme`` and
puts the icons from ``resources/icons`` on the shell's buttons. It is
re-applied whenever the theme changes. No behaviour here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize

from desktop_app.qt.theme import Theme, icon, themed_icon

if TYPE_CHECKING:
    from desktop_app.qt.main_window import MainWindow


def shell_stylesheet(t: Theme) -> str:
    return f"""
QWidget#sidebar {{ background: {t.window}; }}
QListWidget#conversationList {{
    background: transparent; border: none; outline: 0;
}}
QListWidget#conversationList::item {{
    color: {t.text}; padding: 7px 8px; margin: 1px 0; border-radius: 8px;
}}
QListWidget#conversationList::item:hover {{ background: {t.hover}; }}
QListWidget#conversationList::item:selected {{
    background: {t.user_bubble}; color: {t.text};
}}
QLineEdit#historySearch {{
    background: {t.base}; color: {t.text}; border: 1px solid {t.table_border};
    border-radius: 8px; padding: 5px 8px;
}}
QLineEdit#historySearch:focus {{ border: 2px solid {t.accent}; padding: 4px 7px; }}
QPushButton#newChatButton {{
    background: {t.base}; color: {t.text}; border: 1px solid {t.table_border};
    border-radius: 8px; padding: 6px 10px; text-align: left;
}}
QPushButton#newChatButton:hover {{ background: {t.hover}; }}
QPushButton#newChatButton:focus {{ border: 2px solid {t.focus}; }}
QWidget#undoBar {{
    background: {t.notice_bg}; border: 1px solid {t.notice_border}; border-radius: 8px;
}}
QWidget#undoBar QLabel {{ color: {t.text}; background: transparent; }}

QWidget#profileBar {{ background: {t.window}; border-bottom: 1px solid {t.table_border}; }}
QLabel#modelNote {{ color: {t.muted}; }}

QFrame#banner {{
    background: {t.notice_bg}; border: 1px solid {t.notice_border}; border-radius: 8px;
    margin: 6px 10px 0 10px;
}}
QFrame#banner QLabel {{ color: {t.text}; background: transparent; border: none; }}

QWidget#composer {{ background: {t.window}; }}
QPlainTextEdit#composerEdit {{
    background: {t.base}; color: {t.text}; border: 1px solid {t.table_border};
    border-radius: 10px; padding: 4px 6px;
}}
QPlainTextEdit#composerEdit:focus {{ border: 2px solid {t.accent}; padding: 3px 5px; }}
QPushButton#sendStopButton {{
    background: {t.accent}; color: {t.on_accent}; border: none; border-radius: 10px;
    padding: 7px 12px; font-weight: bold;
}}
QPushButton#sendStopButton:disabled {{ background: {t.hover}; color: {t.muted}; }}
QPushButton#sendStopButton:focus {{ border: 2px solid {t.focus}; }}
QPushButton#sendStopButton[stop="true"] {{
    background: {t.error_bg}; color: {t.text}; border: 1px solid {t.error_border};
}}
QLabel#composerEditNote {{ color: {t.muted}; }}
QLabel#emptyState {{ color: {t.muted}; background: transparent; }}
"""


def apply_shell_style(window: MainWindow, theme: Theme) -> None:
    """Colours and icons for the shell's widgets (call again on a theme change)."""
    window.setStyleSheet(shell_stylesheet(theme))
    size = QSize(16, 16)
    window.sidebar.new_button.setIcon(themed_icon("new-chat", theme))
    window.sidebar.new_button.setIconSize(size)
    window.profile_bar.settings_button.setIcon(themed_icon("settings", theme))
    window.profile_bar.settings_button.setIconSize(size)
    window.composer.set_icons(
        send=icon("send", theme.on_accent, theme.muted),
        stop=icon("stop", theme.text, theme.muted),
    )
