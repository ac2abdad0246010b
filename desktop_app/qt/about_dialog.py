"""The About box: Streamdesk's version, the Qt and PySide6 it runs on, and what it bundles.

The component list is read at run time from the installed distributions'
metadata (the runtime dependencies of ``streamdesk``, recursively), so it is
true for whatever build is running; a packaged build also points at its
``THIRD-PARTY-LICENSES.txt``. Opened with ``open()``: never ``exec()``.

It must not fetch anything: links open in the system browser on click only.
"""

from __future__ import annotations

import html
import importlib.metadata as md
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app import __version__

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    version: str
    license: str


def bundled_components(root: str = "streamdesk") -> list[Component]:
    """Every runtime dependency of ``root`` (not extras), sorted by name."""
    seen: dict[str, Component] = {}
    queue = [root]
    while queue:
        name = queue.pop()
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        key = _canonical(dist.metadata["Name"] or name)
        if key in seen:
            continue
        if name != root:
            seen[key] = Component(dist.metadata["Name"] or name, dist.version, _license_of(dist))
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            # Environment markers are not evaluated: a requirement that does
            # not apply here is simply not installed, and is skipped above.
            match = _NAME_RE.match(requirement.strip())
            if match:
                queue.append(match.group(0))
    return sorted(seen.values(), key=lambda c: c.name.lower())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _license_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 60:
        return text
    classifiers = [
        c.rsplit("::", 1)[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    return ", ".join(classifiers) or "see its licence file"


def _third_party_file() -> Path | None:
    # A packaged build carries THIRD-PARTY-LICENSES.txt next to the executable.
    for folder in (Path(sys.executable).parent, Path(sys.executable).parent.parent):
        candidate = folder / "THIRD-PARTY-LICENSES.txt"
        if candidate.is_file():
            return candidate
    return None


def about_html() -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(c.version)}</td>"
        f"<td>{html.escape(c.license)}</td></tr>"
        for c in bundled_components()
    )
    licence_file = _third_party_file()
    where = (
        f"<p>The full licence texts are in <code>{html.escape(str(licence_file))}</code>.</p>"
        if licence_file
        else "<p>Each component's licence text is in its installed package metadata.</p>"
    )
    return (
        f"<h2>Streamdesk {html.escape(__version__)}</h2>"
        "<p>A desktop chat client for language-model servers that stream their answers."
        " Streamdesk is free software under the MIT licence.</p>"
        f"<p>Qt {html.escape(qVersion())} · PySide6 {html.escape(PySide6.__version__)} · "
        f"Python {html.escape(platform.python_version())} · "
        f"{html.escape(platform.system())} {html.escape(platform.machine())}</p>"
        "<p>Qt and PySide6 are used under the GNU Lesser General Public License v3 "
        "(LGPL-3.0); you may replace them with your own builds. Source: "
        '<a href="https://download.qt.io/official_releases/QtForPython/">'
        "download.qt.io</a>.</p>"
        "<h3>Bundled components</h3>"
        '<table cellspacing="0" cellpadding="3">'
        "<tr><th align='left'>Component</th><th align='left'>Version</th>"
        f"<th align='left'>Licence</th></tr>{rows}</table>{where}"
    )


class AboutDialog(QDialog):
    """Version and licences; non-modal-friendly (use ``open()``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Streamdesk")
        self.setAccessibleName("About Streamdesk")
        self.resize(560, 520)
        self.text = QTextBrowser(self)
        self.text.setAccessibleName("About Streamdesk and licences")
        # Links go to the system browser (http/https only); nothing is ever
        # loaded into the widget.
        self.text.setOpenLinks(False)
        self.text.anchorClicked.connect(_open_external)
        self.text.setHtml(about_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        caption = QLabel("Thank you for using Streamdesk.", self)
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(caption)
        layout.addWidget(buttons)


def _open_external(url: QUrl) -> None:
    if url.scheme() in ("http", "https"):
        QDesktopServices.openUrl(url)
