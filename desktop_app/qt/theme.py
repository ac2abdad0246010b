"""Light and dark themes, icons and the chat stylesheet.

Owns: the two palettes (and which one applies: the system's colour scheme via
``QStyleHints.colorScheme`` on Qt >= 6.5, or the user's override), the colours
the chat HTML uses (``HtmlStyle``), tinted SVG icons from ``resources/icons``
(rendered at several sizes so they stay sharp on high-DPI screens), and the
stylesheet template in ``resources/styles/chat.qss``.

Must not: know about messages or conversations, or read settings files (the
shell passes the mode in).
"""

from __future__ import annotations

import enum
import functools
import string
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer

from desktop_app.qt.markdown import HtmlStyle

ICON_NAMES = (
    "app",
    "copy",
    "retry",
    "continue",
    "regenerate",
    "edit",
    "stop",
    "send",
    "jump-to-latest",
    "new-chat",
    "delete",
    "settings",
    "chevron-right",
    "chevron-down",
)
_ICON_SIZES = (16, 20, 24, 32, 40, 48, 64, 96)


class ThemeMode(enum.Enum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


@dataclass(frozen=True, slots=True)
class Theme:
    """Every colour the chat uses, as #rrggbb strings."""

    dark: bool
    window: str
    base: str
    text: str
    muted: str
    link: str
    accent: str
    on_accent: str
    focus: str
    hover: str
    user_bubble: str
    assistant_bubble: str
    error_bg: str
    error_border: str
    notice_bg: str
    notice_border: str
    code_bg: str
    inline_code_bg: str
    table_border: str
    pygments_style: str

    def html_style(self) -> HtmlStyle:
        return HtmlStyle(
            dark=self.dark,
            link=self.link,
            muted=self.muted,
            code_background=self.code_bg,
            inline_code_background=self.inline_code_bg,
            table_border=self.table_border,
            quote=self.muted,
            code_font_family=_code_font_family(),
            pygments_style=self.pygments_style,
        )


LIGHT = Theme(
    dark=False,
    window="#f3f4f6",
    base="#ffffff",
    text="#1f2328",
    muted="#5f6368",
    link="#0b57d0",
    accent="#1d4ed8",
    on_accent="#ffffff",
    focus="#f59e0b",
    hover="#e5e7eb",
    user_bubble="#dbeafe",
    assistant_bubble="#f6f8fa",
    error_bg="#fdecea",
    error_border="#f1998e",
    notice_bg="#fff8e1",
    notice_border="#f2c94c",
    code_bg="#eef1f4",
    inline_code_bg="#e6e9ed",
    table_border="#c4c7c5",
    pygments_style="default",
)

DARK = Theme(
    dark=True,
    window="#1b1c1f",
    base="#202124",
    text="#e8eaed",
    muted="#a0a4aa",
    link="#8ab4f8",
    accent="#3b82f6",
    on_accent="#ffffff",
    focus="#fbbf24",
    hover="#3c4043",
    user_bubble="#1e3a5f",
    assistant_bubble="#2a2b2e",
    error_bg="#3b1d1b",
    error_border="#b3443a",
    notice_bg="#3a3220",
    notice_border="#a8842a",
    code_bg="#17181b",
    inline_code_bg="#34363a",
    table_border="#5f6368",
    pygments_style="github-dark",
)


@functools.cache
def _code_font_family() -> str:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family() or "monospace"


def resources_dir() -> Path:
    """Where icons and styles live: next to the package when installed, else the repo's."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "resources", here.parents[2] / "resources"):
        if (candidate / "icons").is_dir():
            return candidate
    return here.parents[2] / "resources"


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


# ------------------------------------------------------------------ scheme


def system_prefers_dark() -> bool:
    """The platform's colour scheme (Unknown counts as light)."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def theme_for(mode: ThemeMode) -> Theme:
    if mode is ThemeMode.DARK:
        return DARK
    if mode is ThemeMode.LIGHT:
        return LIGHT
    return DARK if system_prefers_dark() else LIGHT


def palette_for(theme: Theme) -> QPalette:
    """A complete palette for platforms that do not provide one for the scheme."""
    palette = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: theme.window,
        roles.WindowText: theme.text,
        roles.Base: theme.base,
        roles.AlternateBase: theme.assistant_bubble,
        roles.ToolTipBase: theme.base,
        roles.ToolTipText: theme.text,
        roles.PlaceholderText: theme.muted,
        roles.Text: theme.text,
        roles.Button: theme.window,
        roles.ButtonText: theme.text,
        roles.BrightText: "#ff5555",
        roles.Link: theme.link,
        roles.LinkVisited: theme.link,
        roles.Highlight: theme.accent,
        roles.HighlightedText: theme.on_accent,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor(theme.muted))
    return palette


def _palette_is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QGuiApplication, mode: ThemeMode) -> Theme:
    """Make the application follow ``mode``; returns the theme in effect.

    On Qt >= 6.8 the scheme is first requested from the platform (native dark
    palettes on macOS and Windows); if the palette still does not match, ours
    is set, so Linux desktops without a dark platform theme work too.
    """
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        if mode is ThemeMode.SYSTEM and hasattr(hints, "unsetColorScheme"):
            hints.unsetColorScheme()
        elif mode is ThemeMode.DARK:
            hints.setColorScheme(Qt.ColorScheme.Dark)
        elif mode is ThemeMode.LIGHT:
            hints.setColorScheme(Qt.ColorScheme.Light)
    theme = theme_for(mode)
    if _palette_is_dark(app.palette()) != theme.dark or mode is not ThemeMode.SYSTEM:
        app.setPalette(palette_for(theme))
    return theme


class ThemeManager(QObject):
    """Holds the theme mode and re-announces the theme when the system flips."""

    themeChanged = Signal(object)  # Theme

    def __init__(self, app: QGuiApplication, mode: ThemeMode = ThemeMode.SYSTEM) -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode
        self._theme = apply_theme(app, mode)
        hints = app.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_system_change)

    @property
    def theme(self) -> Theme:
        return self._theme

    @property
    def mode(self) -> ThemeMode:
        return self._mode

    def set_mode(self, mode: ThemeMode) -> None:
        self._mode = mode
        self._update()

    def _on_system_change(self, *_: object) -> None:
        if self._mode is ThemeMode.SYSTEM:
            self._update()

    def _update(self) -> None:
        theme = apply_theme(self._app, self._mode)
        if theme != self._theme:
            self._theme = theme
            self.themeChanged.emit(theme)


# ------------------------------------------------------------------ icons


@functools.cache
def _svg_source(name: str) -> str:
    return icon_path(name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=128)
def icon(name: str, color: str = "#5f6368", disabled_color: str = "#a0a4aa") -> QIcon:
    """A monochrome icon tinted with ``color`` (SVG ``currentColor``), sharp at any DPI."""
    source = _svg_source(name)
    result = QIcon()
    for mode, colour in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled_color)):
        renderer = QSvgRenderer(QByteArray(source.replace("currentColor", colour).encode()))
        for size in _ICON_SIZES:
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter, QRectF(0, 0, size, size))
            painter.end()
            result.addPixmap(pixmap, mode)
    return result


def themed_icon(name: str, theme: Theme) -> QIcon:
    return icon(name, theme.muted if name not in ("send", "stop") else theme.text, theme.hover)


def app_icon() -> QIcon:
    """The application icon, in its own colours."""
    return QIcon(str(icon_path("app")))


# ------------------------------------------------------------------ stylesheet


@functools.cache
def _stylesheet_template() -> string.Template:
    path = resources_dir() / "styles" / "chat.qss"
    return string.Template(path.read_text(encoding="utf-8"))


def chat_stylesheet(theme: Theme, font_point_size: float | None = None) -> str:
    """The chat's stylesheet; with a font size, every widget in the chat uses it
    (a stylesheet stops ``setFont`` from reaching the children, so size it here)."""
    values = {name: getattr(theme, name) for name in Theme.__dataclass_fields__}
    sheet = _stylesheet_template().safe_substitute(values)
    if font_point_size is not None:
        sheet += f"\nQWidget {{ font-size: {font_point_size:g}pt; }}\n"
    return sheet
