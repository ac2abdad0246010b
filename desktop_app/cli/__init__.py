"""The ``streamdesk`` command: the GUI by default, and headless subcommands over the same core.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; this module only dispatches. Exit codes are shared:
0 complete, 2 usage, 3 connection or HTTP error, 4 interrupted or protocol
error, 130 cancelled.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from desktop_app import __version__

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_TRANSPORT = 3
EXIT_INTERRUPTED = 4
EXIT_CANCELLED = 130

# Subcommand modules, imported lazily so `streamdesk --version` stays instant.
SUBCOMMANDS = ("ask", "history", "profile")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamdesk",
        description="Streamdesk: a desktop chat client for streaming language-model servers. "
        "With no subcommand it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"Streamdesk {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the real window (offscreen without a display), stream one answer from the "
        "embedded stub, check it, print the metrics and exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"desktop_app.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"desktop_app.cli.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        # The GUI takes Qt's own arguments (-platform, -style ...) too.
        from desktop_app.__main__ import run_gui

        return run_gui(self_test=args.self_test, qt_args=rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    module = importlib.import_module(f"desktop_app.cli.{args.command}")
    code: int = module.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
