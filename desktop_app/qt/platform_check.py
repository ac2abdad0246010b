"""Before the QApplication: can Qt open a window here, and if not, why, in words.

Qt's own answer to a missing display or a missing X11 library is an abort with
a message that misleads ("xcb-cursor0 ... is needed" when libxcb-icccm4 is the
missing one, on a machine that has libxcb-cursor0). So on Linux and the BSDs
the window's start checks first: is there a display, and does the xcb platform
plugin load (``dlopen`` names the first library it lacks)? The answer is a
sentence saying what to install, and that ``streamdesk ask`` works without it.

It must not create Qt objects (it runs before the QApplication) or guess: a
check it cannot make (no plugin file where Qt looks) passes.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# What Qt's xcb plugin needs beyond a desktop's usual X11 libraries (Qt's own list for 6.5+),
# named as Debian and Ubuntu package them.
XCB_PACKAGES = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxkbcommon-x11-0",
    "libegl1",
)
# Loaded by Qt at run time (dlopen), so the plugin's own links do not show it.
RUNTIME_LIBRARIES = ("libxcb-cursor.so.0",)

NO_DISPLAY = (
    "Streamdesk cannot open its window: there is no display (neither DISPLAY nor "
    "WAYLAND_DISPLAY is set). Run it from a desktop session; without one, "
    "`streamdesk ask` works, and `streamdesk --self-test` checks the window offscreen."
)

Loader = Callable[[str], object]


def window_problem(
    environ: Mapping[str, str] | None = None,
    *,
    plugins: Path | None = None,
    load: Loader = ctypes.CDLL,
) -> str | None:
    """Why Qt could not open a window here, or None when it should (or cannot be told)."""
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform not in ("", "xcb"):
        return None  # offscreen, wayland, a list with fallbacks...: Qt's choice
    if not platform and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return NO_DISPLAY
    wayland_session = env.get("WAYLAND_DISPLAY") and (
        not env.get("DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland"
    )
    if not platform and wayland_session:
        return None  # Qt prefers its Wayland plugin there
    plugin = (plugins or _plugins_dir()) / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None
    for library in (str(plugin), *RUNTIME_LIBRARIES):
        try:
            load(library)
        except OSError as exc:
            missing = _missing_library(str(exc))
            if missing is not None:
                return _missing_sentence(missing)
    return None


def _plugins_dir() -> Path:
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))


def _missing_library(error: str) -> str | None:
    """The library a ``dlopen`` error says it could not find (glibc's words), else None."""
    found = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", error)
    return found.group(1) if found else None


def _missing_sentence(name: str) -> str:
    return (
        f"Streamdesk cannot open its window: the system library {name}, which Qt needs "
        "to draw on X11, is missing. On Debian or Ubuntu: "
        f"sudo apt-get install {' '.join(XCB_PACKAGES)} "
        "(on other systems, the same libraries from the package manager). "
        "`streamdesk ask` works without them."
    )
