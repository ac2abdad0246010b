"""Start-up of the app: time to the first window, memory, and the bundle against the source.

``python benchmarks/bench_startup.py [--runs N] [--idle S]``; writes
``benchmarks/results/startup.txt`` as well as stdout. ``python -m desktop_app`` is always
measured; the PyInstaller bundle too when ``dist/streamdesk`` exists (``scripts/build_bundle``).

Every command runs in the same process tree, interleaved (the order rotates every round), N
times each after one untimed warm-up run each; the report gives medians and ranges, and same-run
ratios (this machine is noisy: compare ratios, not absolute figures from different runs).

- ``first window``: the app's start-up probe (``desktop_app/qt/startup_probe.py``):
  ``STREAMDESK_T0_NS`` is set to ``time.time_ns()`` just before the spawn and
  ``STREAMDESK_EXIT_AFTER_IDLE=S`` (default 2): the app prints the time from T0 to the main
  window's first painted frame and its resident memory then, idles S seconds with the window
  shown and the offline stub started as on any first launch, prints its resident memory at
  rest and exits. The baseline is ``python -c pass`` (spawn to exit) in the same rounds:
  the ratio says how many bare interpreter starts the first window costs. All runs share one
  temporary set of XDG directories, so after the warm-up they open an existing history (the
  second launch, not the very first).
- ``self-test``: ``streamdesk --self-test`` (window + one streamed answer from the embedded
  stub); and ``--version``: interpreter start and the CLI import only, no Qt. Bundle against
  source, only when the bundle exists.
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
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.txt"
BUNDLE = ROOT / "dist" / "streamdesk"
FIRST_PAINT_HOOK = "STREAMDESK_EXIT_ON_FIRST_PAINT"
IDLE_HOOK = "STREAMDESK_EXIT_AFTER_IDLE"
LABELS = {"source": "python -m desktop_app", "bundle": "dist/streamdesk/streamdesk"}
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


def _median_range(xs: Sequence[float], unit: str = "ms", scale: float = 1000.0) -> str:
    med = statistics.median(xs) * scale
    return f"{med:.0f} {unit} ({min(xs) * scale:.0f}-{max(xs) * scale:.0f})"


def _probe(argv: Sequence[str], env: dict[str, str]) -> dict[str, float]:
    """One start with the probe: seconds to first paint, RSS then and at rest (MiB)."""
    env = dict(env, STREAMDESK_T0_NS=str(time.time_ns()))
    result = subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    first = re.search(r"^first-paint ([0-9.]+) rss-mib ([0-9.]+)$", result.stdout, re.M)
    rest = re.search(r"^rest-rss-mib ([0-9.]+)$", result.stdout, re.M)
    if result.returncode != 0 or first is None or rest is None:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}: {result.stdout[-300:]!r} "
            f"{result.stderr[-800:]!r}"
        )
    return {
        "first": float(first.group(1)),
        "rss_first": float(first.group(2)),
        "rss_rest": float(rest.group(1)),
    }


def first_window(commands: dict[str, list[str]], runs: int, idle: float) -> list[str]:
    """Time to the first window and memory, each command interleaved with ``python -c pass``."""
    data = Path(tempfile.mkdtemp(prefix="streamdesk-bench-startup-"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{IDLE_HOOK: f"{idle:g}"})
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(data / var.lower())
    env.pop(FIRST_PAINT_HOOK, None)
    baseline_cmd = [sys.executable, "-c", "pass"]
    for argv in commands.values():  # warm-up: caches, and the history's first creation
        _probe(argv, env)
    _timed(baseline_cmd, env)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    baseline: list[float] = []
    names = [*commands, "baseline"]
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            if name == "baseline":
                baseline.append(_timed(baseline_cmd, env)[0])
            else:
                samples[name].append(_probe(commands[name], env))
    lines = [
        f"first window and memory ({runs} runs each, interleaved with python -c pass; "
        f"idle {idle:g} s for the memory at rest):",
        f"  python -c pass (spawn to exit): {_median_range(baseline)}",
    ]
    for name, runs_of in samples.items():
        first = [s["first"] for s in runs_of]
        ratios = [f / b for f, b in zip(first, baseline, strict=True)]
        lines += [
            f"  {name} ({LABELS[name]}):",
            f"    process start to first painted window: {_median_range(first)}; "
            f"{statistics.median(ratios):.1f}x python -c pass "
            f"({min(ratios):.1f}-{max(ratios):.1f}, median of per-round ratios)",
            "    resident memory at first paint: "
            + _median_range([s["rss_first"] for s in runs_of], "MiB", 1.0),
            f"    resident memory at rest ({idle:g} s later, offline stub running): "
            + _median_range([s["rss_rest"] for s in runs_of], "MiB", 1.0),
        ]
    if "bundle" in samples and "source" in samples:
        pairs = zip(samples["bundle"], samples["source"], strict=True)
        ratio = statistics.median(b["first"] / s["first"] for b, s in pairs)
        lines.append(f"  bundle/source first window, median of per-round ratios: {ratio:.2f}")
    return lines


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
    parser.add_argument("--runs", type=int, default=7, help="runs per command (>= 5)")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds idle before 'at rest'")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5 (medians of fewer say little on this machine)")
    has_bundle = (BUNDLE / "streamdesk").is_file()
    commands = {"source": [sys.executable, "-m", "desktop_app"]}
    if has_bundle:
        commands["bundle"] = [str(BUNDLE / "streamdesk")]
    lines = [
        "Streamdesk startup (benchmarks/bench_startup.py)",
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "QT_QPA_PLATFORM=offscreen",
        "",
    ]
    if _hook_supported():
        lines += first_window(commands, args.runs, args.idle)
    else:
        lines.append(f"first window: not measured, the app has no {FIRST_PAINT_HOOK} hook")
    if not has_bundle:
        lines += ["", "bundle: not measured (no dist/streamdesk; run scripts/build_bundle)"]
        return _write(lines)
    lines.append("")
    try:
        lines += compare("self-test (window + one streamed answer)", ["--self-test"], args.runs)
    except RuntimeError as exc:
        lines.append(f"self-test: not measured ({exc})")
    lines += compare("--version (no Qt)", ["--version"], args.runs)
    lines += ["", *sizes()]
    return _write(lines)


def _write(lines: list[str]) -> int:
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
