"""A keyring backend for subprocess tests: entries in the JSON file named by STREAMDESK_TEST_KEYRING.

A ``streamdesk ask`` subprocess cannot see the in-memory keyring of the test
process; with ``PYTHON_KEYRING_BACKEND=tests.core.file_keyring.FileKeyring``
it reads this file instead. Tests only: the app itself never stores keys in a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

VARIABLE = "STREAMDESK_TEST_KEYRING"
BACKEND = "tests.core.file_keyring.FileKeyring"


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @staticmethod
    def _file() -> Path:
        return Path(os.environ[VARIABLE])

    def _entries(self) -> dict[str, str]:
        file = self._file()
        return json.loads(file.read_text()) if file.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}/{username}"] = password
        self._file().write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._file().write_text(json.dumps(entries))
