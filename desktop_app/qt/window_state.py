"""The window's look and place between runs: geometry, splitter, sidebar, text size, theme.

Geometry goes to ``window.ini`` in the state directory (QSettings' INI
format, so nothing lands in the registry or a plist); the theme and text
size are user settings and go through ``AppServices.save_settings`` (the
TOML settings file). Neither is written by the self-test (``read_only``).

It must not know about conversations or streams.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QGuiApplication

from desktop_app.core import paths
from desktop_app.qt.theme import ThemeMode

if TYPE_CHECKING:
    from desktop_app.qt.main_window import MainWindow

DEFAULT_SIZE = (1100, 760)
DEFAULT_FONT_POINTS = 10.0


def _ini() -> QSettings:
    file = paths.ensure_dir(paths.state_dir()) / "window.ini"
    return QSettings(str(file), QSettings.Format.IniFormat)


def restore_geometry(window: MainWindow) -> None:
    if window.services.read_only:
        window.resize(*DEFAULT_SIZE)
        return
    settings = _ini()
    geometry = settings.value("geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    splitter = settings.value("splitter")
    if isinstance(splitter, QByteArray) and not splitter.isEmpty():
        window.splitter.restoreState(splitter)
    visible = settings.value("sidebar", True) not in (False, "false", "0")
    window.commands["toggle_sidebar"].setChecked(visible)
    window.sidebar.setVisible(visible)


def save_geometry(window: MainWindow) -> None:
    if window.services.read_only:
        return
    settings = _ini()
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("splitter", window.splitter.saveState())
    settings.setValue("sidebar", window.commands["toggle_sidebar"].isChecked())
    settings.sync()


def system_points() -> float:
    size = QGuiApplication.font().pointSizeF()
    return size if size > 0 else DEFAULT_FONT_POINTS


def apply_font(window: MainWindow, points: int | None) -> None:
    """Text size for the chat and the message box (None: the system's)."""
    size = float(points) if points else system_points()
    window.chat_view.set_font_point_size(size)
    font = window.composer.editor.font()
    font.setPointSizeF(size)
    window.composer.editor.setFont(font)


def change_font_size(window: MainWindow, step: int) -> int:
    """Ctrl++ / Ctrl+- (step ±1) and Ctrl+0 (step 0: back to the system's). Returns the size."""
    services = window.services
    current = services.settings.font_size or round(system_points())
    size = None if step == 0 else max(6, min(48, current + step))
    apply_font(window, size)
    services.save_settings(dataclasses.replace(services.settings, font_size=size))
    return size or round(system_points())


def set_theme_mode(window: MainWindow, mode: ThemeMode) -> None:
    window.theme_manager.set_mode(mode)
    services = window.services
    services.save_settings(dataclasses.replace(services.settings, theme=mode.value))
