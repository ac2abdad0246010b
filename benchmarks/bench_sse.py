"""SSE decoding speed: our decoder against httpx-sse 0.4.3 and the floor, on the same bytes.

Run: ``python benchmarks/bench_sse.py [--events N] [--reps R]`` (no pytest). It
writes its report to ``benchmarks/results/sse.txt`` as well as to stdout.

Workloads (built in memory, research/performance.md §1):
- ``openai``: N ``chat.completion.chunk`` events (``data: {json}\\n\\n``) whose
  tokens are 1-6 characters incl. newlines and non-ASCII, a role chunk first, a
  finish and a usage chunk and ``[DONE]`` last;
- ``big``: one event of ~5 MB spread over data lines of 1-120 characters.

Each is fed in three chunkings: one event per chunk, 4 KiB and 64 KiB splits
(cut anywhere, also inside a UTF-8 character). Variants, all counting events:
- ``ours``: ``desktop_app.core.sse.SSEDecoder.feed`` on the bytes;
- ``httpx-sse``: ``httpx_sse._decoders.SSELineDecoder`` + ``SSEDecoder`` (what
  ``iter_sse`` runs), fed text from an incremental UTF-8 decoder;
- ``floor``: split the bytes on ``b"\\n\\n"`` only (linear: pieces of an
  unfinished event are joined once), no decoding, no fields.

A last section checks that cost is linear in the input: a 20 MB line fed in
1 KiB chunks, and one event fed in 16-byte chunks at two sizes.

Every rep runs all variants back to back in rotating order; the report gives
medians over reps of the throughput and of the same-rep time ratios (this
machine is noisy: compare ratios, not absolute figures from different runs).
"""

from __future__ import annotations

import argparse
import codecs
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.core.sse import SSEDecoder  # noqa: E402  (after the path tweak)

RESULTS = ROOT / "benchmarks" / "results" / "sse.txt"

Variant = Callable[[Sequence[bytes]], int]

# ---------------------------------------------------------------- workloads

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz" * 4 + "ABCDEFGHIJ0123456789" + " " * 12 + ".,;:!?'\"-()"
    "\n\n\t" + "éèüöñçß" + "日本語中文한국어" + "😀👍🎉" + "—…«»"
)


def openai_stream(n_events: int, rng: random.Random) -> list[bytes]:
    """One ``bytes`` per event, like a real stream's pace delivers them."""
    head = {
        "id": "chatcmpl-AbCdEf0123456789",
        "object": "chat.completion.chunk",
        "created": 1731000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0123456789",
    }

    def chunk(delta: dict[str, str], finish: str | None = None, usage: object = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        body = {**head, "choices": [choice], "usage": usage}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return f"data: {text}\n\n".encode()

    events = [chunk({"role": "assistant", "content": ""})]
    for _ in range(n_events - 4):
        token = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6)))
        events.append(chunk({"content": token}))
    events.append(chunk({}, finish="stop"))
    usage = {"prompt_tokens": 12, "completion_tokens": n_events, "total_tokens": n_events + 12}
    events.append(chunk({}, usage=usage).replace(b'"choices":[{', b'"choices":[],"x":[{'))
    events.append(b"data: [DONE]\n\n")
    return events


def big_event(size: int, rng: random.Random) -> list[bytes]:
    """A single event of about ``size`` bytes in many data lines."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = "".join(rng.choice(ALPHABET.replace("\n", "")) for _ in range(rng.randint(1, 120)))
        lines.append(f"data: {line}\n")
        total += len(line) + 7
    return ["".join(lines).encode() + b"\n"]


def rechunk(events: list[bytes], size: int) -> list[bytes]:
    stream = b"".join(events)
    return [stream[i : i + size] for i in range(0, len(stream), size)]


# ---------------------------------------------------------------- variants


def run_ours(chunks: Sequence[bytes]) -> int:
    decoder = SSEDecoder()
    feed = decoder.feed
    n = 0
    for chunk in chunks:
        n += len(feed(chunk))
    return n + len(decoder.flush())


def run_httpx_sse(chunks: Sequence[bytes]) -> int:
    text_decoder = codecs.getincrementaldecoder("utf-8")("replace")
    line_decoder = SSELineDecoder()
    sse_decoder = HttpxSSEDecoder()
    n = 0
    for chunk in chunks:
        for line in line_decoder.decode(text_decoder.decode(chunk)):
            if sse_decoder.decode(line) is not None:
                n += 1
    for line in line_decoder.decode(text_decoder.decode(b"", True)) + line_decoder.flush():
        if sse_decoder.decode(line) is not None:
            n += 1
    return n


def run_floor(chunks: Sequence[bytes]) -> int:
    pending: list[bytes] = []
    ends_with_lf = False
    n = 0
    for chunk in chunks:
        if b"\n\n" not in chunk and not (ends_with_lf and chunk[:1] == b"\n"):
            pending.append(chunk)
            ends_with_lf = chunk[-1:] == b"\n"
            continue
        data = b"".join(pending) + chunk if pending else chunk
        parts = data.split(b"\n\n")
        rest = parts.pop()
        pending = [rest] if rest else []
        ends_with_lf = rest[-1:] == b"\n"
        n += len(parts)
    return n


VARIANTS: dict[str, Variant] = {"ours": run_ours, "httpx-sse": run_httpx_sse, "floor": run_floor}


# ---------------------------------------------------------------- measuring


def check_same_events(chunks: Sequence[bytes]) -> None:
    """Our events equal httpx-sse's on these bytes (it is only wrong on edge cases)."""
    decoder = SSEDecoder()
    ours = [(e.event, e.data, e.id) for c in chunks for e in decoder.feed(c)]
    text_decoder = codecs.getincrementaldecoder("utf-8")("replace")
    line_decoder, sse_decoder = SSELineDecoder(), HttpxSSEDecoder()
    theirs = []
    for chunk in chunks:
        for line in line_decoder.decode(text_decoder.decode(chunk)):
            event = sse_decoder.decode(line)
            if event is not None:
                theirs.append((event.event, event.data, event.id))
    if ours != theirs:
        raise SystemExit("ours and httpx-sse disagree on the benchmark stream")


def measure(
    workloads: dict[str, tuple[list[bytes], int]], reps: int
) -> dict[str, dict[str, list[float]]]:
    """Seconds per (workload, variant), one entry per rep, variants in rotating order."""
    times: dict[str, dict[str, list[float]]] = {w: {v: [] for v in VARIANTS} for w in workloads}
    names = list(VARIANTS)
    for rep in range(reps):
        for workload, (chunks, expected) in workloads.items():
            for k in range(len(names)):
                name = names[(rep + k) % len(names)]
                start = time.perf_counter()
                count = VARIANTS[name](chunks)
                times[workload][name].append(time.perf_counter() - start)
                if count != expected:
                    raise SystemExit(f"{name} found {count} events in {workload}, not {expected}")
    return times


def span(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def report(
    workloads: dict[str, tuple[list[bytes], int]],
    times: dict[str, dict[str, list[float]]],
    args: argparse.Namespace,
) -> str:
    out = [
        "SSE decoder benchmark (benchmarks/bench_sse.py)",
        f"{time.strftime('%Y-%m-%d %H:%M')}  Python {platform.python_version()}  "
        f"httpx-sse {version('httpx-sse')}  {platform.machine()}  reps={args.reps}  "
        f"events={args.events}  big={args.big_mb} MB",
        "Cells: median (min-max) over reps. Ratios are time ratios taken within each rep",
        "(< 1 means ours is faster). Targets: ours/httpx-sse <= 1, ours/floor <= 3.",
        "",
        f"{'workload':<22}{'chunks':>8}{'MB':>7}  {'ours k ev/s':>22}{'httpx-sse k ev/s':>22}"
        f"{'floor k ev/s':>22}  {'ours/httpx-sse':>20}{'ours/floor':>20}",
    ]
    for workload, (chunks, n_events) in workloads.items():
        t = times[workload]
        mb = sum(map(len, chunks)) / 1e6
        if workload.startswith("big"):
            rate = {v: [mb / s for s in t[v]] for v in VARIANTS}  # MB/s: one event only
            unit = " MB/s"
        else:
            rate = {v: [n_events / s / 1e3 for s in t[v]] for v in VARIANTS}
            unit = ""
        vs_httpx = [a / b for a, b in zip(t["ours"], t["httpx-sse"], strict=True)]
        vs_floor = [a / b for a, b in zip(t["ours"], t["floor"], strict=True)]
        out.append(
            f"{workload:<22}{len(chunks):>8}{mb:>7.1f}  "
            + "".join(f"{span(rate[v], '.0f') + unit:>22}" for v in VARIANTS)
            + f"  {span(vs_httpx, '.2f'):>20}{span(vs_floor, '.2f'):>20}"
        )
    ours_us = statistics.median(times["openai 64KiB"]["ours"]) / workloads["openai 64KiB"][1] * 1e6
    out += ["", f"ours on 64 KiB chunks: {ours_us:.2f} us/event (decoder alone, no JSON)"]
    return "\n".join(out) + "\n"


def scaling(reps: int) -> str:
    """Linear cost: a 20 MB line in 1 KiB chunks, and one event in 16-byte chunks at N and 2N."""

    def best(chunks: list[bytes]) -> float:
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            if run_ours(chunks) != 1:
                raise SystemExit("the scaling stream did not give one event")
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    line = b"data: " + b"0123456789abcdef" * (20 * 1024 * 1024 // 16) + b"\n\n"
    t_line = best(rechunk([line], 1024))
    event = b"".join(b"data: %d \xc3\xa9\xf0\x9f\x98\x80\n" % i for i in range(40_000)) + b"\n"
    t_one = best(rechunk([event], 16))
    t_two = best(rechunk([event[:-1] * 2 + b"\n"], 16))
    return (
        f"20 MB line in 1 KiB chunks: {t_line * 1e3:.0f} ms ({len(line) / t_line / 1e6:.0f} MB/s)\n"
        f"one event in 16-byte chunks: {len(event) / 1e6:.1f} MB {t_one * 1e3:.0f} ms, "
        f"twice that {t_two * 1e3:.0f} ms: x{t_two / t_one:.2f} (linear = 2)\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--big-mb", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not write results/sse.txt")
    args = parser.parse_args(argv)

    rng = random.Random(20261122)
    events = openai_stream(args.events, rng)
    big = big_event(int(args.big_mb * 1e6), rng)
    workloads = {
        "openai per-event": (events, len(events)),
        "openai 4KiB": (rechunk(events, 4096), len(events)),
        "openai 64KiB": (rechunk(events, 65536), len(events)),
        "big per-event": (big, 1),
        "big 4KiB": (rechunk(big, 4096), 1),
        "big 64KiB": (rechunk(big, 65536), 1),
    }
    for chunks, _ in workloads.values():
        check_same_events(chunks)
    text = report(workloads, measure(workloads, args.reps), args) + scaling(args.reps)
    print(text, end="")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
