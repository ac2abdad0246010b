"""``streamdesk ask``: one prompt, the answer streamed to stdout as it arrives.

It drives the same core as the window (``core.session.stream_turn`` over one
``StreamingClient``) and only adds the command line: where the key comes from,
what goes to stdout (the answer, or with ``--raw`` each decoded SSE event) and
stderr (reasoning with ``--show-reasoning``, ``--stats``, the one-line reason
for a failure), terminal safety, and exit codes:
0 complete, 2 usage, 3 connection or HTTP error (timeouts included),
4 interrupted, protocol or provider error, 130 cancelled (Ctrl-C, or the
reader of stdout went away).

Model output is untrusted: to a terminal every control sequence is removed;
to a pipe, escape sequences and C1 controls are (``cli.terminal``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from desktop_app.cli import EXIT_CANCELLED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TRANSPORT, EXIT_USAGE
from desktop_app.cli.terminal import TerminalSanitizer
from desktop_app.core.errors import ConfigError, StreamdeskError, TransportError
from desktop_app.core.events import ReasoningDelta, TextDelta, TurnEnded, TurnMetrics, TurnState
from desktop_app.core.observer import NullObserver
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint, Provider
from desktop_app.core.providers.registry import PROVIDER_NAMES, get_provider
from desktop_app.core.sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from desktop_app.core.session import TurnSettings

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
}
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# The official hosts always want a key: asking without one is a usage error, not a 401.
OFFICIAL_HOSTS = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}

DIM, RESET = "\x1b[2m", "\x1b[0m"


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask one question and stream the answer to stdout",
        description="Send one prompt and stream the answer to stdout as it arrives. "
        "Exit codes: 0 complete, 2 usage, 3 connection or HTTP error (timeouts included), "
        "4 interrupted, protocol or provider error, 130 cancelled.",
        epilog="Terminal safety: the answer is untrusted. Written to a terminal, every escape "
        "sequence and control character except newline and tab is removed; written to a "
        "pipe or file, escape sequences and C1 controls are removed and other bytes kept.",
    )
    parser.add_argument("prompt", nargs="?", help="the prompt (default: read from stdin)")
    parser.add_argument(
        "--provider", choices=PROVIDER_NAMES, default="openai", help="wire format (default: openai)"
    )
    parser.add_argument(
        "--base-url",
        help="API base URL (default: the official one for openai and anthropic; "
        "required for generic, where it is the chat URL itself)",
    )
    parser.add_argument("--model", help="model name (required)")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key "
        "(default: OPENAI_API_KEY or ANTHROPIC_API_KEY for those providers)",
    )
    parser.add_argument("--stats", action="store_true", help="print the turn's metrics to stderr")
    parser.add_argument(
        "--raw", action="store_true", help="print each decoded SSE event instead of the text"
    )
    parser.add_argument(
        "--show-reasoning", action="store_true", help="print the model's reasoning to stderr"
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="seconds to wait for the first token, and for each next one (default: 90 and 120)",
    )


@dataclass(frozen=True, slots=True)
class AskTarget:
    """Everything a turn needs, resolved from the command line.

    Saved profiles and the keychain plug in here (``--profile NAME`` fills
    the fields the flags leave out); the flags always win.
    """

    provider: Provider
    endpoint: Endpoint
    model: str


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `streamdesk` builds every subcommand's parser
    # at start, and the window should not pay for httpx before it needs it.
    from desktop_app.core.session import TurnSettings

    stdout, stderr = sys.stdout, sys.stderr
    try:
        target = resolve_target(args, os.environ)
        prompt = read_prompt(args.prompt, sys.stdin)
    except UsageError as exc:
        _reason(stderr, str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C while the prompt was being typed on stdin
        _reason(stderr, "cancelled.")
        return EXIT_CANCELLED
    settings = TurnSettings()
    if args.timeout is not None:
        settings = TurnSettings(
            connect_timeout=min(args.timeout, settings.connect_timeout),
            first_token_timeout=args.timeout,
            idle_timeout=args.timeout,
        )
    request = ChatRequest(
        messages=(ChatMessage("user", prompt),), model=target.model, system=args.system
    )
    printer = Printer(stdout, stderr, show_reasoning=args.show_reasoning, raw=args.raw)
    try:
        end = asyncio.run(_ask(target, request, settings, printer))
    except KeyboardInterrupt:
        printer.finish_line()
        _reason(stderr, "cancelled.")
        return EXIT_CANCELLED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): the turn was cancelled.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
        return EXIT_CANCELLED
    printer.finish_line()
    if args.stats:
        print_stats(stderr, end.metrics)
    if end.state is TurnState.COMPLETE:
        return EXIT_OK
    error = end.error
    if isinstance(error, StreamdeskError):
        _reason(stderr, f"{error} {error.hint}".strip())
    else:
        _reason(stderr, f"the answer ended as {end.state.value}.")
    return exit_code(end)


async def _ask(
    target: AskTarget, request: ChatRequest, settings: TurnSettings, printer: Printer
) -> TurnEnded:
    from desktop_app.core.network import NetworkSettings, is_loopback
    from desktop_app.core.session import stream_turn
    from desktop_app.core.transport import StreamingClient

    # The OS trust store (truststore), and the user's HTTPS_PROXY / NO_PROXY as in any
    # CLI, except for a server on this machine, which a proxy must never capture.
    # (With profiles: core.network.network_settings(profile, base_url).)
    network = NetworkSettings(trust_env=not is_loopback(target.endpoint.base_url))
    async with StreamingClient(network) as client:
        turn = stream_turn(
            client, target.provider, request, target.endpoint, settings, printer.observer
        )
        try:
            async for event in turn:
                if isinstance(event, TextDelta):
                    printer.text(event.text)
                elif isinstance(event, ReasoningDelta):
                    printer.reasoning(event.text)
                elif isinstance(event, TurnEnded):
                    return event
        finally:
            await turn.aclose()  # at once, even on Ctrl-C: the server sees us go
    raise AssertionError("a turn always ends with TurnEnded")  # pragma: no cover


def exit_code(end: TurnEnded) -> int:
    if end.state is TurnState.COMPLETE:
        return EXIT_OK
    if isinstance(end.error, ConfigError):
        return EXIT_USAGE
    if isinstance(end.error, TransportError):
        return EXIT_TRANSPORT  # refused, DNS, TLS, timeouts, HTTP statuses, not a stream
    return EXIT_INTERRUPTED  # interrupted, protocol or provider error


# ---------------------------------------------------------------- resolving the command line


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> AskTarget:
    """Provider, endpoint (with the key) and model from the flags and the environment."""
    provider = get_provider(args.provider)
    base_url = args.base_url or DEFAULT_BASE_URLS.get(args.provider)
    if not base_url:
        raise UsageError(f"--base-url is required with --provider {args.provider}.")
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise UsageError(f"--base-url must start with http:// or https:// (got {base_url!r}).")
    if not args.model:
        raise UsageError("--model is required (the model name the server knows).")
    return AskTarget(
        provider=provider,
        endpoint=Endpoint(base_url, api_key=_api_key(args, base_url, environ)),
        model=args.model,
    )


def _api_key(args: argparse.Namespace, base_url: str, environ: Mapping[str, str]) -> str | None:
    variable = args.api_key_env or KEY_VARIABLES.get(args.provider)
    key = (environ.get(variable) or "").strip() if variable else ""
    if args.api_key_env and not key:
        raise UsageError(f"The environment variable {args.api_key_env} is not set or is empty.")
    official = OFFICIAL_HOSTS.get(args.provider)
    if not key and official and urlsplit(base_url).hostname == official:
        raise UsageError(
            f"No API key: set {variable} (or name another variable with --api-key-env)."
        )
    return key or None


def read_prompt(argument: str | None, stdin: TextIO) -> str:
    if argument is not None:
        prompt = argument
    elif stdin is None or stdin.isatty():
        raise UsageError("Give a prompt as an argument, or pipe it in on stdin.")
    else:
        prompt = stdin.read()
    if not prompt.strip():
        raise UsageError("The prompt is empty.")
    return prompt


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


# ---------------------------------------------------------------- output


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


def print_stats(stderr: TextIO, m: TurnMetrics) -> None:
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
    stderr.write("".join(f"{name}: {value}\n" for name, value in rows))
    stderr.flush()


def _reason(stderr: TextIO, sentence: str) -> None:
    one_line = " ".join(sentence.split())
    stderr.write(f"streamdesk ask: {TerminalSanitizer(strict=True).feed(one_line)}\n")
    stderr.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
