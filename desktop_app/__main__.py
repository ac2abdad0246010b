"""``python -m desktop_app``: open the Streamdesk window (see ``desktop_app.qt.app``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def run_gui(*, self_test: bool = False, qt_args: Sequence[str] = ()) -> int:
    from desktop_app.qt.app import run

    return run(self_test=self_test, qt_args=list(qt_args))


def main() -> int:
    from desktop_app.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
