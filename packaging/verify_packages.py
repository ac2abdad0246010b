"""Prove the built Linux deliverables work: the bundle, the tarball and the .deb.

Usage: ``python packaging/verify_packages.py DIST`` (DIST holds ``streamdesk/``, the tarball and
the .deb). Runs the bundled programs (``--version``, ``streamdesk-stub --list-scenarios``, the
headless ``--self-test``), checks nothing forbidden was bundled and nothing needed was pruned,
checks the licences, the package metadata and contents, then unpacks the tarball and the .deb
into a temporary folder and runs the programs from there (through a symlink too, as
/usr/bin/streamdesk does). Prints every failure and exits 1 if there was any; prints sizes.
It never installs anything system-wide.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_policy as policy
import linux_deps
import make_packages

SELF_TEST_TIMEOUT = 180
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# What the xcb platform plugin needs from the OS (research/ecosystem.md section 4).
REQUIRED_DEPENDS = ("libxcb-cursor0", "libxkbcommon-x11-0", "libfontconfig1", "libegl1", "libgl1")
FORBIDDEN = re.compile(r"QtWebEngine|libQt6Qml|libQt6Quick|/qml/|/translations/|QtNetwork")
BUNDLED_PREFIXES = ("libQt6", "libpyside6", "libshiboken6", "libicu", "libpython")


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.failures.append(what)
        return ok

    def run(
        self, argv: Sequence[str | os.PathLike[str]], what: str, timeout: float = 60, **kw: object
    ) -> subprocess.CompletedProcess[str] | None:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        env.update(kw.pop("env", {}))  # type: ignore[call-overload]
        try:
            r = subprocess.run(
                [str(a) for a in argv],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.check(False, f"{what}: {exc}")
            return None
        if not self.check(r.returncode == 0, f"{what} (exit {r.returncode})"):
            tail = (r.stdout + r.stderr).strip().splitlines()[-15:]
            print("\n".join(f"       | {line}" for line in tail))
            return None
        return r


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def check_programs(c: Checker, folder: Path, label: str, self_test: bool) -> None:
    version = make_packages.app_version()
    r = c.run([folder / "streamdesk", "--version"], f"{label}: streamdesk --version")
    if r:
        c.check(version in r.stdout, f"{label}: --version says {version!r} ({r.stdout.strip()!r})")
    r = c.run(
        [folder / "streamdesk-stub", "--list-scenarios"],
        f"{label}: streamdesk-stub --list-scenarios",
    )
    if r:
        c.check(bool(r.stdout.strip()), f"{label}: the stub lists its scenarios")
    if self_test:
        r = c.run(
            [folder / "streamdesk", "--self-test"],
            f"{label}: QT_QPA_PLATFORM=offscreen streamdesk --self-test",
            timeout=SELF_TEST_TIMEOUT,
        )
        if r:
            print("\n".join(f"       | {line}" for line in r.stdout.strip().splitlines()[-8:]))


def check_cli_against_stub(c: Checker, folder: Path) -> None:
    """``streamdesk ask`` streaming from a separately started ``streamdesk-stub``: the two
    programs of the bundle talking over loopback, with no Qt involved."""
    env = dict(os.environ, OPENAI_API_KEY="offline-demo")
    stub = subprocess.Popen(
        [folder / "streamdesk-stub", "--port", "0", "--tokens-per-second", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert stub.stdout is not None
        url = stub.stdout.readline().strip()
        if not c.check(
            url.startswith("http://127.0.0.1:"), f"streamdesk-stub prints its URL ({url!r})"
        ):
            return
        r = c.run(
            [folder / "streamdesk", "ask", "--base-url", f"{url}/v1", "--model", "demo", "hello"],
            "bundle: streamdesk ask streams from the bundled streamdesk-stub",
            env=env,
        )
        if r:
            c.check(len(r.stdout.strip()) > 20, f"the answer arrived ({len(r.stdout)} characters)")
    finally:
        stub.terminate()
        try:
            stub.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stub.kill()
            stub.wait()
            c.check(False, "streamdesk-stub stops on SIGTERM within 15 s")
        if stub.stdout is not None:
            stub.stdout.close()


def missing_depends(deb: Path) -> list[str]:
    """The packages of the .deb's Depends that this machine has not installed (the first of
    each ``a | b`` choice is named). Empty where dpkg cannot tell (not a Debian system)."""
    if shutil.which("dpkg-query") is None or shutil.which("dpkg-deb") is None:
        return []
    field = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Depends"], capture_output=True, text=True, check=False
    ).stdout.strip()
    missing = []
    for choice in filter(None, (part.strip() for part in field.split(","))):
        names = [re.split(r"[ (:]", alt.strip())[0] for alt in choice.split("|")]
        if not any(_installed(name) for name in names):
            missing.append(names[0])
    return missing


def _installed(package: str) -> bool:
    r = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return r.returncode == 0 and r.stdout.strip() == "installed"


def check_xcb(c: Checker, folder: Path, deb: Path) -> None:
    """The self-test on a real X server (Xvfb), through the xcb plugin and the OS libraries the
    .deb Depends on: proves those are enough. Skipped without xvfb-run (apt-get install xvfb),
    and where the Depends are not all installed: the bundle is then missing what apt would bring
    (``packaging/check_deb_install.sh`` installs the .deb with them and runs the same check)."""
    if shutil.which("xvfb-run") is None:
        print("  skip self-test on X11: no xvfb-run (apt-get install xvfb xauth)")
        return
    missing = missing_depends(deb)
    if missing:
        print(f"  skip self-test on X11: the .deb's Depends are not installed here: {missing}")
        return
    c.run(
        ["xvfb-run", "--auto-servernum", folder / "streamdesk", "--self-test"],
        "bundle: streamdesk --self-test on Xvfb (xcb platform plugin)",
        timeout=SELF_TEST_TIMEOUT,
        env={"QT_QPA_PLATFORM": "xcb"},
    )


def check_bundle(c: Checker, bundle: Path, deb: Path) -> None:
    print(f"bundle {bundle} ({_size_mb(bundle):.1f} MB)")
    check_programs(c, bundle, "bundle", self_test=True)
    check_cli_against_stub(c, bundle)
    check_xcb(c, bundle, deb)
    files = [str(p.relative_to(bundle)) for p in bundle.rglob("*")]
    bad = [f for f in files if FORBIDDEN.search("/" + f)]
    c.check(not bad, f"bundle carries no QtWebEngine/QML/Quick/QtNetwork/translations {bad[:5]}")
    carried = {Path(f).name for f in files}
    missing = sorted(
        {
            f"{rel} -> {name}"
            for path in bundle.rglob("*.so*")
            if path.is_file() and not path.is_symlink() and linux_deps.is_elf(path)
            for rel in [str(path.relative_to(bundle))]
            for name in linux_deps.read_elf(path).needed
            if name.startswith(BUNDLED_PREFIXES) and name not in carried
        }
    )
    c.check(
        not missing,
        f"every bundled Qt/Python library a binary links is in the bundle {missing[:5]}",
    )
    licences = bundle / "THIRD-PARTY-LICENSES.txt"
    text = licences.read_text(encoding="utf-8") if licences.is_file() else ""
    for needle in ("Python Software Foundation", "PySide6", "LGPL", "download.qt.io"):
        c.check(needle in text, f"THIRD-PARTY-LICENSES.txt mentions {needle}")
    c.check((bundle / "licenses" / "LGPL-3.0.txt").is_file(), "licenses/LGPL-3.0.txt is bundled")


def check_tarball(c: Checker, tarball: Path, work: Path) -> None:
    print(f"tarball {tarball.name} ({_size_mb(tarball):.1f} MB)")
    top = tarball.name.removesuffix(".tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        for member in (
            "streamdesk",
            "streamdesk-stub",
            "install-user.sh",
            "THIRD-PARTY-LICENSES.txt",
            f"share/applications/{policy.APP_ID}.desktop",
            f"share/metainfo/{policy.APP_ID}.metainfo.xml",
        ):
            c.check(f"{top}/{member}" in names, f"tarball has {top}/{member}")
        c.check(
            all(m.uid == 0 and m.gid == 0 for m in tar.getmembers()),
            "tarball entries are owned by root",
        )
        tar.extractall(work, filter="tar")
    folder = work / top
    check_programs(c, folder, "unpacked tarball", self_test=False)
    home = work / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": "", "XDG_BIN_HOME": ""}
    env = {k: v for k, v in env.items() if v} | {"PATH": os.environ.get("PATH", "")}
    r = c.run(["sh", folder / "install-user.sh"], "install-user.sh into a temporary HOME", env=env)
    if r:
        link = home / ".local" / "bin" / "streamdesk"
        c.run([link, "--version"], "streamdesk --version through ~/.local/bin symlink")
        entry = home / ".local" / "share" / "applications" / f"{policy.APP_ID}.desktop"
        c.check(
            f"Exec={folder}/streamdesk" in entry.read_text(),
            "user desktop entry runs the unpacked folder",
        )


def _deb_field(info: str, name: str) -> str:
    m = re.search(rf"^ {name}: (.*)$", info, flags=re.MULTILINE)
    return m.group(1) if m else ""


def check_deb(c: Checker, deb: Path, work: Path, icons: bool) -> None:
    print(f"deb {deb.name} ({_size_mb(deb):.1f} MB)")
    r = c.run(["dpkg-deb", "--info", deb], "dpkg-deb --info")
    if r:
        c.check(_deb_field(r.stdout, "Package") == "streamdesk", "Package: streamdesk")
        c.check(
            _deb_field(r.stdout, "Version") == make_packages.app_version(),
            "Version matches the app",
        )
        c.check(_deb_field(r.stdout, "Architecture") == "amd64", "Architecture: amd64")
        depends = _deb_field(r.stdout, "Depends")
        for pkg in REQUIRED_DEPENDS:
            c.check(
                re.search(rf"(^|, ){re.escape(pkg)}( |,|$)", depends) is not None,
                f"Depends has {pkg}",
            )
        print(f"       | Depends: {depends}")
    r = c.run(["dpkg-deb", "--contents", deb], "dpkg-deb --contents")
    if r:
        lines = r.stdout.splitlines()
        listing = "\n".join(lines)
        c.check(all(" root/root " in line for line in lines), "every file owned root/root")
        wanted = [
            "./opt/streamdesk/streamdesk",
            "./opt/streamdesk/streamdesk-stub",
            "./opt/streamdesk/THIRD-PARTY-LICENSES.txt",
            "./usr/bin/streamdesk -> /opt/streamdesk/streamdesk",
            "./usr/bin/streamdesk-stub -> /opt/streamdesk/streamdesk-stub",
            f"./usr/share/applications/{policy.APP_ID}.desktop",
            f"./usr/share/metainfo/{policy.APP_ID}.metainfo.xml",
            "./usr/share/doc/streamdesk/copyright",
        ]
        if icons:
            wanted += [
                f"./usr/share/icons/hicolor/{n}x{n}/apps/{policy.APP_ID}.png" for n in ICON_SIZES
            ]
            wanted.append(f"./usr/share/icons/hicolor/scalable/apps/{policy.APP_ID}.svg")
        for path in wanted:
            c.check(path in listing, f".deb has {path}")
    if linux_deps.apt_has_lists():
        # Resolves Depends against the real archive: a misnamed package fails here.
        r = c.run(
            ["apt-get", "install", "--simulate", "--no-install-recommends", deb.resolve()],
            "apt-get install --simulate (every Depends exists in the archive)",
        )
        if r:
            c.check("Conf streamdesk " in r.stdout, "apt would configure streamdesk")
        info = c.run(["dpkg-deb", "--field", deb, "Recommends"], "dpkg-deb --field Recommends")
        for pkg in info.stdout.strip().split(", ") if info and info.stdout.strip() else []:
            c.check(linux_deps.apt_knows(pkg), f"Recommends {pkg} exists in the archive")
    else:
        print("  skip apt-get install --simulate: apt has no package lists (run apt-get update)")
    root = work / "root"
    if c.run(["dpkg-deb", "-x", deb, root], "dpkg-deb -x into a temporary root"):
        opt = root / "opt" / "streamdesk"
        check_programs(c, opt, "unpacked .deb", self_test=True)
        link = work / "bin-link"
        link.symlink_to(opt / "streamdesk")
        c.run([link, "--version"], "unpacked .deb: streamdesk --version through a symlink")
        share = root / "usr" / "share"
        if shutil.which("desktop-file-validate"):
            c.run(
                ["desktop-file-validate", share / "applications" / f"{policy.APP_ID}.desktop"],
                "desktop-file-validate",
            )
        if shutil.which("appstreamcli"):
            c.run(
                [
                    "appstreamcli",
                    "validate",
                    "--no-net",
                    share / "metainfo" / f"{policy.APP_ID}.metainfo.xml",
                ],
                "appstreamcli validate",
            )


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    dist = Path(args[0] if args else "dist")
    version = make_packages.app_version()
    c = Checker()
    bundle = dist / "streamdesk"
    tarball = dist / f"streamdesk-{version}-linux-x86_64.tar.gz"
    deb = dist / f"streamdesk_{version}_amd64.deb"
    for path in (bundle, tarball, deb):
        c.check(path.exists(), f"{path} exists")
    if c.failures:
        return 1
    icons = (dist.parent / "build" / "icons" / "hicolor").is_dir()
    check_bundle(c, bundle, deb)
    with tempfile.TemporaryDirectory(prefix="streamdesk-verify-") as tmp:
        (Path(tmp) / "tar").mkdir()
        (Path(tmp) / "deb").mkdir()
        check_tarball(c, tarball, Path(tmp) / "tar")
        check_deb(c, deb, Path(tmp) / "deb", icons)
    print(
        f"sizes: bundle {_size_mb(bundle):.1f} MB, tarball {_size_mb(tarball):.1f} MB, "
        f".deb {_size_mb(deb):.1f} MB"
    )
    if c.failures:
        print(f"{len(c.failures)} check(s) failed:", *c.failures, sep="\n  ")
        return 1
    print("all package checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
