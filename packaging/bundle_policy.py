"""What goes into the Streamdesk bundle, and what is cut out of it.

Owns the lists the PyInstaller spec (``streamdesk.spec``) works from: the Qt modules the app uses,
the modules it must never carry (QtWebEngine, QML, test tools), the Qt plugins worth shipping, and
the pruning of a PyInstaller table of contents (TOC) down to those. It is plain Python so the tests
can check the policy without running PyInstaller; it must not import PySide6 or PyInstaller at
module level (the spec passes PyInstaller's dependency reader in).

Why prune at all: PyInstaller's Qt hooks collect every plugin family of QtGui and whatever those
plugins link. The virtual keyboard input plugin alone drags libQt6Quick and libQt6Qml (about
30 MB) into a widgets-only app (research/ecosystem.md section 4).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

APP_ID = "io.streamdesk.Streamdesk"

# Where the app's SVG icon may live (the artwork is owned by resources/, not by packaging/).
APP_ICON_CANDIDATES = (
    "resources/streamdesk.svg",
    f"resources/{APP_ID}.svg",
    "resources/icons/streamdesk.svg",
    "resources/icons/app.svg",
    "resources/app-icon.svg",
    "resources/icon.svg",
    "desktop_app/resources/streamdesk.svg",
    f"desktop_app/resources/{APP_ID}.svg",
    "desktop_app/resources/icons/streamdesk.svg",
    "desktop_app/resources/icons/app.svg",
)

# The only PySide6 modules the app imports. Listed as hidden imports so the bundle carries them
# even when an import is lazy.
QT_MODULES_USED = (
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtSvg",
)

# PySide6 modules that must never be bundled. QtNetwork is absent on purpose: the app speaks
# HTTP through httpx, so Qt's network stack (and its TLS plugins) would be dead weight.
QT_MODULES_EXCLUDED = (
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.QtWebView",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuick3D",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest",
    "PySide6.QtQuickWidgets",
    "PySide6.QtNetwork",
    "PySide6.QtNetworkAuth",
    "PySide6.QtHttpServer",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtTest",
    "PySide6.QtSql",
    "PySide6.QtPrintSupport",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtSvgWidgets",
    "PySide6.QtConcurrent",
    "PySide6.QtDBus",
    "PySide6.QtXml",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtGraphs",
    "PySide6.QtGraphsWidgets",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.Qt3DExtras",
    "PySide6.Qt3DInput",
    "PySide6.Qt3DLogic",
    "PySide6.Qt3DAnimation",
    "PySide6.QtAsyncio",
)

# Python packages a frozen desktop app never needs; some are installed in the build venv and
# would otherwise be found through optional imports.
PYTHON_EXCLUDED = (
    "tkinter",
    "_tkinter",
    "idlelib",
    "lib2to3",
    "ensurepip",
    "pip",
    "setuptools",
    "pkg_resources",
    "distutils",
    "pytest",
    "_pytest",
    "pytestqt",
    "pytest_asyncio",
    "hypothesis",
    "mypy",
    "ruff",
    "importlinter",
    "grimp",
    "openai",
    "anthropic",
    "httpx_sse",
    "IPython",
    "numpy",
)

# The stub is a plain Starlette/uvicorn program: it never touches Qt or the app.
STUB_EXCLUDED = (*PYTHON_EXCLUDED, "PySide6", "shiboken6", "qasync", "desktop_app")

# Qt plugins that are shipped, by plugin directory. A directory not named here is dropped whole.
QT_PLUGINS_KEPT: dict[str, frozenset[str]] = {
    # xcb for X11 (and XWayland), wayland for native Wayland sessions, offscreen for headless
    # self-tests and CI. eglfs/linuxfb/vnc are for kiosks without a window system.
    "platforms": frozenset(
        {"libqxcb.so", "libqwayland.so", "libqoffscreen.so", "libqminimal.so"}
        | {"qwindows.dll", "qoffscreen.dll", "qminimal.dll", "libqcocoa.dylib"}
        | {"libqoffscreen.dylib", "libqminimal.dylib"}
    ),
    "xcbglintegrations": frozenset({"*"}),
    "wayland-decoration-client": frozenset({"*"}),
    "wayland-graphics-integration-client": frozenset(
        {"libqt-plugin-wayland-egl.so", "libshm-emulation-server.so", "libdmabuf-server.so"}
    ),
    "wayland-shell-integration": frozenset({"libxdg-shell.so"}),
    # Compose keys and dead keys (compose), and IBus for CJK input methods. The virtual keyboard
    # plugin is QML and is what drags QtQuick in.
    "platforminputcontexts": frozenset(
        {"libcomposeplatforminputcontextplugin.so", "libibusplatforminputcontextplugin.so"}
    ),
    # Native file dialogs and colours on GTK desktops and through the XDG portal.
    "platformthemes": frozenset({"libqgtk3.so", "libqxdgdesktopportal.so"}),
    # SVG icons, and the image formats a chat transcript or icon theme may use.
    "iconengines": frozenset({"*"}),
    "imageformats": frozenset(
        {"libqsvg.so", "libqico.so", "libqgif.so", "libqjpeg.so"}
        | {"qsvg.dll", "qico.dll", "qgif.dll", "qjpeg.dll"}
        | {"libqsvg.dylib", "libqico.dylib", "libqgif.dylib", "libqjpeg.dylib", "libqmacheif.dylib"}
    ),
    "styles": frozenset({"*"}),
}

# Plugins whose system libraries are optional at run time: when the library is missing, Qt skips
# the plugin and falls back (Wayland -> xcb, GTK theme -> Fusion). The .deb Recommends them.
QT_PLUGINS_OPTIONAL = (
    "platforms/libqwayland.so",
    "platformthemes/libqgtk3.so",
    "platforminputcontexts/libibusplatforminputcontextplugin.so",
    "wayland-",
)

# Data directories of the PySide6 wheel never shipped: QML modules and Qt's own translations (the
# app's user interface is English and installs no QTranslator).
QT_DATA_DROPPED = ("qml", "translations", "metatypes", "libexec", "typesystems", "include")

QT_ROOT = PurePosixPath("PySide6", "Qt")

# System libraries never bundled, even when the Python side links them: the compiler runtime is
# part of every Linux base system, and a bundled older copy would be found first (PyInstaller puts
# _internal/ on LD_LIBRARY_PATH) by the system's newer libstdc++ that Qt loads.
NEVER_BUNDLED = ("libgcc_s.so", "libstdc++.so")

SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")

TocEntry = tuple[str, str, str]
ImportsReader = Callable[[str], Iterable[str]]


def _parts(dest: str) -> tuple[str, ...]:
    return PurePosixPath(dest.replace(os.sep, "/")).parts


def _qt_relative(dest: str) -> tuple[str, ...] | None:
    """The path below ``PySide6/Qt/`` for a Qt file, else None."""
    parts = _parts(dest)
    if parts[:2] == QT_ROOT.parts:
        return parts[2:]
    return None


def is_dropped_file(dest: str) -> bool:
    """True for a Qt plugin or data file outside the policy (decided by destination path)."""
    rel = _qt_relative(dest)
    if rel is None or not rel:
        return False
    if rel[0] in QT_DATA_DROPPED:
        return True
    if rel[0] == "plugins" and len(rel) >= 3:
        kept = QT_PLUGINS_KEPT.get(rel[1])
        if kept is None:
            return True
        return "*" not in kept and rel[-1] not in kept
    return False


def is_qt_library(dest: str) -> bool:
    """A Qt (or ICU) shared library of the wheel: a candidate for the reachability prune."""
    rel = _qt_relative(dest)
    name = _parts(dest)[-1]
    in_lib = rel is not None and len(rel) >= 2 and rel[0] in ("lib", "bin")
    looks_qt = name.startswith(("libQt6", "Qt6", "libicu", "icu"))
    # Linux/macOS keep Qt under PySide6/Qt/lib; the Windows wheel puts Qt6*.dll beside PySide6/.
    parts = _parts(dest)
    top_or_pyside = len(parts) == 1 or (len(parts) == 2 and parts[0] == "PySide6")
    return in_lib or (rel is None and looks_qt and top_or_pyside)


def _base(name: str) -> str:
    # Lower-case: Windows import tables name DLLs in any case (QT6CORE.dll vs Qt6Core.dll).
    return PurePosixPath(name.replace("\\", "/")).name.lower()


def prune(
    binaries: list[TocEntry],
    datas: list[TocEntry],
    read_imports: ImportsReader,
    is_system: Callable[[str], bool] | None = None,
) -> tuple[list[TocEntry], list[TocEntry], list[TocEntry]]:
    """Drop excluded Qt plugins and data, then the libraries nothing kept needs.

    Two rules after the file policy:
    - a Qt (or ICU) library of the wheel stays only if a kept binary links it;
    - a system library (``is_system(src)``, Linux only in practice) stays only if the Python side
      (the interpreter and extensions outside PySide6/shiboken6) links it. What only Qt needs
      (X11, xcb, fontconfig, GLib, libstdc++ ...) comes from the OS, exactly as for a pip install
      of PySide6; the .deb declares those packages in Depends.

    Returns ``(binaries, datas, removed)``. ``read_imports(path)`` lists the library names a
    binary links (PyInstaller's ``bindepend.get_imports``); only base names are compared, so it
    works for ELF, PE and Mach-O. PyInstaller puts its top-level SYMLINK entries in ``datas``:
    a symlink goes with its target.
    """
    removed = [e for e in [*binaries, *datas] if is_dropped_file(e[0])]
    binaries = [e for e in binaries if not is_dropped_file(e[0])]
    datas = [e for e in datas if not is_dropped_file(e[0])]

    real = [e for e in binaries if e[2] != "SYMLINK"]
    qt_libs = {_base(e[0]): e for e in real if is_qt_library(e[0])}
    sys_libs = {
        _base(e[0]): e
        for e in real
        if e[2] == "BINARY" and _base(e[0]) not in qt_libs and is_system and is_system(e[1])
    }
    roots = [e for e in real if _base(e[0]) not in qt_libs and _base(e[0]) not in sys_libs]
    python_roots = [e for e in roots if _parts(e[0])[0] not in ("PySide6", "shiboken6")]

    needed = _closure(roots, qt_libs, read_imports) | _closure(python_roots, sys_libs, read_imports)
    needed = {name for name in needed if not name.startswith(NEVER_BUNDLED)}
    unwanted = (set(qt_libs) | set(sys_libs)) - needed

    def gone(entry: TocEntry) -> bool:
        if entry[2] == "SYMLINK":
            return _base(entry[1]) in unwanted or _base(entry[0]) in unwanted
        return entry[2] != "DATA" and _base(entry[0]) in unwanted

    removed += [e for e in [*binaries, *datas] if gone(e)]
    return [e for e in binaries if not gone(e)], [e for e in datas if not gone(e)], removed


def _closure(
    roots: Iterable[TocEntry], through: dict[str, TocEntry], read_imports: ImportsReader
) -> set[str]:
    """Base names in ``through`` reachable from ``roots`` by following linked libraries."""
    reached: set[str] = set()
    pending = list(roots)
    seen: set[str] = set()
    while pending:
        entry = pending.pop()
        if entry[1] in seen:
            continue
        seen.add(entry[1])
        for name in read_imports(entry[1]):
            base = _base(name)
            if base in through and base not in reached:
                reached.add(base)
                pending.append(through[base])
    return reached


def is_linux_system_library(src: str) -> bool:
    """A shared library of the Linux distribution (not the interpreter, not a wheel's)."""
    path = os.path.realpath(src)
    name = os.path.basename(path)
    in_system_dir = path.startswith(SYSTEM_LIBRARY_DIRS)
    in_python_tree = "-packages/" in path or "/python3" in path
    return in_system_dir and not in_python_tree and not name.startswith("libpython")


def removed_bytes(removed: Iterable[TocEntry]) -> int:
    """Bytes the removed entries would have taken (symlinks count as nothing)."""
    total = 0
    for _dest, src, typecode in removed:
        if typecode != "SYMLINK" and os.path.isfile(src):
            total += os.path.getsize(src)
    return total


def strip_debug_info(folder: str) -> int:
    """Remove debug sections from the shared libraries under ``folder``; returns bytes saved.

    Linux only. The Qt wheels ship stripped libraries, but an interpreter built from source
    (pyenv) carries full debug info: libpython alone is 23 MB instead of 6.5 MB. Only
    ``--strip-debug`` (symbols stay) and only ``*.so*`` files: the executables carry the
    bundle's archive at their end, which ``strip`` would cut off.
    """
    if shutil.which("strip") is None or shutil.which("objdump") is None:
        return 0
    saved = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if ".so" not in name or os.path.islink(path):
                continue
            headers = subprocess.run(
                ["objdump", "-h", path], capture_output=True, text=True, check=False
            ).stdout
            if ".debug_info" not in headers:
                continue
            before = os.path.getsize(path)
            subprocess.run(["strip", "--strip-debug", path], check=True)
            saved += before - os.path.getsize(path)
    return saved
