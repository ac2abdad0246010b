"""``streamdesk profile``: add, list and remove server profiles, and save a profile's key.

It edits the same ``profiles.toml`` as the settings dialog (``core.profiles``).
A key typed with ``--set-key`` goes to the system keychain only; without a
keychain the command says so and stores nothing (``--api-key-env VAR`` is the
alternative). Keys are never printed, and never written to the config file.
Exit codes: 0 done, 1 failed (bad value, unreadable config, no keychain),
2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from typing import TextIO

from desktop_app.cli import EXIT_OK, EXIT_USAGE
from desktop_app.cli.terminal import sanitize
from desktop_app.core.errors import ConfigError, SecretStoreError, StreamdeskError
from desktop_app.core.profiles import (
    PROVIDERS,
    TEMPLATES,
    Profile,
    find,
    from_template,
    load_profiles,
    save_profiles,
    validate,
    validate_all,
)
from desktop_app.core.secrets import KeyringSecretStore, key_source, keychain_status

EXIT_FAILURE = 1
PROG = "streamdesk profile"


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="add, list or remove server profiles",
        description="Server profiles, shared with the window's Settings. "
        "Exit codes: 0 done, 1 failed, 2 usage.",
    )
    actions = parser.add_subparsers(dest="profile_command", metavar="ACTION", required=True)

    actions.add_parser("list", help="list the profiles")

    add = actions.add_parser(
        "add",
        help="add a profile",
        description="Add a profile. Start from --template (" + ", ".join(TEMPLATES) + ") or "
        "give --provider, --base-url and --model. The key is never stored in the config file: "
        "name an environment variable with --api-key-env, or save it in the system keychain "
        "with --set-key.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--template", choices=tuple(TEMPLATES), help="start from a known server")
    add.add_argument("--provider", choices=PROVIDERS, help="the wire format")
    add.add_argument("--base-url", metavar="URL", help="API base URL (generic: the chat URL)")
    add.add_argument("--model", help="model name")
    add.add_argument("--system-prompt", metavar="TEXT")
    add.add_argument("--temperature", type=float)
    add.add_argument("--max-tokens", type=int, metavar="N")
    add.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra request header (repeatable; not for credentials)",
    )
    add.add_argument(
        "--proxy",
        metavar="URL",
        help="a proxy URL, 'none' for a direct connection, or 'system' (default: the "
        "HTTP(S)_PROXY environment)",
    )
    add.add_argument("--ca-bundle", metavar="PATH", help="extra trusted CAs (PEM)")
    add.add_argument("--stream-url", metavar="URL", help="generic two-step servers: the stream URL")
    add.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the key")
    add.add_argument(
        "--set-key",
        action="store_true",
        help="ask for the API key (hidden) and save it in the system keychain",
    )

    set_key = actions.add_parser(
        "set-key", help="ask for a profile's API key and save it in the system keychain"
    )
    set_key.add_argument("name", metavar="NAME")

    remove = actions.add_parser("remove", help="remove a profile (and its saved key)")
    remove.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        command = args.profile_command
        if command == "list":
            return _list(out)
        if command == "add":
            return _add(args, out)
        if command == "set-key":
            return _set_key(args.name, out)
        return _remove(args.name, out, err)
    except UsageError as exc:
        _say(err, str(exc))
        return EXIT_USAGE
    except StreamdeskError as exc:
        _say(err, f"{exc} {exc.hint}")
        return EXIT_FAILURE


def _list(out: TextIO) -> int:
    strict = _isatty(out)
    for p in load_profiles():
        where = "built-in offline demo" if p.embedded else p.base_url
        key = key_source(p) or ("no key" if not p.embedded else "no key needed")
        model = p.model or "(server's default)"
        line = f"{p.name}  [{p.provider}]  {model}  {where}  ({key})"
        out.write(sanitize(line, strict=strict) + "\n")
    return EXIT_OK


def _add(args: argparse.Namespace, out: TextIO) -> int:
    profile = _profile_from_args(args)
    profiles = load_profiles()
    profiles_after = validate_all([*profiles, profile])  # duplicate names, all checks
    profile = profiles_after[-1]
    if args.set_key:
        key = _read_key(profile.name)
        store = KeyringSecretStore()
        store.set_key(profile.name, key)
        profile = dataclasses.replace(profile, has_key=True)
        try:
            save_profiles([*profiles, profile])
        except ConfigError:
            store.delete_key(profile.name)  # no orphan key for a profile that does not exist
            raise
        out.write(f"Saved profile “{profile.name}”; its key is in the {_keychain()}.\n")
        return EXIT_OK
    save_profiles([*profiles, profile])
    out.write(f"Saved profile “{profile.name}”.\n")
    return EXIT_OK


def _set_key(name: str, out: TextIO) -> int:
    profiles = load_profiles()
    profile = find(profiles, name)
    if profile.embedded:
        raise ConfigError(f"“{profile.name}” is the offline demo: it needs no key.")
    key = _read_key(profile.name)
    KeyringSecretStore().set_key(profile.name, key)
    updated = [dataclasses.replace(p, has_key=True) if p == profile else p for p in profiles]
    save_profiles(updated)
    out.write(f"Saved the key for “{profile.name}” in the {_keychain()}.\n")
    return EXIT_OK


def _remove(name: str, out: TextIO, err: TextIO) -> int:
    profiles = load_profiles()
    profile = find(profiles, name)
    save_profiles([p for p in profiles if p != profile])
    out.write(f"Removed profile “{profile.name}”.\n")
    if profile.has_key:
        try:
            KeyringSecretStore().delete_key(profile.name)
        except SecretStoreError as exc:
            _say(err, f"warning: its saved key could not be removed: {exc} {exc.hint}")
    return EXIT_OK


def _profile_from_args(args: argparse.Namespace) -> Profile:
    changes: dict[str, object] = {}
    for option, field in (
        ("provider", "provider"),
        ("base_url", "base_url"),
        ("model", "model"),
        ("system_prompt", "system_prompt"),
        ("temperature", "temperature"),
        ("max_tokens", "max_tokens"),
        ("ca_bundle", "ca_bundle"),
        ("stream_url", "stream_url"),
        ("api_key_env", "api_key_env"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[field] = value
    if args.proxy is not None:
        changes["proxy"] = {"none": "", "system": None}.get(args.proxy.lower(), args.proxy)
    if args.header:
        changes["extra_headers"] = dict(_header(h) for h in args.header)
    if args.template:
        return validate(from_template(args.template, args.name, **changes))
    missing = [
        f"--{o}" for o in ("provider", "base-url", "model") if o.replace("-", "_") not in changes
    ]
    if missing:
        raise UsageError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed "
            "(or start from --template)."
        )
    return validate(Profile(name=args.name, **changes))  # type: ignore[arg-type]


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--header wants NAME=VALUE, not “{text}”.")
    return name.strip(), value.strip()


def _read_key(name: str) -> str:
    """The key from a hidden prompt on a terminal, or one line of stdin when piped."""
    if sys.stdin.isatty():
        key = getpass.getpass(f"API key for “{name}” (input hidden): ")
    else:
        key = sys.stdin.readline()
    key = key.strip()
    if not key:
        raise ConfigError("No key was given, so nothing was saved.")
    return key


def _keychain() -> str:
    return keychain_status().replace("System keychain: ", "system keychain (") + ")"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _say(err: TextIO, sentence: str) -> None:
    one_line = " ".join(sentence.split())
    err.write(f"{PROG}: {sanitize(one_line, strict=True)}\n")
    err.flush()
