"""Which Debian packages a built bundle needs from the system (the .deb's Depends/Recommends).

Owns reading ELF files of the bundle (``objdump -p``: NEEDED libraries and glibc symbol versions),
telling which libraries the bundle does not carry, and naming the Debian package of each: the
installed file's owner (``dpkg -S``) when the library is on this machine, else the Debian
library-package naming rule checked against the apt cache. Files that only optional plugins need
(Wayland, the GTK theme, IBus) go to Recommends: without them Qt skips that plugin and falls back.
Like ``dpkg-shlibdeps``, but for a tree that is not a Debian source package. It must not change
the bundle.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_policy as policy

# The dynamic loader and the kernel's vDSO are not packages one depends on by name.
IGNORED_SONAMES = ("ld-linux", "linux-vdso", "ld64.so")
# Libraries whose package name does not follow the naming rule, for when they are not installed.
KNOWN_PACKAGES = {
    "libgdk-3.so.0": "libgtk-3-0",
    "libgtk-3.so.0": "libgtk-3-0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgmodule-2.0.so.0": "libglib2.0-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libharfbuzz.so.0": "libharfbuzz0b",
}
GLIBC_SONAMES = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1")


@dataclass
class ElfInfo:
    needed: list[str] = field(default_factory=list)
    glibc: tuple[int, int] = (2, 0)  # newest GLIBC_x.y symbol version referenced


@dataclass
class Dependencies:
    depends: list[str]
    recommends: list[str]
    missing: list[str]  # sonames required files link that no package could be named for


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo:
    out = subprocess.run(
        ["objdump", "-p", str(path)], capture_output=True, text=True, check=True
    ).stdout
    info = ElfInfo(needed=re.findall(r"^\s+NEEDED\s+(\S+)", out, flags=re.MULTILINE))
    versions = [(int(a), int(b)) for a, b in re.findall(r"GLIBC_(\d+)\.(\d+)", out)]
    if versions:
        info.glibc = max(versions)
    return info


def _is_optional(rel: str) -> bool:
    rel = rel.replace(os.sep, "/")
    marker = "PySide6/Qt/plugins/"
    if marker not in rel:
        return False
    plugin = rel.split(marker, 1)[1]
    return any(plugin.startswith(p) for p in policy.QT_PLUGINS_OPTIONAL)


def scan(bundle: Path) -> tuple[dict[str, ElfInfo], dict[str, ElfInfo]]:
    """ELF files of the bundle split into (required, optional), keyed by relative path.

    Required: every ELF file except optional plugins, and the bundled libraries they reach;
    a bundled library only optional plugins reach (libQt6WaylandClient) is optional.
    """
    files: dict[str, ElfInfo] = {}
    by_name: dict[str, str] = {}
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            rel = str(path.relative_to(bundle))
            files[rel] = read_elf(path)
            by_name.setdefault(path.name, rel)
    linked = {name for info in files.values() for name in info.needed}
    roots = [rel for rel in files if not _is_optional(rel) and Path(rel).name not in linked]
    required: set[str] = set()
    pending = list(roots)
    while pending:
        rel = pending.pop()
        if rel in required:
            continue
        required.add(rel)
        pending.extend(by_name[n] for n in files[rel].needed if n in by_name)
    req = {rel: info for rel, info in files.items() if rel in required}
    opt = {rel: info for rel, info in files.items() if rel not in required}
    return req, opt


def _ldconfig_paths() -> dict[str, str]:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s+(\S+) \(([^)]*)\) => (\S+)", line)
        if m and ("x86-64" in m.group(2) or "64bit" in m.group(2) or "x32" not in m.group(2)):
            found.setdefault(m.group(1), m.group(3))
    return found


def _dpkg_owners(paths: list[str]) -> dict[str, str]:
    """Owning package of each library path, in one ``dpkg -S`` call (each call reads every list)."""
    spellings: dict[str, str] = {}
    for path in paths:
        for p in {path, os.path.realpath(path)}:
            spellings[p] = path
            if p.startswith("/usr/lib/"):
                spellings[p[len("/usr") :]] = path
            elif p.startswith("/lib/"):
                spellings["/usr" + p] = path
    if not spellings or shutil.which("dpkg") is None:
        return {}
    r = subprocess.run(
        ["dpkg", "-S", *sorted(spellings)], capture_output=True, text=True, check=False
    )
    owners: dict[str, str] = {}
    for line in r.stdout.splitlines():
        package, _, found = line.partition(": ")
        if found in spellings and "," not in package:
            owners.setdefault(spellings[found], package.split(":")[0].strip())
    return owners


def debian_name(soname: str) -> str:
    """The Debian policy name of a library package: libfoo.so.1 -> libfoo1, libfoo2.so.0 -> libfoo2-0."""
    m = re.match(r"(.+)\.so\.(\d+)", soname)
    if not m:
        return soname
    base, major = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{base}-{major}" if base[-1].isdigit() else f"{base}{major}"


def apt_knows(package: str) -> bool:
    if shutil.which("apt-cache") is None:
        return False
    r = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return r.returncode == 0 and "Package:" in r.stdout


def apt_has_lists() -> bool:
    """Whether apt can answer at all (a fresh machine may have no package lists yet)."""
    return apt_knows("libc6")


def resolve(bundle: Path) -> Dependencies:
    required, optional = scan(bundle)
    carried = {p.name for p in bundle.rglob("*")}
    ld = _ldconfig_paths()
    glibc = max([info.glibc for info in [*required.values(), *optional.values()]] or [(2, 0)])

    external = {
        soname
        for info in [*required.values(), *optional.values()]
        for soname in info.needed
        if soname not in carried and not soname.startswith(IGNORED_SONAMES)
    }
    owners = _dpkg_owners([ld[s] for s in external if s in ld and s not in GLIBC_SONAMES])
    apt_lists = apt_has_lists()
    by_soname: dict[str, str] = {}
    for soname in external:
        if soname in GLIBC_SONAMES:
            by_soname[soname] = "libc6"
        elif soname in ld and ld[soname] in owners:
            by_soname[soname] = owners[ld[soname]]
        else:
            guess = KNOWN_PACKAGES.get(soname) or debian_name(soname)
            if apt_knows(guess):
                by_soname[soname] = guess
            elif not apt_lists:
                # Nothing to check the guess against: use it and say so.
                print(
                    f"linux_deps: {soname} -> {guess} (naming rule, unconfirmed)", file=sys.stderr
                )
                by_soname[soname] = guess

    def packages(infos: dict[str, ElfInfo], missing: list[str]) -> set[str]:
        names: set[str] = set()
        for info in infos.values():
            for soname in info.needed:
                if soname not in external:
                    continue
                if soname in by_soname:
                    names.add(by_soname[soname])
                else:
                    missing.append(soname)
        return names

    missing: list[str] = []
    depends = packages(required, missing)
    optional_missing: list[str] = []
    recommends = packages(optional, optional_missing) - depends
    if optional_missing:
        print(
            "linux_deps: no package found for optional "
            + ", ".join(sorted(set(optional_missing)))
            + " (left out of Recommends)",
            file=sys.stderr,
        )
    libc = f"libc6 (>= {glibc[0]}.{glibc[1]})"
    dep_list = sorted(libc if name == "libc6" else name for name in depends | {"libc6"})
    return Dependencies(dep_list, sorted(recommends), sorted(set(missing)))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python packaging/linux_deps.py BUNDLE_DIR", file=sys.stderr)
        return 2
    deps = resolve(Path(args[0]))
    print("Depends:", ", ".join(deps.depends))
    print("Recommends:", ", ".join(deps.recommends))
    if deps.missing:
        print("Unresolved:", ", ".join(deps.missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
