"""Fast checks of the packaging files: desktop entry, AppStream metadata, the bundle policy and
its pruning, the Debian dependency naming, licences and icon rendering. No PyInstaller run here:
``packaging/build_linux.sh`` builds and verifies the real bundle (CI runs it separately)."""

from __future__ import annotations

import configparser
import importlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.streamdesk.Streamdesk"
DESKTOP = PACKAGING / "linux" / f"{APP_ID}.desktop"
METAINFO = PACKAGING / "linux" / f"{APP_ID}.metainfo.xml"


def load(name: str) -> ModuleType:
    """Import a packaging helper (packaging/ is a folder of scripts, not a package)."""
    if str(PACKAGING) not in sys.path:
        sys.path.insert(0, str(PACKAGING))
    return importlib.import_module(name)


def app_version() -> str:
    from desktop_app import __version__

    return __version__


# -- desktop entry ----------------------------------------------------------------------------


def read_desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_entry_has_the_keys_a_launcher_needs() -> None:
    entry = read_desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Streamdesk"
    assert entry["Exec"].split()[0] == "streamdesk"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    categories = entry["Categories"]
    assert categories.endswith(";")
    # "Chat" is an additional category: the spec requires a main one (Network) beside it.
    assert "Network" in categories.split(";")
    assert entry["Keywords"].endswith(";")


def test_desktop_entry_passes_desktop_file_validate() -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (apt-get install desktop-file-utils)")
    result = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()


# -- AppStream metainfo -----------------------------------------------------------------------


def test_metainfo_is_well_formed_with_the_app_id() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    launchable = root.find("launchable")
    assert launchable is not None
    assert launchable.get("type") == "desktop-id"
    assert launchable.text == f"{APP_ID}.desktop"
    binaries = {b.text for b in root.iterfind("provides/binary")}
    assert binaries == {"streamdesk", "streamdesk-stub"}
    assert root.find("description/p") is not None


def test_metainfo_release_matches_the_app_version() -> None:
    root = ET.parse(METAINFO).getroot()
    newest = root.find("releases/release")
    assert newest is not None
    assert newest.get("version") == app_version()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", newest.get("date", ""))


def test_metainfo_passes_appstreamcli_validate() -> None:
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli not installed (apt-get install appstream)")
    result = subprocess.run(
        [tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the PyInstaller spec and its policy ------------------------------------------------------


def test_spec_excludes_webengine_and_qml_and_never_collects_all_of_pyside6() -> None:
    policy = load("bundle_policy")
    spec = (PACKAGING / "streamdesk.spec").read_text(encoding="utf-8")
    for module in ("PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtQml"):
        assert module in policy.QT_MODULES_EXCLUDED
    assert "PySide6.QtQuick" in policy.QT_MODULES_EXCLUDED
    assert not set(policy.QT_MODULES_USED) & set(policy.QT_MODULES_EXCLUDED)
    assert "policy.QT_MODULES_EXCLUDED" in spec
    assert "policy.prune(" in spec
    assert "collect_all" not in spec  # research/ecosystem.md pitfall 17
    assert "PySide6" in policy.STUB_EXCLUDED


def test_spec_entry_points_match_the_console_scripts() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    for program, entry in (
        ("streamdesk", "entry_streamdesk.py"),
        ("streamdesk-stub", "entry_stub.py"),
    ):
        module, func = scripts[program].split(":")
        text = (PACKAGING / entry).read_text(encoding="utf-8")
        assert f"from {module} import {func}" in text
        assert f'name="{program}"' in (PACKAGING / "streamdesk.spec").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("dest", "dropped"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", True),
        ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", False),
        ("PySide6/Qt/plugins/imageformats/libqtiff.so", True),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", True),
        ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", False),
        ("PySide6/Qt/translations/qtbase_de.qm", True),
        ("PySide6/Qt/qml/QtQuick/qmldir", True),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", False),
        ("httpx/__init__.py", False),
    ],
)
def test_plugin_and_data_policy(dest: str, dropped: bool) -> None:
    assert load("bundle_policy").is_dropped_file(dest) is dropped


def test_prune_keeps_what_is_linked_and_drops_the_rest() -> None:
    policy = load("bundle_policy")
    qt = "PySide6/Qt/lib/"
    binaries = [
        ("PySide6/QtWidgets.abi3.so", "/w/QtWidgets.abi3.so", "EXTENSION"),
        ("lib-dynload/_ssl.so", "/w/_ssl.so", "EXTENSION"),
        (qt + "libQt6Widgets.so.6", "/w/libQt6Widgets.so.6", "BINARY"),
        (qt + "libQt6Core.so.6", "/w/libQt6Core.so.6", "BINARY"),
        (qt + "libQt6Quick.so.6", "/w/libQt6Quick.so.6", "BINARY"),
        (qt + "libQt6Qml.so.6", "/w/libQt6Qml.so.6", "BINARY"),
        (
            "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
            "/w/libqtvirtualkeyboardplugin.so",
            "BINARY",
        ),
        ("libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "BINARY"),
        ("libX11.so.6", "/usr/lib/x86_64-linux-gnu/libX11.so.6", "BINARY"),
        ("libgcc_s.so.1", "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1", "BINARY"),
    ]
    datas = [
        ("libQt6Quick.so.6", qt + "libQt6Quick.so.6", "SYMLINK"),
        ("libQt6Core.so.6", qt + "libQt6Core.so.6", "SYMLINK"),
        ("PySide6/Qt/translations/qt_de.qm", "/w/qt_de.qm", "DATA"),
    ]
    links = {
        "/w/QtWidgets.abi3.so": ["libQt6Widgets.so.6", "libQt6Core.so.6"],
        "/w/libQt6Widgets.so.6": ["libQt6Core.so.6", "libX11.so.6"],
        "/w/libqtvirtualkeyboardplugin.so": ["libQt6Quick.so.6", "libQt6Qml.so.6"],
        "/w/libQt6Quick.so.6": ["libQt6Qml.so.6"],
        "/w/_ssl.so": ["libssl.so.3", "libgcc_s.so.1"],
    }
    kept, kept_datas, removed = policy.prune(
        binaries,
        datas,
        lambda path: links.get(path, []),
        is_system=lambda src: src.startswith("/usr/"),
    )
    kept_names = {Path(d).name for d, _s, _t in kept}
    assert kept_names == {
        "QtWidgets.abi3.so",
        "_ssl.so",
        "libQt6Widgets.so.6",
        "libQt6Core.so.6",
        "libssl.so.3",  # the Python side links it: bundled
    }
    # libX11 is only Qt's: it comes from the OS (the .deb Depends on it).
    assert [d for d, _s, _t in kept_datas] == ["libQt6Core.so.6"]
    assert {Path(d).name for d, _s, _t in removed} >= {
        "libQt6Quick.so.6",
        "libQt6Qml.so.6",
        "libqtvirtualkeyboardplugin.so",
        "libX11.so.6",
        "libgcc_s.so.1",  # the compiler runtime always comes from the OS
        "qt_de.qm",
    }


def test_linux_system_library_detection() -> None:
    policy = load("bundle_policy")
    assert policy.is_linux_system_library("/usr/lib/x86_64-linux-gnu/libX11.so.6")
    assert not policy.is_linux_system_library("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0")
    assert not policy.is_linux_system_library("/usr/lib/python3/dist-packages/foo/libbar.so")
    assert not policy.is_linux_system_library("/opt/venv/lib/python3.11/site-packages/x.so")


# -- Debian dependencies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
    ],
)
def test_debian_library_package_naming(soname: str, package: str) -> None:
    assert load("linux_deps").debian_name(soname) == package


# -- licences and icons -----------------------------------------------------------------------


def test_licences_name_every_bundled_distribution_but_ours() -> None:
    licences = load("third_party_licenses")
    modules = [
        "httpx._client",
        "jaraco.functools",
        "PySide6.QtCore",
        "desktop_app.cli",
        "server_stub",
    ]
    dists = licences.distributions_for_modules(modules)
    assert {"httpx", "jaraco-functools", "pyside6-essentials"} <= set(dists)
    assert "streamdesk" not in dists
    text = licences.render(["httpx", "PySide6.QtCore"], binaries=[])
    assert "Python Software Foundation" in text
    assert "LGPL-3.0" in text
    assert "https://download.qt.io/official_releases/QtForPython/pyside6/" in text
    assert "httpx" in text
    assert "BSD" in text


def test_gnu_licence_texts_are_shipped_with_the_packaging() -> None:
    for name in ("LGPL-3.0.txt", "GPL-3.0.txt"):
        text = (PACKAGING / "licenses" / name).read_text(encoding="utf-8")
        assert "GNU" in text
        assert "Version 3" in text


def test_icons_render_at_every_hicolor_size(tmp_path: Path, qapp: object) -> None:
    # qapp first: render() must reuse the suite's QApplication, never make a QGuiApplication.
    render_icons = load("render_icons")
    svg = tmp_path / "icon.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        '<rect width="10" height="10" fill="#08f"/></svg>',
        encoding="utf-8",
    )
    files = render_icons.render(svg, tmp_path / "out")
    from PySide6.QtGui import QImage

    for size in render_icons.SIZES:
        png = tmp_path / "out" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png in files
        image = QImage(str(png))
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(size // 2, size // 2).blue() > 200
    assert (tmp_path / "out" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()


# -- the build entry points -------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    ["packaging/build_linux.sh", "scripts/build_bundle", "packaging/linux/install-user.sh"],
)
def test_build_scripts_are_executable_and_parse(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable (git update-index --chmod=+x)"
    shell = "sh" if script.endswith("install-user.sh") else "bash"
    result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
