"""``streamdesk ask``: one prompt, the answer streamed to stdout as it arrives.

It drives the same core as the window (``core.session.stream_turn`` over one
``StreamingClient``) and only adds the command line: the target (flags or a
saved ``--profile``, ``cli.ask_target``), the history (each exchange is saved
where the window shows it unless ``--no-save``; ``--continue`` and
``--conversation ID`` add to a conversation and send its earlier messages,
``cli.ask_history``), ``--record FILE`` (the wire traffic as a recording,
``core.recording``), what goes to stdout and stderr (``cli.ask_output``),
and exit codes: 0 complete (an answer cut at the token limit too, with a
note), 2 usage, 3 connection or HTTP error (timeouts included), 4
interrupted, protocol or provider error, 130 cancelled (Ctrl-C, or the
reader of stdout went away). Whatever the ending, the partial answer is
saved with its status and the recording is written. Tool calls go to stderr
after the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from desktop_app.cli import EXIT_CANCELLED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TRANSPORT, EXIT_USAGE
from desktop_app.cli.ask_history import AskHistory, UnknownConversation
from desktop_app.cli.ask_output import Printer, print_stats, say, stopped_at_limit
from desktop_app.cli.ask_target import (
    KEY_VARIABLES,
    AskTarget,
    UsageError,
    command_line_text,
    resolve_target,
)
from desktop_app.cli.hints import command_line_hint
from desktop_app.core.errors import ConfigError, SecretStoreError, StreamdeskError, TransportError
from desktop_app.core.events import ReasoningDelta, TextDelta, TurnEnded, TurnState
from desktop_app.core.observer import TurnObserver
from desktop_app.core.providers.anthropic import DEFAULT_MAX_TOKENS
from desktop_app.core.providers.base import ChatMessage, ChatRequest
from desktop_app.core.providers.registry import PROVIDER_NAMES
from desktop_app.core.recording_observer import RecordingObserver

if TYPE_CHECKING:
    from desktop_app.core.session import TurnSettings

__all__ = ["AskTarget", "UsageError", "add_parser", "exit_code", "read_prompt", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask one question and stream the answer to stdout",
        description="Send one prompt and stream the answer to stdout as it arrives. The "
        "exchange is saved in the history the window shows (unless --no-save). "
        "Tool calls the model makes are printed to stderr after the answer, one a line. "
        "Exit codes: 0 complete (also an answer cut at the token limit: the stream ended "
        "normally; a note on stderr says so), 2 usage, 3 connection or HTTP error (a timeout "
        "before any text included), 4 interrupted (part of the answer printed), protocol or "
        "provider error, 130 cancelled.",
        epilog="Terminal safety: the answer is untrusted. Written to a terminal, every escape "
        "sequence and control character except newline and tab is removed; written to a "
        "pipe or file, escape sequences and C1 controls are removed and other bytes kept.",
    )
    parser.add_argument("prompt", nargs="?", help="the prompt (default: read from stdin)")
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="use a saved profile (see `streamdesk profile list`): its server, model, system "
        "prompt and key (environment or system keychain); the options below override it",
    )
    parser.add_argument(
        "--provider", choices=PROVIDER_NAMES, help="wire format (default: openai, or the profile's)"
    )
    parser.add_argument(
        "--base-url",
        help="API base URL (default: the official one for openai and anthropic; "
        "required for generic, where it is the chat URL itself)",
    )
    parser.add_argument("--model", help="model name (required without --profile)")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument(
        "--max-tokens",
        type=_positive_int,
        metavar="N",
        help="the most tokens the answer may have (default: the profile's; else the server's, "
        f"or {DEFAULT_MAX_TOKENS} for anthropic, which needs one). An answer cut at the limit "
        "still exits 0; a note on stderr says so",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key "
        "(default: OPENAI_API_KEY or ANTHROPIC_API_KEY for those providers)",
    )
    history = parser.add_mutually_exclusive_group()
    history.add_argument(
        "--continue",
        dest="continue_latest",
        action="store_true",
        help="add to the most recent conversation (its earlier messages are sent too)",
    )
    history.add_argument(
        "--conversation",
        type=int,
        metavar="ID",
        help="add to this conversation (ids: `streamdesk history list`)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not save this exchange in the history"
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="write the wire traffic (requests, status, headers, body bytes with their timing) "
        "to FILE as a recording for `streamdesk-stub --replay`; API keys are masked",
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


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `streamdesk` builds every subcommand's parser
    # at start, and the window should not pay for httpx before it needs it.
    from desktop_app.core.session import TurnSettings

    stdout, stderr = sys.stdout, sys.stderr
    with contextlib.ExitStack() as cleanup:
        try:
            prompt = read_prompt(args.prompt, sys.stdin)
            target = resolve_target(args, os.environ, stub_url=lambda: _start_stub(cleanup))
            record = _open_record(args.record)
            history = AskHistory.open(
                save=not args.no_save,
                continue_latest=args.continue_latest,
                conversation=args.conversation,
            )
        except (UsageError, UnknownConversation) as exc:
            say(stderr, str(exc))
            return EXIT_USAGE
        except KeyboardInterrupt:  # Ctrl-C while the prompt was being typed on stdin
            say(stderr, "cancelled.")
            return EXIT_CANCELLED
        cleanup.callback(history.close)
        settings = TurnSettings()
        if args.timeout is not None:
            settings = TurnSettings(
                connect_timeout=min(args.timeout, settings.connect_timeout),
                first_token_timeout=args.timeout,
                idle_timeout=args.timeout,
            )
        request = ChatRequest(
            messages=(*history.context(), ChatMessage("user", prompt)),
            model=target.model,
            system=target.system,
            temperature=target.temperature,
            max_tokens=target.max_tokens,
        )
        history.begin(prompt, model=target.model, profile=target.profile)
        for problem in history.problems:
            say(stderr, problem)
        shown = len(history.problems)
        printer = Printer(stdout, stderr, show_reasoning=args.show_reasoning, raw=args.raw)
        recorder = (
            RecordingObserver(secret=target.endpoint.api_key, provider=target.provider.name)
            if record is not None
            else None
        )
        try:
            end = asyncio.run(_ask(target, request, settings, printer, history, recorder))
        except KeyboardInterrupt:
            printer.finish_line()
            _save_record(record, recorder, None, stderr)
            say(stderr, "cancelled.")
            return EXIT_CANCELLED
        except BrokenPipeError:
            # The reader of stdout went away (`| head`): the turn was cancelled.
            # Point stdout at /dev/null so the interpreter's final flush is quiet.
            _save_record(record, recorder, None, stderr)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
            os.close(devnull)
            return EXIT_CANCELLED
        printer.finish_line()
        _save_record(record, recorder, end, stderr)
        for problem in history.problems[shown:]:
            say(stderr, problem)
        if not args.raw:  # --raw showed the calls' events already
            for call in end.tool_calls:
                printer.tool_call(call)
        if end.state is TurnState.COMPLETE and stopped_at_limit(end.metrics):
            printer.limit_note(_token_limit(target, request))
        if args.stats:
            saved = history.conversation_id if history.saving else None
            print_stats(stderr, end.metrics, conversation=saved)
        if end.state is TurnState.COMPLETE:
            return EXIT_OK
        error = end.error
        if isinstance(error, StreamdeskError):
            hint = command_line_hint(
                error,
                saved=history.saving,
                # Read by default only without a profile, and only for these two formats.
                key_variable=None if target.profile else KEY_VARIABLES.get(target.provider.name),
            )
            say(stderr, f"{error} {hint}".strip())
        else:
            say(stderr, f"the answer ended as {end.state.value}.")
        return exit_code(end)
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns


async def _ask(
    target: AskTarget,
    request: ChatRequest,
    settings: TurnSettings,
    printer: Printer,
    history: AskHistory,
    recorder: RecordingObserver | None,
) -> TurnEnded:
    from desktop_app.core.session import stream_turn
    from desktop_app.core.transport import StreamingClient

    observer: TurnObserver = printer.observer
    if recorder is not None:
        observer = _Tee(printer.observer, recorder)
    ticker = asyncio.create_task(_tick(history))
    ended: TurnEnded | None = None
    try:
        # The OS trust store (truststore); the user's proxy settings or the profile's,
        # except for a server on this machine, which a proxy must never capture.
        async with StreamingClient(target.network) as client:
            turn = stream_turn(
                client, target.provider, request, target.endpoint, settings, observer
            )
            try:
                async for event in turn:
                    if isinstance(event, TextDelta):
                        history.text(event.text)
                        printer.text(event.text)
                    elif isinstance(event, ReasoningDelta):
                        history.reasoning(event.text)
                        printer.reasoning(event.text)
                    elif isinstance(event, TurnEnded):
                        ended = event
                        history.finish(event)
                        if recorder is not None:
                            recorder.finish(event)
                        return event
            finally:
                await turn.aclose()  # at once, even on Ctrl-C: the server sees us go
    finally:
        ticker.cancel()
        if ended is None:  # Ctrl-C, or stdout's reader went away: keep what came
            history.abandon(TurnState.CANCELLED)
    raise AssertionError("a turn always ends with TurnEnded")  # pragma: no cover


async def _tick(history: AskHistory) -> None:
    """Save text that arrived and then stalled within a second, as the window does."""
    while True:
        await asyncio.sleep(0.25)
        history.tick()


class _Tee:
    """Two observers as one (``--raw`` and ``--record`` together)."""

    def __init__(self, *observers: TurnObserver) -> None:
        self._observers = observers

    def on_request(
        self, method: str, url: str, headers_masked: Mapping[str, str], body: object
    ) -> None:
        for o in self._observers:
            o.on_request(method, url, headers_masked, body)

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        for o in self._observers:
            o.on_response(status, headers)

    def on_chunk(self, data: bytes, at: float) -> None:
        for o in self._observers:
            o.on_chunk(data, at)

    def on_reconnect(self, url: str, last_event_id: str) -> None:
        for o in self._observers:
            o.on_reconnect(url, last_event_id)

    def on_end(self, state: TurnState) -> None:
        for o in self._observers:
            o.on_end(state)


def _token_limit(target: AskTarget, request: ChatRequest) -> int | None:
    """The max tokens the request carried (``None``: the server's own limit)."""
    body = target.provider.build_request(request, target.endpoint).json
    limit = body.get("max_tokens") if isinstance(body, dict) else None
    return limit if isinstance(limit, int) else None


def exit_code(end: TurnEnded) -> int:
    if end.state is TurnState.COMPLETE:
        return EXIT_OK
    if end.state is TurnState.INTERRUPTED:
        # However it broke (a drop, the idle watchdog after text arrived), part of an
        # answer was printed and saved as interrupted: that is what the caller must know.
        return EXIT_INTERRUPTED
    if isinstance(end.error, ConfigError | SecretStoreError):
        return EXIT_USAGE
    if isinstance(end.error, TransportError):
        return EXIT_TRANSPORT  # refused, DNS, TLS, timeouts, HTTP statuses, not a stream
    return EXIT_INTERRUPTED  # interrupted, protocol or provider error


# ---------------------------------------------------------------- the command line


def read_prompt(argument: str | None, stdin: TextIO | None) -> str:
    """The prompt from argv or stdin; bytes that are not UTF-8 become U+FFFD, quietly."""
    if argument is not None:
        prompt = command_line_text(argument)
    elif stdin is None or stdin.isatty():
        raise UsageError("Give a prompt as an argument, or pipe it in on stdin.")
    else:
        prompt = _read_stdin(stdin)
    if not prompt.strip():
        raise UsageError("The prompt is empty.")
    return prompt


def _read_stdin(stdin: TextIO) -> str:
    # The bytes, not the text layer: a Latin-1 file piped in must not raise
    # (strict decoding) or leave lone surrogates (surrogateescape, under a C locale).
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        return stdin.read()  # already text (a test's StringIO)
    text = bytes(buffer.read()).decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as the text layer did


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _start_stub(cleanup: contextlib.ExitStack) -> str:
    """The bundled stub for the offline demo profile, stopped when the command ends."""
    from server_stub.embedded import start_stub

    stub = start_stub()
    cleanup.callback(stub.stop)
    return stub.url


def _open_record(name: str | None) -> Path | None:
    """Check now that the recording can be written: a typo must not cost a whole answer."""
    if name is None:
        return None
    path = Path(name)
    try:
        with path.open("w", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"--record: {path} cannot be written ({exc.strerror or exc}).") from None
    return path


def _save_record(
    path: Path | None, recorder: RecordingObserver | None, end: TurnEnded | None, stderr: TextIO
) -> None:
    if path is None or recorder is None:
        return
    recorder.finish(end)
    try:
        recorder.save(path)
    except OSError as exc:
        say(stderr, f"the recording could not be written to {path} ({exc.strerror or exc}).")
