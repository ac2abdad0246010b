"""Start time of the PyInstaller bundle against ``python -m desktop_app``, plus package sizes.

Run after ``scripts/build_bundle`` (it needs ``dist/streamdesk``):
``python benchmarks/bench_startup.py [--runs N]``. Writes ``benchmarks/results/startup.txt``
as well as stdout.

Both commands run in the same process tree, alternately (bundle, source, bundle, source ...,
the first pair's order swapped every round), N times each; the report gives the median and range
of each, and the median of the per-round ratio bundle/source (this machine is noisy: compare
ratios, not absolute figures from different runs). Workloads:
- ``first window``: ``STREAMDESK_EXIT_ON_FIRST_PAINT=1 streamdesk`` opens the main window
  offscreen and exits at its first paint; timed from spawn to exit. Used only when the app
  supports that hook; otherwise the report says so.
- ``self-test``: ``streamdesk --self-test`` (window + one streamed answer from the embedded stub).
- ``--version``: interpreter start and the CLI import only, no Qt.
Sizes: the bundle (and before pruning, from the spec's prune report), the tarball, the .deb;
build time from ``build/build-report.txt`` when the build script wrote one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.txt"
BUNDLE = ROOT / "dist" / "streamdesk"
FIRST_PAINT_HOOK = "STREAMDESK_EXIT_ON_FIRST_PAINT"
TIMEOUT = 120


def _version() -> str:
    ns: dict[str, str] = {}
    for line in (ROOT / "desktop_app" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            exec(line, ns)
    return ns["__version__"]


def _mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    files = (p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return sum(p.stat().st_size for p in files) / 1e6


def _timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float | None]:
    """Wall time of the process, and of its start-up before the self-test began (when the
    self-test says how long it took itself: ``self-test passed in X s``)."""
    start = time.perf_counter()
    result = subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-800:]!r}")
    inner = re.search(r"self-test passed in ([0-9.]+) s", result.stdout)
    return elapsed, (elapsed - float(inner.group(1)) if inner else None)


def _hook_supported() -> bool:
    sources = (ROOT / "desktop_app").rglob("*.py")
    return any(FIRST_PAINT_HOOK in path.read_text(encoding="utf-8") for path in sources)


def compare(
    name: str, args: Sequence[str], runs: int, extra_env: dict[str, str] | None = None
) -> list[str]:
    """Interleaved runs of the bundle and the source; the report lines for this workload."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(extra_env or {}))
    bundle_cmd = [str(BUNDLE / "streamdesk"), *args]
    source_cmd = [sys.executable, "-m", "desktop_app", *args]
    # One untimed run each: the first start pays for cold caches, not for the packaging.
    _timed(bundle_cmd, env)
    _timed(source_cmd, env)
    bundle_s: list[tuple[float, float | None]] = []
    source_s: list[tuple[float, float | None]] = []
    for i in range(runs):
        order = [(bundle_cmd, bundle_s), (source_cmd, source_s)]
        for cmd, out in order if i % 2 == 0 else reversed(order):
            out.append(_timed(cmd, env))

    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs) * 1000:.0f} ms ({min(xs) * 1000:.0f}-{max(xs) * 1000:.0f})"

    def ratio(b: list[float], s: list[float]) -> str:
        rs = [x / y for x, y in zip(b, s, strict=True)]
        return f"{statistics.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})"

    b_wall, s_wall = [w for w, _ in bundle_s], [w for w, _ in source_s]
    lines = [
        f"{name} ({runs} runs each, interleaved):",
        f"  bundle dist/streamdesk/streamdesk {' '.join(args)}: {fmt(b_wall)}",
        f"  source python -m desktop_app {' '.join(args)}: {fmt(s_wall)}",
        f"  ratio bundle/source, median of per-round ratios: {ratio(b_wall, s_wall)}",
    ]
    b_up, s_up = [u for _, u in bundle_s], [u for _, u in source_s]
    if all(u is not None for u in [*b_up, *s_up]):
        b_start = [u for u in b_up if u is not None]
        s_start = [u for u in s_up if u is not None]
        lines += [
            "  outside the self-test (wall minus the self-test's own time: interpreter start,",
            "  imports, QApplication before it, process exit after it):",
            f"    bundle {fmt(b_start)}, source {fmt(s_start)}, ratio {ratio(b_start, s_start)}",
        ]
    return lines


def sizes() -> list[str]:
    version = _version()
    lines = ["Sizes (MB = 10^6 bytes; symlinks not counted):"]
    after = _mb(BUNDLE)
    report = ROOT / "build" / "pyinstaller" / "streamdesk" / "prune-report.json"
    if report.is_file():
        pruned = json.loads(report.read_text(encoding="utf-8"))
        removed, stripped = pruned["removed_bytes"] / 1e6, pruned.get("stripped_bytes", 0) / 1e6
        lines.append(
            f"  bundle dist/streamdesk: {after:.1f} MB after pruning, {after + removed + stripped:.1f}"
            f" MB before ({pruned['removed_files']} files, {removed:.1f} MB pruned; "
            f"{stripped:.1f} MB of debug info stripped)"
        )
    else:
        lines.append(f"  bundle dist/streamdesk: {after:.1f} MB")
    internal = BUNDLE / "_internal"
    biggest = sorted(
        ((p.name, _mb(p)) for p in internal.iterdir() if not p.is_symlink()),
        key=lambda item: -item[1],
    )[:6]
    lines.append("  largest in _internal: " + ", ".join(f"{n} {mb:.1f}" for n, mb in biggest))
    for label, path in (
        ("tarball", ROOT / "dist" / f"streamdesk-{version}-linux-x86_64.tar.gz"),
        (".deb", ROOT / "dist" / f"streamdesk_{version}_amd64.deb"),
    ):
        lines.append(
            f"  {label} {path.name}: {_mb(path):.1f} MB"
            if path.is_file()
            else f"  {label}: not built"
        )
    build = ROOT / "build" / "build-report.txt"
    if build.is_file():
        lines.append("Build steps (packaging/build_linux.sh, elapsed at each step's start):")
        lines += [f"  {line}" for line in build.read_text(encoding="utf-8").splitlines()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if not (BUNDLE / "streamdesk").is_file():
        print("No bundle: run scripts/build_bundle first.", file=sys.stderr)
        return 2
    lines = [
        "Streamdesk startup: PyInstaller bundle vs python -m desktop_app (benchmarks/bench_startup.py)",
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "QT_QPA_PLATFORM=offscreen",
        "",
    ]
    if _hook_supported():
        lines += compare(
            "first window (exit at first paint)", [], args.runs, {FIRST_PAINT_HOOK: "1"}
        )
    else:
        lines.append(f"first window: not measured, the app has no {FIRST_PAINT_HOOK} hook yet")
    try:
        lines += compare("self-test (window + one streamed answer)", ["--self-test"], args.runs)
    except RuntimeError as exc:
        lines.append(f"self-test: not measured ({exc})")
    lines += compare("--version (no Qt)", ["--version"], args.runs)
    lines += ["", *sizes()]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
