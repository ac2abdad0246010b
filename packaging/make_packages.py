"""Turn a built bundle into the Linux deliverables: a tarball and a .deb.

Usage: ``python packaging/make_packages.py BUNDLE ICONS OUT_DIR`` where BUNDLE is PyInstaller's
``dist/streamdesk`` folder and ICONS what ``render_icons.py`` wrote (may be missing: then the
packages carry no icon and say so). Writes ``streamdesk-<version>-linux-x86_64.tar.gz`` and
``streamdesk_<version>_amd64.deb`` into OUT_DIR and prints their paths.

The .deb installs the bundle to /opt/streamdesk, links /usr/bin/streamdesk and
/usr/bin/streamdesk-stub to it, and adds the desktop entry, hicolor icons, AppStream metainfo and
/usr/share/doc/streamdesk/copyright. Depends/Recommends come from ``linux_deps``. Owns layout and
metadata only; it must not change the bundle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_policy as policy
import linux_deps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROGRAMS = ("streamdesk", "streamdesk-stub")
MAINTAINER = os.environ.get(
    "STREAMDESK_MAINTAINER", "The Streamdesk developers <maintainers@streamdesk.invalid>"
)

DESCRIPTION = """\
Desktop chat client for streaming language-model servers
 Streamdesk is a native desktop chat client for language-model servers that
 stream their answers as Server-Sent Events: OpenAI-compatible servers
 (OpenAI, Ollama, llama.cpp, vLLM, LM Studio, OpenRouter) and Anthropic.
 .
 It ships with a bundled offline demo server (streamdesk-stub), so it works
 out of the box with no network and no API key."""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Streamdesk

Files: *
Copyright: The Streamdesk developers
License: MIT

Files: opt/streamdesk/_internal/*
Copyright: See /opt/streamdesk/THIRD-PARTY-LICENSES.txt
License: various
 Python, Qt/PySide6 (LGPL-3.0) and the bundled Python packages; each licence
 text is in /opt/streamdesk/THIRD-PARTY-LICENSES.txt and /opt/streamdesk/licenses/.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.
"""


def app_version() -> str:
    ns: dict[str, str] = {}
    for line in (ROOT / "desktop_app" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            exec(line, ns)
    return ns["__version__"]


def source_date_epoch() -> int:
    """Timestamp for archive entries: SOURCE_DATE_EPOCH, else the last commit, else now."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    r = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else int(time.time())


def install_share(share: Path, icons: Path | None) -> None:
    """Desktop entry, metainfo and icons under ``share`` (a ``usr/share``-like folder)."""
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "metainfo").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        HERE / "linux" / f"{policy.APP_ID}.desktop",
        share / "applications" / f"{policy.APP_ID}.desktop",
    )
    shutil.copyfile(
        HERE / "linux" / f"{policy.APP_ID}.metainfo.xml",
        share / "metainfo" / f"{policy.APP_ID}.metainfo.xml",
    )
    if icons is not None and (icons / "hicolor").is_dir():
        shutil.copytree(icons / "hicolor", share / "icons" / "hicolor", dirs_exist_ok=True)


def _normalise_modes(root: Path) -> None:
    # Packages must not depend on the builder's umask: 755 for folders and programs, 644 else.
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir() or os.access(path, os.X_OK):
            path.chmod(0o755)
        else:
            path.chmod(0o644)


def make_tarball(bundle: Path, icons: Path | None, out_dir: Path, version: str) -> Path:
    name = f"streamdesk-{version}-linux-x86_64"
    stage = out_dir / "stage-tar" / name
    if stage.parent.exists():
        shutil.rmtree(stage.parent)
    shutil.copytree(bundle, stage, symlinks=True)
    install_share(stage / "share", icons)
    shutil.copyfile(HERE / "linux" / "install-user.sh", stage / "install-user.sh")
    (stage / "install-user.sh").chmod(0o755)
    _normalise_modes(stage)
    target = out_dir / f"{name}.tar.gz"
    epoch = source_date_epoch()

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = epoch
        return info

    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        for path in sorted([stage, *stage.rglob("*")]):
            tar.add(
                path, arcname=str(path.relative_to(stage.parent)), recursive=False, filter=normalise
            )
    shutil.rmtree(stage.parent)
    return target


def _installed_size_kib(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += (path.stat().st_size + 1023) // 1024
    return total


def make_deb(bundle: Path, icons: Path | None, out_dir: Path, version: str) -> Path:
    root = out_dir / "stage-deb"
    if root.exists():
        shutil.rmtree(root)
    opt = root / "opt" / "streamdesk"
    shutil.copytree(bundle, opt, symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    for program in PROGRAMS:
        (root / "usr" / "bin" / program).symlink_to(f"/opt/streamdesk/{program}")
    install_share(root / "usr" / "share", icons)
    doc = root / "usr" / "share" / "doc" / "streamdesk"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT, encoding="utf-8")
    _normalise_modes(root)

    deps = linux_deps.resolve(bundle)
    if deps.missing:
        raise SystemExit("make_packages: no Debian package known for " + ", ".join(deps.missing))
    control = [
        "Package: streamdesk",
        f"Version: {version}",
        "Architecture: amd64",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {_installed_size_kib(root)}",
        f"Depends: {', '.join(deps.depends)}",
    ]
    if deps.recommends:
        control.append(f"Recommends: {', '.join(deps.recommends)}")
    control += ["Section: net", "Priority: optional", f"Description: {DESCRIPTION}"]
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text("\n".join(control) + "\n", encoding="utf-8")
    (debian / "control").chmod(0o644)
    debian.chmod(0o755)

    target = out_dir / f"streamdesk_{version}_amd64.deb"
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(source_date_epoch()))
    # xz: what every dpkg can read (zstd needs dpkg >= 1.21.18); dpkg-deb threads it itself.
    cmd = ["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build"]
    subprocess.run([*cmd, str(root), str(target)], check=True, env=env, stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the Linux tarball and .deb")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("icons", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    icons = args.icons if (args.icons / "hicolor").is_dir() else None
    if icons is None:
        print("make_packages: warning: no icons rendered, packages carry none", file=sys.stderr)
    version = app_version()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(make_tarball(args.bundle, icons, args.out_dir, version))
    print(make_deb(args.bundle, icons, args.out_dir, version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
