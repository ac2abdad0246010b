"""PyInstaller entry point of the ``streamdesk`` executable: the same ``main`` as the console script.

It exists only because PyInstaller wants a script file; it must not grow logic of its own.
"""

from __future__ import annotations

import sys

from desktop_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
