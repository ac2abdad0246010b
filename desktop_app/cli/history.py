"""``streamdesk history``: list, search, export and import the chat history without the window.

It opens the same history file as the GUI (``core.storage``) and only adds
the command line. Exit codes: 0 done, 1 the history could not be used or a
file could not be read or written, 2 usage.

History text is model output, so it is untrusted: shown on a terminal every
control sequence is removed; sent to a pipe, escape sequences are removed
(``cli.terminal``). ``-o FILE`` writes the export exactly as stored.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from desktop_app.cli import EXIT_OK
from desktop_app.cli.terminal import sanitize
from desktop_app.core.errors import StorageError
from desktop_app.core.storage import HistoryStore, export_json, export_markdown, import_json

EXIT_FAILURE = 1
PROG = "streamdesk history"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list, search, export or import the chat history",
        description="The chat history the window shows, from the command line. "
        "Exit codes: 0 done, 1 failed, 2 usage.",
    )
    actions = parser.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list conversations, most recent first")
    listing.add_argument("--limit", type=_positive, metavar="N", help="show at most N")

    search = actions.add_parser("search", help="find conversations and messages containing TEXT")
    search.add_argument("text", metavar="TEXT", help="words to find (all of them must occur)")
    search.add_argument("--limit", type=_positive, default=50, metavar="N", help="default 50")

    export = actions.add_parser(
        "export",
        help="export conversations to Markdown or JSON",
        description="Export every conversation (or those given with --conversation) to "
        "Markdown or JSON. JSON can be imported again; the format is chosen from the -o "
        "file name (.json) unless --format says.",
    )
    export.add_argument(
        "--conversation",
        type=int,
        action="append",
        metavar="ID",
        help="a conversation id from `streamdesk history list` (repeatable; default: all)",
    )
    export.add_argument("--format", choices=("md", "json"), help="default: md, or json for *.json")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")

    imports = actions.add_parser(
        "import",
        help="import a JSON export",
        description="Import a JSON export. Conversations get new ids; one already in the "
        "history (same conversation, e.g. imported before) is skipped, never overwritten.",
    )
    imports.add_argument("file", metavar="FILE", help="a .json export, or - for stdin")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    store = HistoryStore.open()
    try:
        for warning in store.warnings:
            _say(err, f"warning: {warning} {warning.hint}")
        if not store.persistent:
            # The warning said why; an in-memory history has nothing to show or keep.
            return EXIT_FAILURE
        command = args.history_command
        if command == "list":
            return _list(store, out, args.limit)
        if command == "search":
            return _search(store, out, args.text, args.limit)
        if command == "export":
            return _export(store, out, err, args)
        return _import(store, out, err, args.file)
    except StorageError as exc:
        _say(err, f"{exc} {exc.hint}")
        return EXIT_FAILURE
    finally:
        store.close()


def _list(store: HistoryStore, out: TextIO, limit: int | None) -> int:
    clean = _cleaner(out)
    for c in store.list_conversations(limit=limit):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
        title = clean(_one_line(c.title)) or "(untitled)"
        pin = " *" if c.pinned else ""
        out.write(f"{c.id:>6}  {when}  {title}{pin}\n")
    return EXIT_OK


def _search(store: HistoryStore, out: TextIO, text: str, limit: int) -> int:
    clean = _cleaner(out)
    for hit in store.search(text, limit=limit):
        title = clean(_one_line(hit.title)) or "(untitled)"
        if hit.message_id is None:
            out.write(f"{hit.conversation_id:>6}  {title}\n")
        else:
            out.write(f"{hit.conversation_id:>6}  {title}: {clean(_one_line(hit.snippet))}\n")
    return EXIT_OK


def _export(store: HistoryStore, out: TextIO, err: TextIO, args: argparse.Namespace) -> int:
    target: str | None = args.output if args.output not in (None, "-") else None
    fmt = args.format or ("json" if target and target.lower().endswith(".json") else "md")
    ids = args.conversation
    text = export_json(store, ids) if fmt == "json" else export_markdown(store, ids)
    if target is None:
        out.write(_cleaner(out)(text))
        out.flush()
        return EXIT_OK
    try:
        Path(target).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        _say(err, f"could not write {target}: {exc.strerror or exc}.")
        return EXIT_FAILURE
    count = len(ids) if ids else len(store.list_conversations())
    _say(err, f"exported {count} conversation{'s' if count != 1 else ''} to {target}.")
    return EXIT_OK


def _import(store: HistoryStore, out: TextIO, err: TextIO, file: str) -> int:
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        _say(err, f"could not read {file}: {exc.strerror or exc}.")
        return EXIT_FAILURE
    report = import_json(store, data)
    line = f"Imported {report.imported} conversation{'s' if report.imported != 1 else ''}"
    line += f" ({report.messages} messages)."
    if report.skipped:
        line += f" {report.skipped} already in the history {'were' if report.skipped != 1 else 'was'} skipped."
    out.write(line + "\n")
    return EXIT_OK


def _cleaner(stream: TextIO) -> Callable[[str], str]:
    strict = _isatty(stream)
    return lambda text: sanitize(text, strict=strict)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(err: TextIO, sentence: str) -> None:
    err.write(f"{PROG}: {sanitize(_one_line(sentence), strict=True)}\n")
    err.flush()
