"""The ``streamdesk-stub`` command: run the mock server as a process.

Owns argument parsing, the loopback-only default, and printing the URL (first line of stdout,
flushed, with the real port when ``--port 0``) so scripts and tests can read it. The URL is one a
client can use: for the wildcard hosts (0.0.0.0, ::) it names loopback, and stderr says which
interface the server really listens on.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from collections.abc import Sequence

from server_stub import scenarios
from server_stub.settings import StubSettings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    defaults = StubSettings()
    p = argparse.ArgumentParser(
        prog="streamdesk-stub",
        description="A mock OpenAI / Anthropic / generic SSE server with scripted faults.",
        epilog="Per request: headers X-Stub-Scenario, X-Stub-Tokens-Per-Second, "
        "X-Stub-First-Token-Delay, X-Stub-Keepalive-Interval, X-Stub-Stall-Seconds; a model "
        "named stub-NAME; or a message starting '/scenario NAME'. Pacing precedence: header > "
        "the scenario's own pace (e.g. slow_first_token's 8 s) > these options.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument(
        "--scenario", default=defaults.scenario, help="default scenario for every request"
    )
    p.add_argument(
        "--tokens-per-second",
        type=_non_negative,
        default=defaults.tokens_per_second,
        help="token pace (0: as fast as possible; default %(default)s)",
    )
    p.add_argument(
        "--first-token-delay",
        type=_non_negative,
        default=defaults.first_token_delay,
        help="seconds before the first token (default %(default)s)",
    )
    p.add_argument(
        "--keepalive-interval",
        type=_non_negative,
        default=defaults.keepalive_interval,
        help="seconds of silence before a ': keep-alive' comment (0: never; default %(default)s)",
    )
    p.add_argument("--stall-seconds", type=_non_negative, default=None, help="length of stalls")
    p.add_argument("--api-key", default=None, help="require this key, checked like each service")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host to be a non-loopback interface (anyone on the network can connect)",
    )
    p.add_argument(
        "--replay",
        metavar="FILE",
        help="serve this recording (from `streamdesk ask --record` or the stream inspector) on "
        "its recorded method and path, for any request body; other paths work as usual",
    )
    p.add_argument(
        "--speed",
        type=_non_negative,
        default=1.0,
        metavar="X",
        help="replay pacing: 1 as recorded, 2 twice as fast, 0 as fast as possible (default 1)",
    )
    p.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_scenarios:
        rows = scenarios.describe_all()
        width = max(len(name) for name, _ in rows)
        for name, text in rows:
            print(f"{name:<{width}}  {text}")
        return 0
    found = scenarios.lookup(args.scenario)
    if found is None:
        known = ", ".join(scenarios.SCENARIOS)
        print(
            f"streamdesk-stub: unknown scenario {args.scenario!r}; known: {known}", file=sys.stderr
        )
        return 2
    if not _is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"streamdesk-stub: refusing to listen on {args.host}, which is not loopback; "
                "add --allow-remote if you mean it",
                file=sys.stderr,
            )
            return 2
        shown = f"[{args.host}]" if ":" in args.host and "[" not in args.host else args.host
        print(
            f"streamdesk-stub: WARNING: listening on {shown}: anyone who can reach this "
            "interface can use the server",
            file=sys.stderr,
        )
    # Imported here so --list-scenarios and --help stay fast.
    from server_stub.app import create_app
    from server_stub.embedded import bind, interface_of, make_server, url_of

    settings = StubSettings(
        scenario=found.name,
        tokens_per_second=args.tokens_per_second,
        first_token_delay=args.first_token_delay,
        keepalive_interval=args.keepalive_interval,
        stall_seconds=args.stall_seconds,
        api_key=args.api_key,
    )
    app = create_app(settings)
    if args.replay is not None:
        from server_stub import replay

        problem = replay.configure(app, args)
        if problem is not None:
            print(f"streamdesk-stub: {problem}", file=sys.stderr)
            return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"streamdesk-stub: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    server = make_server(app, embedded=False)
    url = url_of(sock)
    print(url, flush=True)
    if not _is_loopback(args.host):
        print(
            f"streamdesk-stub: listening on {interface_of(sock)}; {url} reaches it from this "
            "machine, other machines use this machine's address with that port",
            file=sys.stderr,
        )
    doing = f"scenario {found.name}, {settings.tokens_per_second:g} tokens/s"
    if args.replay is not None:
        doing = f"replaying {args.replay} at speed {args.speed:g}; otherwise {doing}"
    print(f"streamdesk-stub: {doing}; Ctrl+C to stop", file=sys.stderr, flush=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
