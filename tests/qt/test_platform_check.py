"""Before the window: no display, or an X11 library Qt's xcb plugin lacks, is said in words.

Qt's own answer is an abort whose message names the wrong library; these run
without a display (the loader is a stand-in that fails as glibc's dlopen does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.qt.platform_check import NO_DISPLAY, window_problem

X11 = {"DISPLAY": ":0"}


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "libqxcb.so").write_bytes(b"\x7fELF")
    return tmp_path


def fails_on(missing: str):  # type: ignore[no-untyped-def]
    loaded: list[str] = []

    def load(library: str) -> object:
        loaded.append(library)
        if library.endswith("libqxcb.so") or library == missing:
            raise OSError(f"{missing}: cannot open shared object file: No such file or directory")
        return object()

    return load, loaded


def test_no_display_is_said_before_qt_aborts(plugins: Path) -> None:
    assert window_problem({}, plugins=plugins) == NO_DISPLAY


def test_a_library_the_xcb_plugin_lacks_is_named_with_what_to_install(plugins: Path) -> None:
    load, _loaded = fails_on("libxcb-icccm.so.4")
    problem = window_problem(X11, plugins=plugins, load=load)
    assert problem is not None
    assert "libxcb-icccm.so.4" in problem
    assert "sudo apt-get install" in problem
    assert "libxcb-icccm4" in problem
    assert "streamdesk ask" in problem


def test_the_cursor_library_qt_loads_at_run_time_is_checked_too(plugins: Path) -> None:
    def load(library: str) -> object:
        if library == "libxcb-cursor.so.0":
            raise OSError("libxcb-cursor.so.0: cannot open shared object file: No such file")
        return object()

    problem = window_problem(X11, plugins=plugins, load=load)
    assert problem is not None
    assert "libxcb-cursor.so.0" in problem


@pytest.mark.parametrize(
    "environ",
    [
        {"QT_QPA_PLATFORM": "offscreen"},  # headless runs and the test suite
        {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
        {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"},
        {"QT_QPA_PLATFORM": "xcb;wayland", "DISPLAY": ":0"},  # fallbacks: Qt's choice
    ],
)
def test_other_platforms_are_left_to_qt(plugins: Path, environ: dict[str, str]) -> None:
    load, loaded = fails_on("libxcb-icccm.so.4")
    assert window_problem(environ, plugins=plugins, load=load) is None
    assert loaded == []


def test_what_it_cannot_tell_passes(tmp_path: Path, plugins: Path) -> None:
    load, _ = fails_on("libxcb-icccm.so.4")
    assert window_problem(X11, plugins=tmp_path / "elsewhere", load=load) is None  # no plugin

    def odd(library: str) -> object:
        raise OSError("libqxcb.so: undefined symbol: something")  # not a missing library

    assert window_problem(X11, plugins=plugins, load=odd) is None


def test_on_this_machine_the_real_plugin_loads_or_the_sentence_says_why() -> None:
    # The real plugin and loader: either it loads (None) or a library is named.
    problem = window_problem(X11)
    assert problem is None or "cannot open its window: the system library" in problem
