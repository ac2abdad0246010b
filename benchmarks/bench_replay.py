"""Replay pacing accuracy and chunk boundaries: how faithfully the stub replays a recording.

Run: ``python benchmarks/bench_replay.py [--reps R]`` (no pytest). It writes its
report to ``benchmarks/results/replay.txt`` as well as to stdout.

The stub runs in its own process (``server_stub.replay`` behind the stub's
app, one recording registered per speed and served by ``X-Stub-Replay``
token); the client is a plain ``httpx.AsyncClient`` reading ``aiter_raw()``,
timing each read from just before the request is sent. Recordings:

- ``paced 40/s``: 120 OpenAI deltas, 25 ms apart, first after 300 ms;
- ``fast 500/s``: 300 deltas, 2 ms apart;
- ``bursty``: 10 bursts of 5 chunks 0.5 ms apart, 200 ms between bursts;
- ``stub stall``: a real recording of the stub (``docs/screenshots/inspector.jsonl``:
  50 ms tokens, a 2.2 s stall with keep-alives).

For each, at speed 1 and 2: the lateness of every chunk (arrival minus its
recorded time divided by the speed; positive = late), and the duration ratio
(measured / expected). At speed 0 (as fast as possible), with no pause
between chunks (the replay's ``ZERO_SPEED_GAP`` default) and with a 1 ms
pause: the total time. For all: the share of recorded chunk boundaries the client saw
(a read ending exactly where a recorded chunk ended) and reads that split a
recorded chunk. Bytes are checked equal on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.core.recording import (  # noqa: E402  (after the path tweak)
    RecordedChunk,
    RecordedRequest,
    RecordedResponse,
    Recording,
    RecordingEnd,
    load_recording,
)

RESULTS = ROOT / "benchmarks" / "results" / "replay.txt"
SPEEDS = ("1", "2", "0", "0-gap1ms")

SERVER = r"""
import asyncio, json, sys
from server_stub import replay
from server_stub.app import create_app
from server_stub.embedded import bind, make_server, url_of
path, gap = sys.argv[1], float(sys.argv[2])
replay.ZERO_SPEED_GAP = gap
app = create_app()
deck = replay.enable_replays(app)
tokens = {speed: deck.register(path, float(speed)) for speed in ("1", "2", "0")}
sock = bind("127.0.0.1", 0)
print(json.dumps({"url": url_of(sock), "tokens": tokens}), flush=True)
asyncio.run(make_server(app, embedded=True).serve(sockets=[sock]))
"""


def delta(n: int) -> bytes:
    choice = {"index": 0, "delta": {"content": f"tok{n} "}, "finish_reason": None}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


def synthetic(times: list[float]) -> Recording:
    entries: list[object] = [
        RecordedRequest(0.0, "POST", "http://x/v1/chat/completions", {}),
        RecordedResponse(0.01, 200, {"content-type": "text/event-stream"}),
    ]
    entries += [RecordedChunk(t, delta(i)) for i, t in enumerate(times)]
    return Recording(tuple(entries), RecordingEnd(times[-1] + 0.01, "complete"), provider="openai")  # type: ignore[arg-type]


def recordings(tmp: Path) -> dict[str, Path]:
    made = {
        "paced 40/s": synthetic([0.3 + 0.025 * i for i in range(120)]),
        "fast 500/s": synthetic([0.05 + 0.002 * i for i in range(300)]),
        "bursty": synthetic([0.05 + 0.2 * b + 0.0005 * i for b in range(10) for i in range(5)]),
    }
    files = {}
    for name, recording in made.items():
        file = tmp / (name.split()[0] + ".jsonl")
        recording.save(file)
        files[name] = file
    files["stub stall"] = ROOT / "docs" / "screenshots" / "inspector.jsonl"
    return files


@dataclass
class Run:
    lateness_ms: list[float]  # per recorded chunk whose end the client saw
    duration_ratio: float | None
    total_s: float
    boundaries_seen: float  # share of recorded boundaries
    split_reads: int  # reads ending inside a recorded chunk
    exact: bool


async def replay_once(
    client: httpx.AsyncClient, url: str, token: str, rec: Recording, speed: float
) -> Run:
    exchange = rec.exchanges()[0]
    start_t = exchange.request.t
    ends: dict[int, float] = {}  # body offset where a recorded chunk ends -> its recorded time
    offset = 0
    for chunk in exchange.chunks:
        offset += len(chunk.data)
        ends[offset] = chunk.t - start_t
    reads: list[tuple[int, float]] = []
    body = bytearray()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with client.stream(
        "POST", url + exchange.request.path, json={}, headers={"X-Stub-Replay": token}
    ) as response:
        async for data in response.aiter_raw():
            body += data
            reads.append((len(body), loop.time() - t0))
    total = loop.time() - t0
    lateness = [(at - ends[end] / speed) * 1000 for end, at in reads if end in ends and speed > 0]
    last = max(ends) if ends else 0
    expected = ends.get(last, 0.0) / speed if speed > 0 else None
    recorded_cuts = set(ends) - {last}
    seen_cuts = {end for end, _ in reads[:-1]}
    return Run(
        lateness_ms=lateness,
        duration_ratio=(reads[-1][1] / expected) if expected else None,
        total_s=total,
        boundaries_seen=len(recorded_cuts & seen_cuts) / len(recorded_cuts)
        if recorded_cuts
        else 1.0,
        split_reads=len(seen_cuts - set(ends)),
        exact=bytes(body) == b"".join(c.data for c in exchange.chunks),
    )


def start_server(path: Path, gap: float) -> tuple[subprocess.Popen[str], dict[str, object]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(path), str(gap)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    return process, info


async def measure(files: dict[str, Path], reps: int) -> dict[tuple[str, str], list[Run]]:
    results: dict[tuple[str, str], list[Run]] = {}
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        for name, path in files.items():
            rec = load_recording(path)
            plain, info = start_server(path, 0.0)
            gapped, info_gap = start_server(path, 0.001)
            try:
                for server in (info, info_gap):  # warm up: the first request builds the app
                    token = server["tokens"]["0"]  # type: ignore[index]
                    await replay_once(client, str(server["url"]), token, rec, 0.0)
                for rep in range(reps):
                    for k in range(len(SPEEDS)):  # rotate the order from rep to rep
                        speed = SPEEDS[(rep + k) % len(SPEEDS)]
                        server = info_gap if speed == "0-gap1ms" else info
                        token = server["tokens"][speed[0]]  # type: ignore[index]
                        run = await replay_once(
                            client, str(server["url"]), token, rec, float(speed[0])
                        )
                        results.setdefault((name, speed), []).append(run)
            finally:
                for process in (plain, gapped):
                    process.terminate()
                    process.wait(10)
    return dict(  # in a fixed order, whatever the rotation
        sorted(
            results.items(), key=lambda kv: (list(files).index(kv[0][0]), SPEEDS.index(kv[0][1]))
        )
    )


def summarise(results: dict[tuple[str, str], list[Run]], reps: int) -> str:
    lines = [
        "Replay pacing benchmark (benchmarks/bench_replay.py)",
        f"{time.strftime('%Y-%m-%d %H:%M')}  Python {platform.python_version()}  "
        f"{platform.machine()}  reps={reps}  stub in its own process, httpx client",
        "Lateness: arrival of each recorded chunk minus its recorded time / speed, in ms",
        "(median and p90 over all chunks of all reps; max = worst chunk). Duration: last",
        "chunk's arrival / expected, median over reps. Boundaries: recorded chunk ends the",
        "client read apart (median over reps); split: reads ending inside a recorded chunk.",
        "",
        f"{'recording':<12}{'speed':>9}{'late med':>10}{'p90':>8}{'max':>8}"
        f"{'duration':>10}{'total s':>9}{'boundaries':>12}{'split':>7}{'exact':>7}",
    ]
    for (name, speed), runs in results.items():
        late = sorted(x for run in runs for x in run.lateness_ms)
        ratios = [run.duration_ratio for run in runs if run.duration_ratio is not None]

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        p90 = late[int(0.9 * (len(late) - 1))] if late else None
        lines.append(
            f"{name:<12}{speed:>9}{ms(statistics.median(late) if late else None):>10}"
            f"{ms(p90):>8}{ms(max(late) if late else None):>8}"
            f"{(f'{statistics.median(ratios):.3f}' if ratios else '-'):>10}"
            f"{statistics.median(run.total_s for run in runs):>9.3f}"
            f"{statistics.median(run.boundaries_seen for run in runs) * 100:>11.0f}%"
            f"{max(run.split_reads for run in runs):>7}"
            f"{('yes' if all(run.exact for run in runs) else 'NO'):>7}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = recordings(Path(tmp))
        results = asyncio.run(measure(files, args.reps))
    report = summarise(results, args.reps)
    print(report, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
