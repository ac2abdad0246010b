"""Streaming through the real window: event-loop stalls and display lag, network to document.

Run: ``python benchmarks/bench_window_stream.py [--reps 5]`` (offscreen, no pytest; ~2.5 min).
Writes ``benchmarks/results/window_stream.txt`` as well as stdout.

``bench_render.py`` feeds ``ChatView.append_text`` from a timer, so its lag starts at
``append_text``. Here the whole GUI path runs: the bundled stub (in this process, uvicorn
in its thread, 127.0.0.1 port 0) -> httpx -> SSE decoder -> OpenAI parser -> session ->
the chat controller's stream task on the qasync loop (with the stream inspector's
observer it attaches to every answer) -> ``StreamController`` -> ``ChatView`` coalescing ->
the message's document. A real ``MainWindow`` (1000x700, offscreen) runs over an in-memory
history and a ``MemorySecretStore``, with the GUI-thread garbage collector the app installs;
each answer is typed into the composer and sent in a new chat.

Workloads (stub scenarios, OpenAI format):
- ``fast``: the long Markdown answer (~35k tokens, ~110k characters) paced at 5,000
  tokens/s by the profile's extra header ``X-Stub-Tokens-Per-Second: 5000`` (~7 s);
- ``long``: the same content at the scenario's own 400 tokens/s, cut to ``--long-tokens``
  (2,400 by default, ~6 s) with the profile's max_tokens so the run stays short.

Measured in each stream, with hooks in this process only (no app code changed):
1. event-loop stall: a 5 ms precise QTimer records how late each firing is (gap - 5 ms),
   from Send until the whole answer is in the document; worst and p99;
2. display lag: every body chunk ``HttpStream.next_chunk`` hands to the session is
   timestamped; its text (counted by an independent parse of the recorded bytes) is
   "displayed" at the first update of the message's document (``MarkdownBody._apply``,
   wrapped on the instance) after which the document holds that many characters;
   p50/p99/max over chunks. Also "wire" lag, from the stub's socket write of the bytes
   (its ASGI ``send``, wrapped) to the display: it includes the time bytes wait in the
   socket while the loop is busy, which chunk timestamps cannot see;
3. baseline, same run: the core alone (``core.session.stream_turn`` on a plain asyncio loop
   in a thread, same stub, same requests, no observer); "displayed" is the TextDelta
   reaching the consumer; its stall probe is a 5 ms ``asyncio.sleep`` loop.
Each rep runs window-fast, core-fast, window-long, core-long in a rotated order; cells are
medians over reps with (min-max); ratios are window/core within a rep.

Targets (issue): longest stall < 50 ms while streaming 5,000 tokens/s; display lag
< 100 ms (verdict on the median over reps of each stream's max lag, as bench_render).
This machine is shared and noisy (2 vCPUs): compare same-run ratios, not absolute
figures from different runs.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import concurrent.futures
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing of the user's: settings, state and caches go to a throwaway place.
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = tempfile.mkdtemp(prefix="streamdesk-bench-")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "window_stream.txt"
PROMPT = "Benchmark: stream the long answer"
PROBE_S = 0.005
STALL_TARGET = 0.050
LAG_TARGET = 0.100
FAST_TPS = 5_000
WAIT_LIMIT = 90.0  # seconds for one answer, whatever happens
VARIANTS = ("window fast", "core fast", "window long", "core long")


# ------------------------------------------------------------------ capture


@dataclass
class Capture:
    """What one stream recorded; times are ``time.perf_counter()`` (all threads)."""

    received: list[tuple[float, bytes]] = field(default_factory=list)  # next_chunk returns
    sent: list[tuple[float, int]] = field(default_factory=list)  # stub socket writes (bytes)
    shown: list[tuple[float, int]] = field(default_factory=list)  # characters displayed
    lateness: list[float] = field(default_factory=list)  # probe
    flushes: list[float] = field(default_factory=list)  # window: frame flush durations
    applies: list[float] = field(default_factory=list)  # window: document update durations
    started: float = 0.0
    ended: float = 0.0
    client_cpu: float = 0.0  # CPU of the thread running the client (GUI thread or core's)
    process_cpu: float = 0.0
    stub_cpu: float = 0.0
    final_chars: int = 0  # the characters the client ended with
    state: str = ""


CAPTURE: Capture | None = None


def install_hooks() -> None:
    """Timestamp the body chunks the transport hands out and the stub's socket writes."""
    from desktop_app.core.transport import HttpStream
    from server_stub.streaming import EventStream

    real_next = HttpStream.next_chunk

    async def next_chunk(self: HttpStream) -> bytes:
        chunk = await real_next(self)
        capture = CAPTURE
        if capture is not None and chunk and self.url.endswith("/chat/completions"):
            capture.received.append((time.perf_counter(), chunk))
        return chunk

    HttpStream.next_chunk = next_chunk  # type: ignore[method-assign]

    real_call = EventStream.__call__

    async def call(self: EventStream, scope: Any, receive: Any, send: Any) -> None:
        async def timed_send(message: Any) -> None:
            capture = CAPTURE
            if capture is not None and message["type"] == "http.response.body":
                size = len(message.get("body", b""))
                if size:
                    capture.sent.append((time.perf_counter(), size))
            await send(message)

        await real_call(self, scope, receive, timed_send)

    EventStream.__call__ = call  # type: ignore[method-assign]


def thread_cpu(thread: threading.Thread) -> float:
    ident = thread.ident
    if ident is None:
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError):
        return 0.0


# ------------------------------------------------------------------ analysis


def text_index(chunks: list[tuple[float, bytes]]) -> tuple[list[int], list[int]]:
    """Event end offsets in the body and the answer characters complete at each.

    An independent reading of the stub's OpenAI stream (LF-separated ``data:`` lines):
    ``choices[].delta.content`` lengths, in Python characters as the app counts them.
    """
    body = b"".join(c for _, c in chunks)
    ends: list[int] = []
    totals: list[int] = []
    total = 0
    pos = 0
    while True:
        cut = body.find(b"\n\n", pos)
        if cut < 0:
            break
        for line in body[pos:cut].split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload and payload != b"[DONE]":
                    document = json.loads(payload)
                    for choice in document.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            total += len(content)
        pos = cut + 2
        ends.append(pos)
        totals.append(total)
    return ends, totals


def chars_upto(ends: list[int], totals: list[int], offset: int) -> int:
    k = bisect.bisect_right(ends, offset)
    return totals[k - 1] if k else 0


def arrivals(
    stamps: list[tuple[float, int]], ends: list[int], totals: list[int]
) -> list[tuple[float, int]]:
    """(time, characters complete) for each byte arrival that completed new text."""
    out: list[tuple[float, int]] = []
    offset = 0
    last = 0
    for at, size in stamps:
        offset += size
        upto = chars_upto(ends, totals, offset)
        if upto > last:
            out.append((at, upto))
            last = upto
    return out


def lags(
    arrived: list[tuple[float, int]], shown: list[tuple[float, int]]
) -> tuple[list[float], int]:
    """For each arrival, the time until the display held its text; and how many never were."""
    out: list[float] = []
    j = 0
    for at, upto in arrived:
        while j < len(shown) and (shown[j][1] < upto or shown[j][0] < at):
            j += 1
        if j == len(shown):
            return out, len(arrived) - len(out)
        out.append(shown[j][0] - at)
    return out, 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def analyse(capture: Capture) -> dict[str, float]:
    ends, totals = text_index(capture.received)
    total = totals[-1] if totals else 0
    received = [(t, len(c)) for t, c in capture.received]
    shown: list[tuple[float, int]] = []
    high = 0
    for at, chars in capture.shown:  # a document rebuilt at the end may restart at 0
        high = max(high, chars)
        shown.append((at, high))
    recv_lag, recv_missing = lags(arrivals(received, ends, totals), shown)
    wire_lag, _ = lags(arrivals(capture.sent, ends, totals), shown)
    # Socket wait: from the stub's write to the chunk that completes those bytes.
    socket_wait: list[float] = []
    cumulative = []
    offset = 0
    for _t, size in received:
        offset += size
        cumulative.append(offset)
    offset = 0
    for at, size in capture.sent:
        offset += size
        k = bisect.bisect_left(cumulative, offset)
        if k < len(received):
            socket_wait.append(received[k][0] - at)
    first = capture.received[0][0] if capture.received else capture.started
    last = capture.received[-1][0] if capture.received else capture.ended
    return {
        "chars": float(total),
        "chars_ok": float(total == capture.final_chars),
        "chunks": float(len(capture.received)),
        "writes": float(len(capture.sent)),
        "bytes": float(sum(len(c) for _, c in capture.received)),
        "stream_s": last - first,
        "stall_max": max(capture.lateness, default=float("nan")),
        "stall_p99": pct(capture.lateness, 0.99),
        "stall_over": float(sum(1 for v in capture.lateness if v > STALL_TARGET)),
        "probes": float(len(capture.lateness)),
        "lag_p50": pct(recv_lag, 0.5),
        "lag_p99": pct(recv_lag, 0.99),
        "lag_max": max(recv_lag, default=float("nan")),
        "lag_missing": float(recv_missing),
        "wire_p50": pct(wire_lag, 0.5),
        "wire_p99": pct(wire_lag, 0.99),
        "wire_max": max(wire_lag, default=float("nan")),
        "sock_p50": pct(socket_wait, 0.5),
        "sock_p99": pct(socket_wait, 0.99),
        "sock_max": max(socket_wait, default=float("nan")),
        "client_cpu": capture.client_cpu,
        "process_cpu": capture.process_cpu,
        "stub_cpu": capture.stub_cpu,
        "updates": float(len(capture.shown)),
        "flushes": float(len(capture.flushes)),
        "flush_total": sum(capture.flushes),
        "flush_max": max(capture.flushes, default=0.0),
        "apply_total": sum(capture.applies),
        "apply_max": max(capture.applies, default=0.0),
        "complete": float(capture.state == "complete"),
    }


# ------------------------------------------------------------------ the window


class Catch:
    """Connect to a signal now, await an emission (optionally matching) later."""

    def __init__(self, signal: Any, match: Callable[..., bool] | None = None) -> None:
        self._signal = signal
        self._match = match
        self._future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        signal.connect(self._received)

    def _received(self, *args: Any) -> None:
        if not self._future.done() and (self._match is None or self._match(*args)):
            self._future.set_result(args)

    async def wait(self, limit: float = WAIT_LIMIT) -> tuple[Any, ...]:
        try:
            async with asyncio.timeout(limit):
                return await self._future
        finally:
            self._signal.disconnect(self._received)


def bench_profiles(url: str, long_tokens: int) -> list[Any]:
    from desktop_app.core.profiles import Profile

    base = f"{url}/v1"
    return [
        Profile(
            name="Bench fast",
            base_url=base,
            model="stub-fast",
            extra_headers={"X-Stub-Tokens-Per-Second": str(FAST_TPS)},
        ),
        Profile(name="Bench long", base_url=base, model="stub-long", max_tokens=long_tokens),
        # Warm-up: the same content unpaced, so the first measured answer pays no first use.
        Profile(
            name="Bench warm-up",
            base_url=base,
            model="stub-fast",
            max_tokens=3_000,
            extra_headers={"X-Stub-Tokens-Per-Second": "0"},
        ),
    ]


async def choose_profile(window: Any, name: str) -> None:
    bar = window.profile_bar
    if bar.current_profile() != name:
        listed = Catch(window.modelsListed, lambda profile: profile == name)
        bar.profile_box.setCurrentText(name)
        await listed.wait(15)
    profile = window.services.profile(name)
    if bar.current_model() != profile.model:
        bar.set_model(profile.model)
    assert window.current_target().model == profile.model, "the window would ask another model"


async def window_stream(window: Any, profile: str, stub_thread: threading.Thread) -> Capture:
    from PySide6.QtCore import Qt, QTimer

    global CAPTURE
    await choose_profile(window, profile)
    window.new_chat()
    await asyncio.sleep(0.2)
    gc.collect()
    capture = Capture()
    last = [0.0]

    def probe() -> None:
        now = time.perf_counter()
        capture.lateness.append(max(0.0, now - last[0] - PROBE_S))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(probe)
    finished = Catch(window.chat.answerFinished)
    window.composer.set_text(PROMPT)
    cpu0, proc0, stub0 = time.thread_time(), time.process_time(), thread_cpu(stub_thread)
    CAPTURE = capture
    capture.started = last[0] = time.perf_counter()
    timer.start(int(PROBE_S * 1000))
    if not window.composer.submit():
        raise RuntimeError("the composer did not send the prompt")
    controller = window.chat.stream_of(window.chat.current_id or -1)
    assert controller is not None
    message_id = controller.message_id
    widget = window.chat_view.message_widget(message_id)
    assert widget is not None
    assert widget.body is not None
    body = widget.body
    real_apply = body._apply

    def apply(step: Any) -> None:
        began = time.perf_counter()
        real_apply(step)
        done = time.perf_counter()
        capture.applies.append(done - began)
        capture.shown.append((done, body._stream._shown))

    body._apply = apply  # the stream task has not run yet: no text can have been shown
    try:
        _cid, _mid, status = await finished.wait()
        # A big backlog is shown over the next frames after the end: wait for all of it.
        deadline = time.perf_counter() + 10
        # Polled: this Qt state has no asyncio.Event to await; the wait is bounded.
        while body._stream._shown < body._stream.raw_length:
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.002)
        capture.ended = time.perf_counter()
    finally:
        timer.stop()
        CAPTURE = None
        del body._apply
    capture.client_cpu = time.thread_time() - cpu0
    capture.process_cpu = time.process_time() - proc0
    capture.stub_cpu = thread_cpu(stub_thread) - stub0
    capture.state = str(status)
    capture.final_chars = len(window.chat_view.raw_text(message_id))
    return capture


def time_flushes(window: Any) -> None:
    """Time each frame flush of the chat view (flush + layout of the column)."""
    flusher = window.chat_view._flusher
    real = flusher.on_timer

    def on_timer() -> None:
        began = time.perf_counter()
        real()
        capture = CAPTURE
        if capture is not None:
            capture.flushes.append(time.perf_counter() - began)

    flusher.timer.timeout.disconnect()
    flusher.timer.timeout.connect(on_timer)


# ------------------------------------------------------------------ the core alone


class CoreLoop:
    """A plain asyncio loop in its own thread, with one reused StreamingClient."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="core-bench", daemon=True)
        self.thread.start()
        self.client: Any = None

    def run(self, coro: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def _make_client(self) -> None:
        from desktop_app.core.transport import StreamingClient

        self.client = StreamingClient(trust_env=False)

    async def _close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def start(self) -> None:
        self.run(self._make_client()).result(30)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run(self._close()).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def core_stream(
    client: Any, url: str, model: str, headers: dict[str, str], max_tokens: int | None
) -> Capture:
    """One turn through ``stream_turn`` alone, on this (plain asyncio) thread's loop."""
    from desktop_app.core.events import TextDelta, TurnEnded
    from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
    from desktop_app.core.providers.registry import get_provider
    from desktop_app.core.session import stream_turn

    capture = CAPTURE
    assert capture is not None
    endpoint = Endpoint(f"{url}/v1", extra_headers=headers)
    request = ChatRequest(
        messages=(ChatMessage("user", PROMPT),), model=model, max_tokens=max_tokens
    )

    async def probe() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(PROBE_S)
            now = time.perf_counter()
            capture.lateness.append(max(0.0, now - last - PROBE_S))
            last = now

    cpu0 = time.thread_time()
    capture.started = time.perf_counter()
    prober = asyncio.get_running_loop().create_task(probe())
    chars = 0
    try:
        events = stream_turn(client, get_provider("openai"), request, endpoint)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta) and event.text:
                    chars += len(event.text)
                    capture.shown.append((time.perf_counter(), chars))
                elif isinstance(event, TurnEnded):
                    capture.state = event.state.value
    finally:
        prober.cancel()
        capture.ended = time.perf_counter()
    capture.client_cpu = time.thread_time() - cpu0
    capture.final_chars = chars
    return capture


async def core_run(
    core: CoreLoop,
    url: str,
    model: str,
    headers: dict[str, str],
    max_tokens: int | None,
    stub_thread: threading.Thread,
) -> Capture:
    global CAPTURE
    gc.collect()
    await asyncio.sleep(0.2)
    capture = CAPTURE = Capture()
    proc0, stub0 = time.process_time(), thread_cpu(stub_thread)
    try:
        future = core.run(core_stream(core.client, url, model, headers, max_tokens))
        await asyncio.wait_for(asyncio.wrap_future(future), WAIT_LIMIT)
    finally:
        CAPTURE = None
    capture.process_cpu = time.process_time() - proc0
    capture.stub_cpu = thread_cpu(stub_thread) - stub0
    return capture


# ------------------------------------------------------------------ where time goes


def replay_costs(chunks: list[tuple[float, bytes]], reps: int = 3) -> dict[str, float]:
    """Sans-IO cost per event of what the GUI thread does twice per chunk: the session's
    decode + parse, and the stream inspector's observer (decode, parse, describe, record)."""
    from desktop_app.core.inspector_model import InspectorModel
    from desktop_app.core.providers.registry import get_provider
    from desktop_app.core.sse import SSEDecoder

    provider = get_provider("openai")
    data = [c for _, c in chunks]
    events = 0
    core: list[float] = []
    inspector: list[float] = []
    for _ in range(reps):
        decoder = SSEDecoder()
        parser = provider.new_parser()
        began = time.perf_counter()
        count = 0
        for chunk in data:
            for sse in decoder.feed(chunk):
                parser.parse(sse)
                count += 1
        core.append(time.perf_counter() - began)
        events = count
        model = InspectorModel(provider=provider)
        model.on_request("POST", "http://127.0.0.1/v1/chat/completions", {}, {"stream": True})
        model.on_response(200, {"content-type": "text/event-stream"})
        began = time.perf_counter()
        for chunk in data:
            model.on_chunk(chunk, time.monotonic())
        inspector.append(time.perf_counter() - began)
    return {
        "events": float(events),
        "core_us": statistics.median(core) / max(1, events) * 1e6,
        "inspector_us": statistics.median(inspector) / max(1, events) * 1e6,
    }


# ------------------------------------------------------------------ report


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def cell(values: list[float], fmt: Callable[[float], str] = ms) -> str:
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def ratio_cell(window: list[float], core: list[float]) -> str:
    pairs = [w / c for w, c in zip(window, core, strict=True) if c > 0]
    if not pairs:
        return "-"
    return f"{statistics.median(pairs):.2f} ({min(pairs):.2f}-{max(pairs):.2f})"


async def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from desktop_app.core.profiles import Settings
    from desktop_app.core.secrets import MemorySecretStore
    from desktop_app.core.storage import HistoryStore
    from desktop_app.qt.app import dispose, install_asyncgen_hooks, stop_render_worker
    from desktop_app.qt.main_window import MainWindow
    from desktop_app.qt.services import AppServices
    from desktop_app.qt.tasks import TaskRegistry
    from server_stub.embedded import start_stub

    install_asyncgen_hooks(asyncio.get_running_loop())
    install_hooks()
    started = time.perf_counter()
    stub = await asyncio.to_thread(start_stub, keepalive_interval=15.0)
    stub_thread = stub._thread
    core = CoreLoop()
    core.start()
    services = AppServices(
        history=HistoryStore.in_memory(),
        profiles=bench_profiles(stub.url, args.long_tokens),
        settings=Settings(),
        stub_factory=lambda: stub,
        secrets_override=MemorySecretStore(),
        read_only=True,
    )
    window = MainWindow(services, TaskRegistry())
    window.resize(1000, 700)
    window.show()
    listed = Catch(window.modelsListed)
    window.start()
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    last_fast: Capture | None = None
    try:
        await listed.wait(15)
        time_flushes(window)
        # Warm-up (not measured): first connection, Markdown parser and lexers, widgets.
        await window_stream(window, "Bench warm-up", stub_thread)
        await core_run(
            core, stub.url, "stub-fast", {"X-Stub-Tokens-Per-Second": "0"}, 3_000, stub_thread
        )
        fast_headers = {"X-Stub-Tokens-Per-Second": str(FAST_TPS)}
        for rep in range(args.reps):
            order = VARIANTS[rep % 4 :] + VARIANTS[: rep % 4]
            for variant in order:
                if variant == "window fast":
                    capture = await window_stream(window, "Bench fast", stub_thread)
                    last_fast = capture
                elif variant == "window long":
                    capture = await window_stream(window, "Bench long", stub_thread)
                elif variant == "core fast":
                    capture = await core_run(
                        core, stub.url, "stub-fast", fast_headers, None, stub_thread
                    )
                else:
                    capture = await core_run(
                        core, stub.url, "stub-long", {}, args.long_tokens, stub_thread
                    )
                figures = analyse(capture)
                results[variant].append(figures)
                print(
                    f"  rep {rep + 1} {variant:<11} {figures['chars']:>7,.0f} chars "
                    f"{figures['stream_s']:5.2f} s  stall max {ms(figures['stall_max'])} ms  "
                    f"lag p50/p99/max {ms(figures['lag_p50'])}/{ms(figures['lag_p99'])}/"
                    f"{ms(figures['lag_max'])} ms  wire max {ms(figures['wire_max'])} ms",
                    flush=True,
                )
    finally:
        await window.shutdown()
        await dispose(window)
        await stop_render_worker()
        await asyncio.to_thread(core.stop)
        await asyncio.to_thread(stub.stop)
    elapsed = time.perf_counter() - started
    replay = replay_costs(last_fast.received) if last_fast is not None else None
    report(args, results, replay, elapsed, say)
    return 0


def report(
    args: argparse.Namespace,
    results: dict[str, list[dict[str, float]]],
    replay: dict[str, float] | None,
    elapsed: float,
    say: Callable[[str], None],
) -> None:
    def col(variant: str, key: str) -> list[float]:
        return [r[key] for r in results[variant]]

    say("# bench_window_stream: stalls and display lag through the real window")
    say(
        f"python {platform.python_version()}, PySide6 {version('PySide6-Essentials')}, "
        f"qasync {version('qasync')}, httpx {version('httpx')}, uvicorn {version('uvicorn')}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, QT_QPA_PLATFORM="
        f"{os.environ.get('QT_QPA_PLATFORM')}, reps={args.reps} (interleaved, rotated), "
        f"run {elapsed:.0f} s"
    )
    for line in (
        "window: in-process stub (uvicorn thread) -> httpx -> SSE decoder -> OpenAI parser ->",
        "  session (+ the stream inspector's observer) -> StreamController -> ChatView",
        "  coalescing -> the message's document, all on the qasync loop of a real MainWindow;",
        "core:   the same stub and requests -> stream_turn -> TextDelta to the consumer, on a",
        "  plain asyncio loop in a thread (no observer, no Qt work).",
        "stall = lateness of a 5 ms precise timer while streaming; lag = from a body chunk",
        "  handed out by the transport to its text being in the document (core: in a",
        "  TextDelta); wire lag = from the stub's socket write to the same; socket wait = from",
        "  the stub's write to the transport handing those bytes out.",
        "Cells: median (min-max) over reps, ms unless said; ratios are taken within each rep.",
    ):
        say(line)
    chunks = statistics.median(col("window fast", "chunks"))
    say(
        f"fast: {statistics.median(col('window fast', 'chars')):,.0f} characters, "
        f"{statistics.median(col('window fast', 'bytes')) / 1e6:.1f} MB of SSE at {FAST_TPS:,} "
        f"tokens/s, {statistics.median(col('window fast', 'writes')):,.0f} stub writes, "
        f"{chunks:,.0f} chunks received by the window "
        f"({statistics.median(col('core fast', 'chunks')):,.0f} by the core); long: "
        f"{statistics.median(col('window long', 'chars')):,.0f} characters "
        f"({args.long_tokens:,} tokens at 400 tokens/s)"
    )
    bad = [
        f"{v} rep {i + 1}"
        for v in VARIANTS
        for i, r in enumerate(results[v])
        if not (r["complete"] and r["chars_ok"] and r["lag_missing"] == 0)
    ]
    say(
        "every answer complete, its text length equal to the bytes' text, every chunk shown: "
        + ("yes" if not bad else "NO: " + ", ".join(bad))
    )
    say()
    rows = [
        ("stream duration s", "stream_s", lambda v: f"{v:.2f}"),
        ("stall max", "stall_max", ms),
        ("stall p99", "stall_p99", ms),
        ("stalls > 50 ms", "stall_over", lambda v: f"{v:.0f}"),
        ("lag p50", "lag_p50", ms),
        ("lag p99", "lag_p99", ms),
        ("lag max", "lag_max", ms),
        ("wire lag p50", "wire_p50", ms),
        ("wire lag p99", "wire_p99", ms),
        ("wire lag max", "wire_max", ms),
        ("socket wait p99", "sock_p99", ms),
        ("socket wait max", "sock_max", ms),
        ("client thread CPU s", "client_cpu", lambda v: f"{v:.2f}"),
        ("process CPU s", "process_cpu", lambda v: f"{v:.2f}"),
        ("stub thread CPU s", "stub_cpu", lambda v: f"{v:.2f}"),
    ]
    for scenario in ("fast", "long"):
        window, core = f"window {scenario}", f"core {scenario}"
        title = (
            f"## {scenario}: {FAST_TPS:,} tokens/s"
            if scenario == "fast"
            else f"## long: 400 tokens/s, first {args.long_tokens:,} tokens"
        )
        say(title)
        say("| figure | window | core alone | window / core (same rep) |")
        say("|---|---:|---:|---:|")
        for label, key, fmt in rows:
            say(
                f"| {label} | {cell(col(window, key), fmt)} | {cell(col(core, key), fmt)} "
                f"| {ratio_cell(col(window, key), col(core, key))} |"
            )
        say(
            f"window: {cell(col(window, 'flushes'), lambda v: f'{v:.0f}')} frame flushes, "
            f"{cell(col(window, 'flush_total'), ms)} ms in them (longest "
            f"{cell(col(window, 'flush_max'), ms)} ms); "
            f"{cell(col(window, 'updates'), lambda v: f'{v:.0f}')} document updates, "
            f"{cell(col(window, 'apply_total'), ms)} ms in them"
        )
        say()
    say("## Verdicts (window, median over reps; every rep in brackets)")
    for scenario in ("fast", "long"):
        window = f"window {scenario}"
        stall = col(window, "stall_max")
        lag = col(window, "lag_max")
        wire = col(window, "wire_max")
        runs = ", ".join(ms(v) for v in stall)
        say(
            f"{scenario}: longest stall {ms(statistics.median(stall))} ms [{runs}], target "
            f"< 50 ms: {'PASS' if statistics.median(stall) < STALL_TARGET else 'FAIL'} "
            f"({sum(1 for v in stall if v >= STALL_TARGET)}/{len(stall)} reps over)"
        )
        runs = ", ".join(ms(v) for v in lag)
        say(
            f"{scenario}: display lag max {ms(statistics.median(lag))} ms [{runs}] (p99 "
            f"{ms(statistics.median(col(window, 'lag_p99')))} ms), target < 100 ms: "
            f"{'PASS' if statistics.median(lag) < LAG_TARGET else 'FAIL'} "
            f"({sum(1 for v in lag if v >= LAG_TARGET)}/{len(lag)} reps over); from the "
            f"stub's write: max {ms(statistics.median(wire))} ms "
            f"({'PASS' if statistics.median(wire) < LAG_TARGET else 'FAIL'})"
        )
    say()
    if replay is not None:
        events = replay["events"]
        cpu = statistics.median(col("window fast", "client_cpu"))
        flush = statistics.median(col("window fast", "flush_total"))
        core_cpu = statistics.median(col("core fast", "client_cpu"))
        decode = replay["core_us"] * events / 1e6
        inspector = replay["inspector_us"] * events / 1e6
        say("## Where the GUI thread's time goes (fast, per stream, medians)")
        say(
            f"GUI thread CPU {cpu:.2f} s for {events:,.0f} events ({cpu / events * 1e6:.0f} "
            f"us/event); the core alone {core_cpu:.2f} s ({core_cpu / events * 1e6:.0f} "
            "us/event) on its thread."
        )
        say(
            f"- session decode + parse (sans-IO replay of the recorded chunks): "
            f"{replay['core_us']:.1f} us/event, {decode:.2f} s"
        )
        say(
            f"- the stream inspector's observer (its own decode, parse, describe, recording): "
            f"{replay['inspector_us']:.1f} us/event, {inspector:.2f} s "
            f"({replay['inspector_us'] / replay['core_us']:.1f}x the session's decode + parse)"
        )
        say(f"- frame flushes (document updates + column layout): {flush:.2f} s")
        say(
            f"- the rest (httpx and loop wake-ups, session, StreamController and "
            f"ChatView.append_text per delta, paint, GC): "
            f"{cpu - decode - inspector - flush:.2f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--long-tokens", type=int, default=2_400)
    args = parser.parse_args(argv)

    import qasync

    from desktop_app.qt.app import create_application
    from desktop_app.qt.gc_guard import GuiThreadCollector

    app = create_application([])
    collector = GuiThreadCollector()  # as the app runs: collection on the GUI thread
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            code = runner.run(run(args, say))
    finally:
        collector.stop()
    del app
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
