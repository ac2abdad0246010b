"""Export chats to Markdown or JSON and import JSON back, from the File menu.

The file dialogs are opened with ``open()`` (never ``exec()``); the export
text is built from the history on the GUI thread (one query per
conversation) and the file is written in a thread, so a slow disk cannot
freeze the window. Imports read the file in a thread and write the history
in one transaction. Results and problems go to the status bar and banner.

It must not decide the export format (``core.storage.export`` does) or hold
anything secret: exports carry profile names only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from desktop_app.core.errors import DiskFull, StorageError, StreamdeskError
from desktop_app.core.storage import export_json, export_markdown, import_json
from desktop_app.qt.errors import describe

if TYPE_CHECKING:
    from desktop_app.qt.main_window import MainWindow

_MARKDOWN = "Markdown (*.md)"
_JSON = "Streamdesk JSON (*.json)"


def export_chats(window: MainWindow, *, current_only: bool) -> QFileDialog | None:
    conversation_id = window.chat.current_id
    if current_only and conversation_id is None:
        window.statusBar().showMessage("There is nothing to export in a new chat yet.", 4000)
        return None
    ids = [conversation_id] if current_only and conversation_id is not None else None
    title = "Export this chat" if current_only else "Export all chats"
    name = "streamdesk-chat" if current_only else "streamdesk-history"
    dialog = QFileDialog(window, title, str(Path.home() / f"{name}.md"), f"{_MARKDOWN};;{_JSON}")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setDefaultSuffix("md")
    dialog.filterSelected.connect(
        lambda chosen: dialog.setDefaultSuffix("json" if chosen == _JSON else "md")
    )

    def chosen(path: str) -> None:
        as_json = path.lower().endswith(".json") or dialog.selectedNameFilter() == _JSON
        window.tasks.spawn(export_to(window, Path(path), ids, as_json=as_json), name="export")

    dialog.fileSelected.connect(chosen)
    dialog.open()
    return dialog


async def export_to(
    window: MainWindow, path: Path, ids: list[int] | None, *, as_json: bool
) -> None:
    try:
        store = window.services.history
        text = export_json(store, ids) if as_json else export_markdown(store, ids)
        await asyncio.to_thread(_write_text, path, text)
    except StreamdeskError as exc:
        window.banner.add(*describe(exc))
        return
    except OSError as exc:
        error: StreamdeskError = (
            DiskFull()
            if exc.errno == 28
            else StorageError(f"Could not write {path}: {exc.strerror}.")
        )
        window.banner.add(*describe(error))
        return
    count = "1 chat" if ids else "all chats"
    window.statusBar().showMessage(f"Exported {count} to {path}", 6000)


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def import_chats(window: MainWindow) -> QFileDialog:
    dialog = QFileDialog(window, "Import chats", str(Path.home()), f"{_JSON};;All files (*)")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.fileSelected.connect(
        lambda path: window.tasks.spawn(import_from(window, Path(path)), name="import")
    )
    dialog.open()
    return dialog


async def import_from(window: MainWindow, path: Path) -> None:
    try:
        data = await asyncio.to_thread(path.read_bytes)
        report = import_json(window.services.history, data)
    except StreamdeskError as exc:
        window.banner.add(*describe(exc))
        return
    except OSError as exc:
        window.banner.add(f"Could not read {path}: {exc.strerror}.", "")
        return
    window.refresh_sidebar()
    skipped = f", {report.skipped} already here" if report.skipped else ""
    window.statusBar().showMessage(
        f"Imported {report.imported} chats ({report.messages} messages){skipped}.", 6000
    )
