"""Reading and writing Streamdesk's small TOML config files, safely.

Owns: a tiny TOML writer (strings, numbers, booleans, inline tables of
strings, arrays of tables: all our files need; ``tomllib`` reads them back),
the atomic write (temporary file, fsync, rename), and the rule that a file
that does not parse is never overwritten silently: it is copied to
``<name>.broken-YYYYmmdd-HHMMSS`` first.

Reading a table checks each value's type and refuses a key that looks like
a credential (``api_key = ...``), without echoing it.

Must not: know what a profile or a setting is (``core.profiles`` does).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop_app.core.errors import ConfigError

# Keys someone might add to a profile by hand to paste a key into the file.
_SECRET_FIELDS = frozenset({"api_key", "apikey", "key", "token", "secret", "password"})
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def read(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist. Raises ``ConfigError`` with a sentence."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"Streamdesk could not read its settings file {path}.",
            hint="Check the file's permissions.",
        ) from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"The settings file {path} is not UTF-8 text.",
            hint="Fix or remove it; Streamdesk keeps a copy before it writes a new one.",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"The settings file {path} could not be read: {exc}.",
            hint="Fix the line it names, or remove the file; Streamdesk keeps a copy "
            "before it writes a new one.",
        ) from exc


def write(path: Path, text: str) -> Path | None:
    """Replace ``path`` with ``text`` atomically; returns the backup made of a broken file, if any."""
    backup = _backup_if_broken(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError(
            f"Streamdesk could not save {path}.",
            hint="Check that the disk is not full and the folder can be written.",
        ) from exc
    return backup


def _backup_if_broken(path: Path) -> Path | None:
    try:
        read(path)
    except ConfigError:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target, n = path.with_name(f"{path.name}.broken-{stamp}"), 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        try:
            shutil.copy2(path, target)
        except OSError as exc:
            raise ConfigError(
                f"{path} is damaged and could not be backed up, so it was not overwritten.",
                hint="Move it away by hand, then save again.",
            ) from exc
        return target
    return None


# ---------------------------------------------------------------- the writer


def key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else string(name)


def string(text: str) -> str:
    """A TOML string: multi-line (readable) when it has line breaks, else one line."""
    if "\n" in text:
        body = "".join(_escape(ch, multiline=True) for ch in text)
        # The newline right after the opening quotes is not part of the value.
        return '"""\n' + body + '"""'
    return '"' + "".join(_escape(ch, multiline=False) for ch in text) + '"'


def _escape(ch: str, *, multiline: bool) -> str:
    if multiline and ch in "\n\t":
        return ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\u{ord(ch):04x}"
    return ch


def value(item: object) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError("TOML values here must be finite numbers")
        return repr(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, Mapping):
        inner = ", ".join(f"{key(str(k))} = {value(v)}" for k, v in item.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(item).__name__} to TOML")


def assignment(name: str, item: object) -> str:
    return f"{key(name)} = {value(item)}"


# ---------------------------------------------------------------- reading tables

Kind = tuple[type | tuple[type, ...], str]  # accepted Python types, and how to say it


def typed_table(entry: Mapping[str, Any], kinds: Mapping[str, Kind], where: str) -> dict[str, Any]:
    """The known keys of a TOML table, type-checked (``ConfigError`` naming ``where``).

    Unknown keys are ignored (a newer Streamdesk's setting, or a typo). A key
    that looks like a credential is refused without echoing its value.
    """
    secret = _SECRET_FIELDS.intersection(k.lower() for k in entry)
    if secret:
        raise ConfigError(
            f"{where} has a “{sorted(secret)[0]}” entry: Streamdesk does not read keys from "
            "its config file.",
            hint="Remove that line and store the key in the keychain (Settings, or "
            "`streamdesk profile add --set-key`) or in an environment variable.",
        )
    values: dict[str, Any] = {}
    for name, item in entry.items():
        if name in kinds:
            types, words = kinds[name]
            if not _is_kind(item, types):
                raise ConfigError(f"{where}: “{name}” must be {words}.")
            values[name] = item
    return values


def _is_kind(item: object, types: type | tuple[type, ...]) -> bool:
    # bool is an int in Python: true/false is not a number here, and vice versa.
    return isinstance(item, bool) is (types is bool) and isinstance(item, types)
