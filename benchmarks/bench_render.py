"""Rendering cost of the chat view: per flush at 1k/10k/50k tokens, stalls, display lag, opening.

Run: ``python benchmarks/bench_render.py [--reps R] [--seconds S]`` (offscreen, no pytest).
Writes ``benchmarks/results/render.txt`` as well as stdout.

Workload: a Markdown answer cut into 3-5 character tokens (paragraphs with
inline code and bold, bullet and numbered lists, headings, fenced Python
code, a table), repeated to any length, streamed into a ``ChatView`` shown
at 900x700 offscreen (raster paint into the backing store).

Sections (research/performance.md section 3 and issue 4's targets):
1. ``per-flush cost``: stream (not timed) until the message holds P tokens,
   then time 100 flushes of 25 tokens each (the view's flush + layout + paint
   = ``processEvents``), for P = 1k, 10k, 50k in the same rep, order rotated.
   Target: the 50k figure within 1.5x of the 1k figure (same-rep ratio).
2. ``stall at 5,000 tokens/s``: a producer timer appends the tokens due at
   5,000/s (one ``append_text`` per token) every 2 ms for S seconds while a 5 ms precise
   probe timer records how late it fires; the longest lateness is the longest
   event-loop stall. Target < 50 ms.
3. ``display lag``: in the same run, the time from each ``append_text`` to the
   flush that put its text in the document. Target < 100 ms.
4. ``open 10,000 messages``: ``set_messages`` of a conversation of 10,000
   messages (answers ~1.5k characters of Markdown) until laid out and
   painted. Target < 1 s.
5. ``hostile``: longest stall while a 20 MB line arrives in 64 KiB chunks and
   while a 100k-line unclosed code fence arrives in 1,000-line chunks.

This machine is shared and noisy (2 vCPUs): compare same-run ratios, not
absolute figures from different runs; medians over reps are reported.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop_app.qt.chat_view import ChatView, MessageView  # noqa: E402
from desktop_app.qt.markdown import warm_up  # noqa: E402
from desktop_app.qt.theme import LIGHT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "render.txt"

SECTION = """## Streaming answers, {n}

A paragraph about **incremental rendering** with `inline code`, a
[link](https://example.com/{n}) and some *emphasis* that wraps across a soft
line break so the paragraph is long enough to wrap in the window.

- first point, with a little more text than a word
- second point with `code` in it
  - a nested point
- third point

1. step one
2. step two

```python
def render(tokens, n={n}):
    # finished blocks are rendered once
    for token in tokens:
        yield token.upper()
```

| size | tokens | note |
|-----:|-------:|------|
| {n} | 1000 | flat |

"""


def tokens_for(count: int, seed: int = 7) -> list[str]:
    """``count`` tokens of 3-5 characters cut from repeated Markdown sections."""
    rng = random.Random(seed)
    out: list[str] = []
    section = 0
    while len(out) < count:
        text = SECTION.format(n=section)
        section += 1
        i = 0
        while i < len(text) and len(out) < count:
            size = rng.randint(3, 5)
            out.append(text[i : i + size])
            i += size
    return out


def pump(app: QApplication) -> None:
    app.processEvents()


def make_view(app: QApplication) -> ChatView:
    view = ChatView(theme=LIGHT)
    view.resize(900, 700)
    view.show()
    pump(app)
    return view


def close(view: ChatView, app: QApplication) -> None:
    """Destroy a view and collect garbage now, so the next section does not pay for it."""
    view.close()
    view.deleteLater()
    pump(app)
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    pump(app)
    gc.collect()


# ------------------------------------------------------------------ 1. per flush


def per_flush_cost(app: QApplication, prefill: int) -> list[float]:
    """Seconds per flush (flush + layout + paint) of 25-token flushes after ``prefill`` tokens."""
    view = make_view(app)
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    tokens = tokens_for(prefill + 100 * 25)
    for start in range(0, prefill, 2_000):  # fill quickly, not timed
        for token in tokens[start : min(prefill, start + 2_000)]:
            view.append_text("a", token)
        view.flush()
        pump(app)
    widget = view.message_widget("a")
    assert widget is not None
    times: list[float] = []
    probe = tokens[prefill:]
    for k in range(100):
        for token in probe[k * 25 : (k + 1) * 25]:
            view.append_text("a", token)
        started = time.perf_counter()
        view._flusher.on_timer()  # what the frame timer runs
        pump(app)  # layout + paint
        times.append(time.perf_counter() - started)
    close(view, app)
    return times


# ------------------------------------------------------------------ 2+3. stall and lag


def run_loop(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def stall_and_lag(app: QApplication, seconds: float) -> dict[str, float]:
    view = make_view(app)
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.body is not None
    body = widget.body
    tokens = tokens_for(int(seconds * 5_000) + 100)
    sent: list[tuple[float, int]] = []  # (time, characters sent so far)
    position = 0
    next_token = 0

    started = [0.0]

    def produce() -> None:
        # As many tokens as are due at 5,000/s: a busy loop gets them in a
        # burst afterwards, as it would get the bytes queued in the socket.
        nonlocal position, next_token
        now = time.perf_counter()
        due = min(len(tokens), int((now - started[0]) * 5_000))
        while next_token < due:
            token = tokens[next_token]
            next_token += 1
            view.append_text("a", token)
            position += len(token)
            sent.append((now, position))

    shown: list[tuple[float, int]] = []  # (time, characters in the document)
    real_flush = view._flusher.on_timer

    def flush_and_record() -> None:
        real_flush()
        shown.append((time.perf_counter(), body._stream._shown))

    view._flusher.timer.timeout.disconnect()
    view._flusher.timer.timeout.connect(flush_and_record)

    lateness: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - 0.005))
        last[0] = now

    producer = QTimer()
    producer.setTimerType(Qt.TimerType.PreciseTimer)
    producer.timeout.connect(produce)
    prober = QTimer()
    prober.setTimerType(Qt.TimerType.PreciseTimer)
    prober.timeout.connect(probe)
    producer.start(2)
    last[0] = started[0] = time.perf_counter()
    prober.start(5)
    run_loop(app, seconds)
    producer.stop()
    prober.stop()
    view.flush()
    # Lag: for each append, the first flush whose shown length covers it.
    lags: list[float] = []
    j = 0
    for sent_at, upto in sent:
        while j < len(shown) and shown[j][1] < upto:
            j += 1
        if j == len(shown):
            break
        lags.append(shown[j][0] - sent_at)
    chars = position
    close(view, app)
    lateness.sort()
    lags.sort()
    return {
        "tokens": float(next_token),
        "chars": float(chars),
        "stall_max": lateness[-1],
        "stall_p99": lateness[int(len(lateness) * 0.99)],
        "stall_over_50": float(sum(1 for v in lateness if v > 0.05)),
        "lag_max": lags[-1],
        "lag_p50": lags[len(lags) // 2],
        "lag_p99": lags[int(len(lags) * 0.99)],
        "flushes": float(len(shown)),
    }


# ------------------------------------------------------------------ 4. open 10,000


def conversation(count: int) -> list[MessageView]:
    answer = SECTION.format(n=1)
    return [
        MessageView(f"m{i}", "user", f"Question number {i}: how does it work?")
        if i % 2 == 0
        else MessageView(f"m{i}", "assistant", answer, metrics_line="0.4 s · 52 tok/s")
        for i in range(count)
    ]


def open_conversation(app: QApplication, messages: list[MessageView]) -> tuple[float, int]:
    view = make_view(app)
    started = time.perf_counter()
    view.set_messages(messages)
    pump(app)  # layout + first paint
    elapsed = time.perf_counter() - started
    widgets = view.loaded_widget_count()
    close(view, app)
    return elapsed, widgets


# ------------------------------------------------------------------ 5. hostile


def hostile_stall(app: QApplication, chunks: list[str], seconds_cap: float) -> dict[str, float]:
    view = make_view(app)
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    widget = view.message_widget("a")
    assert widget is not None
    pending = list(reversed(chunks))

    def produce() -> None:
        if pending:
            view.append_text("a", pending.pop())

    lateness: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - 0.005))
        last[0] = now

    producer = QTimer()
    producer.timeout.connect(produce)
    prober = QTimer()
    prober.setTimerType(Qt.TimerType.PreciseTimer)
    prober.timeout.connect(probe)
    started = time.perf_counter()
    producer.start(1)
    last[0] = time.perf_counter()
    prober.start(5)
    while (pending or widget.backlog) and time.perf_counter() - started < seconds_cap:
        run_loop(app, 0.1)
    producer.stop()
    end_started = time.perf_counter()
    view.end_stream("a", MessageView("a", "assistant", ""))
    end_cost = time.perf_counter() - end_started
    while widget.body is not None and widget.body.has_pending_renders:
        run_loop(app, 0.05)
    run_loop(app, 0.05)
    prober.stop()
    elapsed = time.perf_counter() - started
    close(view, app)
    return {"stall_max": max(lateness), "end_stream": end_cost, "elapsed": elapsed}


# ------------------------------------------------------------------ report


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    # What the app does in the background at start: compile the lexers, so
    # the first code block costs what later ones do (not timed here).
    warm_up()
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say("# bench_render: the chat view's rendering cost")
    say(
        f"python {platform.python_version()}, PySide6 {version('PySide6-Essentials')}, "
        f"markdown-it-py {version('markdown-it-py')}, Pygments {version('Pygments')}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, QT_QPA_PLATFORM="
        f"{os.environ.get('QT_QPA_PLATFORM')}, reps={args.reps}"
    )
    say()

    # 1. per-flush cost, sizes in rotating order within each rep
    sizes = [1_000, 10_000, 50_000]
    per: dict[int, list[float]] = {s: [] for s in sizes}
    p95: dict[int, list[float]] = {s: [] for s in sizes}
    worst: dict[int, list[float]] = {s: [] for s in sizes}
    ratios: list[float] = []
    for rep in range(args.reps):
        order = sizes[rep % 3 :] + sizes[: rep % 3]
        means = {}
        for size in order:
            times = per_flush_cost(app, size)
            means[size] = statistics.mean(times)
            per[size].append(means[size])
            p95[size].append(sorted(times)[int(len(times) * 0.95)])
            worst[size].append(max(times))
        ratios.append(means[50_000] / means[1_000])
    say("## 1. Cost per flush (25 tokens, flush + layout + paint), after P tokens")
    say("| P tokens | mean (median of reps) | p95 | max | per token |")
    say("|---:|---:|---:|---:|---:|")
    for size in sizes:
        mean = statistics.median(per[size])
        say(
            f"| {size:,} | {fmt_ms(mean)} | {fmt_ms(statistics.median(p95[size]))} "
            f"| {fmt_ms(statistics.median(worst[size]))} | {mean / 25 * 1e6:.0f} us |"
        )
    ratio = statistics.median(ratios)
    verdict = "PASS" if ratio <= 1.5 else "FAIL"
    say(
        f"50k / 1k same-rep ratio: median {ratio:.2f} (reps: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); target <= 1.5: {verdict}"
    )
    say()

    # 2+3. stall and lag
    runs = [stall_and_lag(app, args.seconds) for _ in range(args.reps)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    say(f"## 2. Event-loop stall while streaming 5,000 tokens/s for {args.seconds:g} s")
    say(
        f"tokens streamed per run: {med('tokens'):,.0f} ({med('chars'):,.0f} characters), "
        f"flushes: {med('flushes'):,.0f}"
    )
    say(
        f"longest stall (5 ms probe lateness): median {fmt_ms(med('stall_max'))} "
        f"(runs: {', '.join(fmt_ms(r['stall_max']) for r in runs)}), p99 {fmt_ms(med('stall_p99'))}, "
        f"stalls > 50 ms per run: {med('stall_over_50'):.0f}; target < 50 ms: "
        f"{'PASS' if med('stall_max') < 0.05 else 'FAIL'}"
    )
    say()
    say("## 3. Display lag (append_text -> text in the document), same runs")
    say(
        f"p50 {fmt_ms(med('lag_p50'))}, p99 {fmt_ms(med('lag_p99'))}, max median "
        f"{fmt_ms(med('lag_max'))} (runs: {', '.join(fmt_ms(r['lag_max']) for r in runs)}); "
        f"target < 100 ms: {'PASS' if med('lag_max') < 0.1 else 'FAIL'}"
    )
    say()

    # 4. open 10,000 messages
    messages = conversation(10_000)
    opens = [open_conversation(app, messages) for _ in range(max(3, args.reps))]
    open_median = statistics.median(o[0] for o in opens)
    say("## 4. Opening a conversation of 10,000 messages (set_messages + layout + paint)")
    say(
        f"median {fmt_ms(open_median)} (runs: {', '.join(fmt_ms(o[0]) for o in opens)}), "
        f"message widgets created: {opens[0][1]}; target < 1 s: "
        f"{'PASS' if open_median < 1 else 'FAIL'}"
    )
    say()

    # 5. hostile
    say("## 5. Hostile answers (longest stall of the 5 ms probe, end_stream cost)")
    line = ["A" * 65_536 for _ in range(20_000_000 // 65_536 + 1)]
    fence = ["```python\n"] + [
        "".join(f"x{i} = {i}\n" for i in range(k, k + 1_000)) for k in range(0, 100_000, 1_000)
    ]
    for name, chunks in (
        ("20 MB single line, 64 KiB chunks", line),
        ("100k-line unclosed fence", fence),
    ):
        result = hostile_stall(app, chunks, seconds_cap=60)
        say(
            f"{name}: longest stall {fmt_ms(result['stall_max'])}, end_stream "
            f"{fmt_ms(result['end_stream'])}, total {result['elapsed']:.1f} s"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
