"""Where Streamdesk keeps its files on this computer (platformdirs, app name "Streamdesk").

Owns: the per-user config, data, state, log and cache directories, and the
names of the files in them (``profiles.toml``, ``settings.toml``,
``history.sqlite3``). On Linux these follow ``XDG_*`` (tests point them into a
temporary directory), on macOS ``~/Library/Application Support/Streamdesk``,
on Windows ``%LOCALAPPDATA%\\Streamdesk``.

Must not: create anything when asked for a path (callers create what they
write, with ``ensure_dir``), or cache the answer (tests change the
environment between calls; platformdirs is cheap).
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "Streamdesk"

HISTORY_FILE = "history.sqlite3"
PROFILES_FILE = "profiles.toml"
SETTINGS_FILE = "settings.toml"


def _dirs() -> PlatformDirs:
    # appauthor=False: no "Streamdesk/Streamdesk" nesting on Windows.
    return PlatformDirs(APP_NAME, appauthor=False)


def config_dir() -> Path:
    return Path(_dirs().user_config_dir)


def data_dir() -> Path:
    return Path(_dirs().user_data_dir)


def state_dir() -> Path:
    return Path(_dirs().user_state_dir)


def log_dir() -> Path:
    return Path(_dirs().user_log_dir)


def cache_dir() -> Path:
    return Path(_dirs().user_cache_dir)


def history_path() -> Path:
    return data_dir() / HISTORY_FILE


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing, private to the user where the OS allows."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
