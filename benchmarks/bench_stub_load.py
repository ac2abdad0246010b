"""Load on the bundled stub: 1,000 concurrent streams at 20 tokens/s each, and one fast stream.

Run: ``python benchmarks/bench_stub_load.py [--streams 500 1000] [--reps 2] [--pin]`` (no
pytest; about 90 s). It writes
its report to ``benchmarks/results/stub_load.txt`` as well as to stdout, stops by itself (a hard
deadline kills everything) and talks to 127.0.0.1 only.

Setup (research/performance.md §5): the stub runs as ``python -m server_stub`` in a subprocess
(one uvicorn worker; ``--pin`` puts it on CPU 0 and the client on CPU 1); the load client is
this process, a raw asyncio socket client, because one httpx process saturates its own core
at ~250 streams; it reads with asyncio.Protocol callbacks. Each stream is an OpenAI ``POST /v1/chat/completions`` with ``stream: true``,
``max_tokens: 300`` and headers asking for 20 tokens/s with no first-token delay, so it lasts
15 s; the streams start evenly over ``--ramp`` seconds. The client counts events (``\\n\\n``
separators) per read, with no JSON parsing.

Figures over the steady window (every stream has its first event, none has ended):
- delivered events/s against the ideal streams x 20;
- inter-token gap p50/p99 (time between reads that carry events, per stream; 50 ms ideal);
- stream stretch p50/p99: (last event - request sent) / (300 / 20 s);
- time to first event p50/p99 (over all streams);
- server CPU % of one core (utime+stime from /proc/PID/stat) and per delivered event;
- client CPU % (this process).
Then one ``fast`` scenario stream (20,000 tokens/s, ~30k events) and one unpaced stream
(``X-Stub-Tokens-Per-Second: 0``): events/s from first to last byte, median of 3.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "stub_load.txt"
TPS = 20
TOKENS = 300
DEADLINE = 115.0  # seconds for the whole run; everything is killed after it


@dataclass
class Stream:
    t_request: float = 0.0
    t_first: float | None = None
    t_last: float | None = None
    events: int = 0
    reads: list[tuple[float, int]] = field(default_factory=list)  # (time, events in the read)
    error: str | None = None


def _request(host: str, port: int, headers: dict[str, str], body: dict[str, object]) -> bytes:
    payload = json.dumps(body).encode()
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class StreamProtocol(asyncio.Protocol):
    """One stream, read with callbacks: no task and no StreamReader per read, so the client
    spends as little as it can per event (it shares the machine with the server)."""

    def __init__(self, request: bytes, stream: Stream, done: asyncio.Future[None]) -> None:
        self.request = request
        self.stream = stream
        self.done = done
        self.head = b""
        self.in_body = False
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.stream.error = self.head.split(b"\r\n", 1)[0].decode()
                self._finish()
                return
            self.in_body = True
            data = self.head[end + 4 :]
            if not data:
                return
        n = (self.tail + data).count(b"\n\n")  # a 1-byte tail never holds "\n\n" by itself
        self.tail = data[-1:]
        s = self.stream
        if n:
            if s.t_first is None:
                s.t_first = now
            s.t_last = now
            s.events += n
            s.reads.append((now, n))
        if data.endswith(b"0\r\n\r\n"):  # the chunked body's end
            self._finish()

    def _finish(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def read_stream(host: str, port: int, request: bytes, stream: Stream) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    stream.t_request = time.monotonic()
    await loop.create_connection(lambda: StreamProtocol(request, stream, done), host, port)
    await done
    if stream.error is None and stream.events < 2:
        stream.error = "closed early"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def load_run(host: str, port: int, pid: int, streams: int, ramp: float) -> dict[str, float]:
    request = _request(
        host,
        port,
        {
            "X-Stub-Scenario": "long",
            "X-Stub-Tokens-Per-Second": str(TPS),
            "X-Stub-First-Token-Delay": "0",
        },
        {
            "model": "streamdesk-stub",
            "stream": True,
            "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "Write a long answer"}],
        },
    )
    state = [Stream() for _ in range(streams)]
    samples: list[tuple[float, float, float]] = []  # (time, server cpu s, client cpu s)
    done = asyncio.Event()

    async def sampler() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), _cpu_seconds(pid), time.process_time()))
            await asyncio.sleep(0.25)

    async def delayed(i: int) -> None:
        await asyncio.sleep(ramp * i / streams)
        try:
            await read_stream(host, port, request, state[i])
        except OSError as exc:
            state[i].error = repr(exc)

    sampling = asyncio.create_task(sampler())
    # The load generator's own GC pauses would show up as server lateness: keep them out.
    gc.disable()
    try:
        await asyncio.gather(*(delayed(i) for i in range(streams)))
    finally:
        gc.enable()
    done.set()
    await sampling

    ok = [s for s in state if s.error is None and s.t_first is not None and s.t_last is not None]
    firsts = [s.t_first for s in ok if s.t_first is not None]
    lasts = [s.t_last for s in ok if s.t_last is not None]
    w0, w1 = max(firsts), min(lasts)
    in_window = 0
    gaps: list[float] = []
    for s in ok:
        prev = None
        for t, n in s.reads:
            if w0 <= t <= w1:
                in_window += n
                if prev is not None:
                    gaps.append(t - prev)
            prev = t
    window = max(w1 - w0, 1e-9)
    inside = [x for x in samples if w0 <= x[0] <= w1]
    if len(inside) >= 2:
        (a_t, a_srv, a_cli), (b_t, b_srv, b_cli) = inside[0], inside[-1]
        server_cpu = (b_srv - a_srv) / (b_t - a_t)
        client_cpu = (b_cli - a_cli) / (b_t - a_t)
        events_in_cpu = sum(n for s in ok for t, n in s.reads if a_t <= t <= b_t) / (b_t - a_t)
    else:
        server_cpu = client_cpu = events_in_cpu = float("nan")
    ideal_duration = TOKENS / TPS
    return {
        "streams": streams,
        "ok": len(ok),
        "short": sum(1 for s in ok if s.events < TOKENS + 2),
        "window_s": window,
        "delivered": in_window / window,
        "ideal": streams * TPS,
        "gap_p50_ms": _pct(gaps, 0.5) * 1000,
        "gap_p99_ms": _pct(gaps, 0.99) * 1000,
        "gap_max_ms": max(gaps, default=float("nan")) * 1000,
        "stretch_p50": _pct(
            [(s.t_last - s.t_request) / ideal_duration for s in ok if s.t_last], 0.5
        ),
        "stretch_p99": _pct(
            [(s.t_last - s.t_request) / ideal_duration for s in ok if s.t_last], 0.99
        ),
        "ttfe_p50_ms": _pct([s.t_first - s.t_request for s in ok if s.t_first], 0.5) * 1000,
        "ttfe_p99_ms": _pct([s.t_first - s.t_request for s in ok if s.t_first], 0.99) * 1000,
        "server_cpu_pct": server_cpu * 100,
        "server_us_per_event": server_cpu / events_in_cpu * 1e6 if events_in_cpu else float("nan"),
        "client_cpu_pct": client_cpu * 100,
    }


async def single_stream(host: str, port: int, headers: dict[str, str]) -> tuple[int, float]:
    request = _request(
        host,
        port,
        {"X-Stub-First-Token-Delay": "0", **headers},
        {
            "model": "streamdesk-stub",
            "stream": True,
            "messages": [{"role": "user", "content": "Go"}],
        },
    )
    s = Stream()
    await read_stream(host, port, request, s)
    if s.error is not None or s.t_first is None or s.t_last is None:
        raise RuntimeError(f"single stream failed: {s.error}")
    return s.events, s.events / max(s.t_last - s.t_first, 1e-9)


def _pin(pid: int, cpu: int) -> bool:
    try:
        if len(os.sched_getaffinity(0)) >= 2:
            os.sched_setaffinity(pid, {cpu})
            return True
    except (AttributeError, OSError):
        pass
    return False


async def measure(
    args: argparse.Namespace, host: str, port: int, pid: int
) -> tuple[list[dict[str, float]], list[tuple[int, float]], list[tuple[int, float]]]:
    rows = []
    for rep in range(args.reps):
        for streams in args.streams:
            print(f"rep {rep + 1}: {streams} streams ...", file=sys.stderr, flush=True)
            rows.append(await load_run(host, port, pid, streams, args.ramp))
            await asyncio.sleep(1.0)
    fast = [await single_stream(host, port, {"X-Stub-Scenario": "fast"}) for _ in range(3)]
    unpaced = [
        await single_stream(
            host, port, {"X-Stub-Scenario": "long", "X-Stub-Tokens-Per-Second": "0"}
        )
        for _ in range(3)
    ]
    return rows, fast, unpaced


def report(
    args: argparse.Namespace,
    rows: list[dict[str, float]],
    fast: list[tuple[int, float]],
    unpaced: list[tuple[int, float]],
    pinned: bool,
) -> str:
    import uvicorn

    out = [
        "Stub load benchmark (benchmarks/bench_stub_load.py)",
        f"{time.strftime('%Y-%m-%d %H:%M')}  Python {platform.python_version()}  uvicorn "
        f"{uvicorn.__version__} (h11)  {platform.machine()}  cpus={os.cpu_count()}  "
        f"pinned={'server CPU 0, client CPU 1' if pinned else 'no'}",
        f"{TOKENS} tokens per stream at {TPS} tokens/s (15 s ideal), ramp {args.ramp:g} s, "
        "OpenAI format, raw asyncio socket client counting events.",
        "Steady window: every stream has its first event and none has ended.",
        "",
        f"{'streams':>7} {'ok':>5} {'short':>5} {'delivered ev/s':>15} {'% ideal':>7} "
        f"{'gap p50/p99/max ms':>20} {'stretch p50/p99':>16} {'TTFE p50/p99 ms':>16} "
        f"{'server CPU %':>12} {'us/event':>8} {'client CPU %':>12}",
    ]
    for r in rows:
        out.append(
            f"{r['streams']:>7.0f} {r['ok']:>5.0f} {r['short']:>5.0f} {r['delivered']:>15.0f} "
            f"{100 * r['delivered'] / r['ideal']:>6.1f}% "
            f"{r['gap_p50_ms']:>6.1f}/{r['gap_p99_ms']:>5.1f}/{r['gap_max_ms']:>6.1f} "
            f"{r['stretch_p50']:>8.3f}/{r['stretch_p99']:>6.3f} "
            f"{r['ttfe_p50_ms']:>7.1f}/{r['ttfe_p99_ms']:>7.1f} "
            f"{r['server_cpu_pct']:>12.0f} {r['server_us_per_event']:>8.1f} {r['client_cpu_pct']:>12.0f}"
        )
    out += [
        "",
        "Single streams, events/s from first to last event (median of 3, min-max):",
        f"  fast scenario (20,000 tokens/s, {fast[0][0]} events): "
        f"{statistics.median(x[1] for x in fast):,.0f} "
        f"({min(x[1] for x in fast):,.0f}-{max(x[1] for x in fast):,.0f})",
        f"  unpaced (X-Stub-Tokens-Per-Second: 0, {unpaced[0][0]} events): "
        f"{statistics.median(x[1] for x in unpaced):,.0f} "
        f"({min(x[1] for x in unpaced):,.0f}-{max(x[1] for x in unpaced):,.0f})",
        "",
        f"Load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])} "
        "(other work shares these 2 cores: compare within a run).",
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--ramp", type=float, default=3.0)
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and the client to CPU 1 (as performance.md §5 did); "
        "by default the OS places them, which copes better with other work on the machine",
    )
    args = parser.parse_args()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--port", "0", "--keepalive-interval", "15"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        match = re.fullmatch(r"http://(127\.0\.0\.1):(\d+)", url)
        if match is None:
            raise RuntimeError(f"the stub did not print its URL: {url!r}")
        pinned = args.pin and _pin(proc.pid, 0) and _pin(0, 1)
        rows, fast, unpaced = asyncio.run(
            asyncio.wait_for(measure(args, match[1], int(match[2]), proc.pid), DEADLINE)
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    text = report(args, rows, fast, unpaced, pinned)
    print(text, end="")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
