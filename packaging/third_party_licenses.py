"""Writes ``THIRD-PARTY-LICENSES.txt`` (and the LGPL/GPL texts) into a built bundle.

Owns the answer to "what did we ship, under which licence, and where is its source": CPython,
Qt and PySide6 (LGPL-3.0, with where to get the source and how to replace the libraries), every
bundled Python distribution's own licence files from its dist-info, and on Debian-like systems the
copyright file of each system library PyInstaller copied in. Called by ``streamdesk.spec`` after
COLLECT, and runnable on its own for an existing bundle. It must not import the app or PySide6.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUR_DISTRIBUTIONS = {"streamdesk"}
LICENSE_NAME_HINTS = ("LICEN", "COPYING", "NOTICE", "AUTHORS", "COPYRIGHT")
RULE = "=" * 78

QT_NOTICE = """\
Qt {version} and Qt for Python (PySide6 {version}, Shiboken6 {version})
Copyright (C) The Qt Company Ltd. and other contributors.

Streamdesk uses Qt and PySide6 under the GNU Lesser General Public License version 3
(LGPL-3.0-only); the full text is in licenses/LGPL-3.0.txt, and the GNU GPL version 3 it refers
to is in licenses/GPL-3.0.txt. Qt and PySide6 are also available under GPL-2.0/GPL-3.0 and
commercial terms; Streamdesk uses the LGPL option.

Streamdesk ships the unmodified Qt and PySide6 binaries from the PySide6-Essentials and shiboken6
wheels on the Python Package Index, as separate shared libraries:
  _internal/PySide6/Qt/lib/      (Qt libraries; Qt*.dll or Qt*.framework on Windows/macOS)
  _internal/PySide6/Qt/plugins/  (Qt plugins)
  _internal/PySide6/, _internal/shiboken6/  (Python bindings)
You may replace these libraries with your own compatible builds (same Qt {version} ABI): the
application loads them from that folder at start-up, nothing is statically linked.

Source code:
  Qt:      https://download.qt.io/official_releases/qt/ (version {version}),
           https://code.qt.io/cgit/qt/
  PySide6: https://download.qt.io/official_releases/QtForPython/pyside6/ (version {version}),
           https://code.qt.io/cgit/pyside/pyside-setup.git/ (tag v{version})
If you cannot get the source from those places, ask the Streamdesk developers for a copy of the
source of the exact versions shipped; the offer is valid for three years from this release.
"""

BOOTLOADER_NOTICE = """\
The executables' start-up code (bootloader) comes from PyInstaller {version}, licensed under the
GNU GPL version 2 or later with the PyInstaller bootloader exception, which allows it to be
combined with programs under any licence. Source: https://github.com/pyinstaller/pyinstaller
"""


def _dist_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "unknown"


def distributions_for_modules(modules: Iterable[str]) -> dict[str, md.Distribution]:
    """Map bundled module names (``pkg.sub``) to the installed distributions providing them."""
    by_top = md.packages_distributions()
    found: dict[str, md.Distribution] = {}
    cache: dict[str, md.Distribution] = {}
    for module in modules:
        parts = module.split(".")
        names = by_top.get(parts[0], [])
        if len(names) > 1 and len(parts) > 1:
            # A namespace package (jaraco.*): pick the distribution holding this sub-package.
            prefix = "/".join(parts[:2])
            names = [n for n in names if _holds(cache, n, prefix)] or names[:1]
        for name in names:
            dist = cache.get(name) or md.distribution(name)
            cache[name] = dist
            key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()  # PEP 503 name
            if key not in OUR_DISTRIBUTIONS:
                found[key] = dist
    return dict(sorted(found.items()))


def _holds(cache: dict[str, md.Distribution], name: str, prefix: str) -> bool:
    dist = cache.get(name) or md.distribution(name)
    cache[name] = dist
    return any(str(f).startswith(prefix) for f in dist.files or ())


def _licence_files(dist: md.Distribution) -> list[Path]:
    files = []
    for entry in dist.files or ():
        path = str(entry)
        if ".dist-info/" not in path:
            continue
        name = path.rsplit("/", 1)[-1].upper()
        if any(hint in name for hint in LICENSE_NAME_HINTS):
            files.append(Path(str(dist.locate_file(entry))))
    return sorted(files)


def _licence_label(dist: md.Distribution) -> str:
    meta = dist.metadata
    label = meta.get("License-Expression") or ""
    if not label:
        short = (meta.get("License") or "").strip()
        label = short if short and "\n" not in short and len(short) < 80 else ""
    if not label:
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        label = "; ".join(c.rsplit(" :: ", 1)[-1] for c in classifiers)
    return label or "see the licence text below"


def _python_licence() -> str:
    candidates = [
        Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt",
        Path(sys.base_prefix) / "LICENSE.txt",
        Path(sys.base_prefix) / "share" / "doc" / "python3" / "copyright",
    ]
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return "Python Software Foundation License Version 2: https://docs.python.org/3/license.html\n"


def _system_libraries(binaries: Iterable[str]) -> dict[str, list[str]]:
    """Debian packages of bundled libraries that came from the system, by package name."""
    if shutil.which("dpkg") is None:
        return {}
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    outside = sorted(
        {
            os.path.realpath(b)
            for b in binaries
            if os.path.isfile(b) and not any(os.path.realpath(b).startswith(p) for p in prefixes)
        }
    )
    packages: dict[str, list[str]] = {}
    for lib in outside:
        owner = _dpkg_owner(lib)
        if owner:
            packages.setdefault(owner, []).append(lib)
    return packages


def _dpkg_owner(path: str) -> str | None:
    # /lib is a symlink to /usr/lib on merged-/usr Debian, and dpkg may know either spelling.
    spellings = [path]
    if path.startswith("/usr/lib/"):
        spellings.append(path[len("/usr") :])
    for spelling in spellings:
        result = subprocess.run(
            ["dpkg", "-S", spelling], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and ":" in result.stdout:
            return result.stdout.split(":", 1)[0].strip()
    return None


def render(modules: Iterable[str], binaries: Iterable[str]) -> str:
    """The whole THIRD-PARTY-LICENSES.txt text."""
    binaries = list(binaries)
    dists = distributions_for_modules(modules)
    qt_version = _dist_version("PySide6-Essentials")
    out: list[str] = [
        "Streamdesk is MIT licensed. It ships the third-party components listed below, each under",
        "its own licence. The GNU licence texts are in the licenses/ folder next to this file.",
        "",
    ]

    def section(title: str, body: str) -> None:
        out.extend([RULE, title, RULE, body.rstrip(), ""])

    section(f"Python {sys.version.split()[0]} (CPython)", _python_licence())
    section("Qt and Qt for Python (PySide6)", QT_NOTICE.format(version=qt_version))
    section(
        "PyInstaller bootloader", BOOTLOADER_NOTICE.format(version=_dist_version("pyinstaller"))
    )
    for key, dist in dists.items():
        if key in ("pyside6-essentials", "shiboken6"):
            continue  # covered by the Qt notice above
        meta = dist.metadata
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in _licence_files(dist)]
        body = "\n".join(texts) if texts else f"Licence: {_licence_label(dist)}\n"
        home = meta.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in meta.get_all("Project-URL") or []), ""
        )
        header = f"Licence: {_licence_label(dist)}\n" + (f"Home: {home}\n" if home else "")
        section(f"{meta['Name']} {dist.version}", header + "\n" + body)
    for package, libs in sorted(_system_libraries(binaries).items()):
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        names = ", ".join(sorted({os.path.basename(lib) for lib in libs}))
        text = (
            copyright_file.read_text(encoding="utf-8", errors="replace")
            if copyright_file.is_file()
            else "See the distribution's copyright file for this package.\n"
        )
        section(f"{package} (system library: {names})", text)
    return "\n".join(out)


def write_bundle_licenses(
    bundle: str | os.PathLike[str], modules: Iterable[str], binaries: Iterable[str]
) -> Path:
    """Write THIRD-PARTY-LICENSES.txt and licenses/*.txt into ``bundle``; returns the file."""
    bundle = Path(bundle)
    (bundle / "licenses").mkdir(parents=True, exist_ok=True)
    for text in sorted((HERE / "licenses").glob("*.txt")):
        shutil.copyfile(text, bundle / "licenses" / text.name)
    target = bundle / "THIRD-PARTY-LICENSES.txt"
    target.write_text(render(modules, binaries), encoding="utf-8")
    print(f"third_party_licenses: wrote {target}")
    return target
