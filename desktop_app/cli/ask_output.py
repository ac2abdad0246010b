"""What ``streamdesk ask`` writes: the answer to stdout, the rest to stderr, safely.

Owns ``Printer`` (text, reasoning to stderr with ``--show-reasoning``, the
end of the line, then the tool calls and the token-limit note on stderr),
``RawPrinter`` (``--raw``: every decoded SSE event), ``print_stats`` and the
one-line reasons on stderr. Model output is untrusted: to a terminal every
control sequence is removed; to a pipe, escape sequences and C1 controls are
(``cli.terminal``).

Must not: decide exit codes or talk to the network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TextIO

from desktop_app.cli.terminal import TerminalSanitizer
from desktop_app.core.errors import StreamdeskError
from desktop_app.core.events import ToolCall, TurnMetrics
from desktop_app.core.observer import NullObserver
from desktop_app.core.sse import ServerSentEvent, SSEDecoder

DIM, RESET = "\x1b[2m", "\x1b[0m"
PREFIX = "streamdesk ask: "  # every line on stderr but the stats and the reasoning
# The finish reasons that mean "cut at max tokens" (OpenAI and generic, Anthropic).
LENGTH_REASONS = frozenset({"length", "max_tokens"})


class Printer:
    """Writes the answer (or the raw events) to stdout and the rest to stderr, safely."""

    def __init__(self, stdout: TextIO, stderr: TextIO, *, show_reasoning: bool, raw: bool) -> None:
        self._out = stdout
        self._err = stderr
        self._out_tty = _isatty(stdout)
        self._err_tty = _isatty(stderr)
        self._clean_out = TerminalSanitizer(strict=self._out_tty)
        self._clean_err = TerminalSanitizer(strict=self._err_tty)
        self._show_reasoning = show_reasoning
        self._raw = raw
        self._last_out = "\n"
        self._in_reasoning = False
        self.observer: NullObserver = RawPrinter(self) if raw else NullObserver()
        for stream in (stdout, stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="replace")  # a non-UTF-8 terminal must not crash us

    def text(self, text: str) -> None:
        if not self._raw:
            self._write_out(text)

    def reasoning(self, text: str) -> None:
        if not self._show_reasoning or not text:
            return
        clean = self._clean_err.feed(text)
        if self._err_tty and not self._in_reasoning:
            clean = DIM + clean
        self._in_reasoning = True
        self._err.write(clean)
        self._err.flush()

    def raw_event(self, lines: list[str]) -> None:
        self._write_out("\n".join(lines) + "\n\n")

    def _write_out(self, text: str) -> None:
        self._end_reasoning()
        clean = self._clean_out.feed(text)
        if clean:
            self._out.write(clean)
            self._out.flush()  # each delta as it arrives
            self._last_out = clean

    def _end_reasoning(self) -> None:
        if self._in_reasoning:
            self._in_reasoning = False
            self._err.write((RESET if self._err_tty else "") + "\n")
            self._err.flush()

    def tool_call(self, call: ToolCall) -> None:
        """``tool call: name(arguments)`` on one line of stderr; name and arguments are untrusted."""
        self._end_reasoning()
        name = " ".join((call.name or "(unnamed)").split())
        line = f"tool call: {name}({one_line_arguments(call.arguments)})"
        self._err.write(PREFIX + TerminalSanitizer(strict=self._err_tty).feed(line) + "\n")
        self._err.flush()

    def limit_note(self, max_tokens: int | None) -> None:
        """The answer is complete as far as the stream goes, but the model was cut short."""
        limit = f" (max tokens {max_tokens})" if max_tokens is not None else ""
        self._err.write(
            f"{PREFIX}note: the answer stopped at the token limit{limit}; "
            "ask with --max-tokens for more.\n"
        )
        self._err.flush()

    def finish_line(self) -> None:
        """End the output cleanly: the shell prompt must not follow the answer on its line."""
        self._end_reasoning()
        if self._out_tty and not self._last_out.endswith("\n"):
            self._out.write("\n")
            self._last_out = "\n"
        self._out.flush()


class RawPrinter(NullObserver):
    """``--raw``: decodes the bytes of each response again and prints every event."""

    def __init__(self, printer: Printer) -> None:
        self._printer = printer
        self._decoder = SSEDecoder(record_frames=True)

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        self._decoder.flush()  # a new response (a retry, a resume) starts a fresh parse

    def on_chunk(self, data: bytes, at: float) -> None:
        try:
            self._decoder.feed(data)
        except StreamdeskError:
            return  # the session reports the same failure
        for frame in self._decoder.take_frames():
            event = frame.event
            self._printer.raw_event(list(frame.lines) if event is None else format_event(event))


def format_event(event: ServerSentEvent) -> list[str]:
    lines = [f"event: {event.event}"]
    if event.id:
        lines.append(f"id: {event.id}")
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    lines += [f"data: {line}" for line in event.data.split("\n")]
    return lines


def print_stats(stderr: TextIO, m: TurnMetrics, *, conversation: int | None = None) -> None:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f} s"

    rate = m.tokens_per_second
    tokens = "-" if m.output_tokens is None else str(m.output_tokens)
    if m.output_tokens is not None:
        tokens += " (counted)" if m.tokens_counted else " (server)"
    rows = [
        ("outcome", m.outcome.value),
        ("finish reason", m.finish_reason or "-"),
        ("time to first byte", seconds(m.time_to_first_byte)),
        ("time to first token", seconds(m.time_to_first_token)),
        ("total time", seconds(m.total_time)),
        ("input tokens", "-" if m.input_tokens is None else str(m.input_tokens)),
        ("output tokens", tokens),
        ("tokens/s", "-" if rate is None else f"{rate:.1f}"),
        ("attempts", str(m.attempts)),
        ("reconnects", str(m.reconnects)),
    ]
    if conversation is not None:
        rows.append(("saved in conversation", str(conversation)))
    stderr.write("".join(f"{name}: {value}\n" for name, value in rows))
    stderr.flush()


def stopped_at_limit(metrics: TurnMetrics) -> bool:
    return metrics.finish_reason in LENGTH_REASONS


def one_line_arguments(arguments: str) -> str:
    """A tool call's arguments on one line: as sent when they are; else JSON re-encoded on
    one line (the strings unchanged); else, not JSON, with each whitespace run as one space."""
    lines = arguments.splitlines()
    if len(lines) <= 1:
        return lines[0] if lines else ""
    try:
        value = json.loads(arguments)
    except ValueError:
        return " ".join(arguments.split())
    one_line = json.dumps(value, ensure_ascii=False)  # escapes \n and \r, not these two:
    return one_line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def say(stderr: TextIO, sentence: str) -> None:
    """One line on stderr: ``streamdesk ask: <sentence>`` (sanitised)."""
    one_line = " ".join(sentence.split())
    stderr.write(f"{PREFIX}{TerminalSanitizer(strict=True).feed(one_line)}\n")
    stderr.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
