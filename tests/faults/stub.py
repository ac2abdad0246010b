"""The bundled stub for the fault matrix: unpaced by default, paced per request by URL.

The stub paces answers by scenario (``long`` streams at 400 tokens/s for 75 s,
``slow_first_token`` waits 8 s), and only ``X-Stub-*`` request headers
override a scenario's pace. ``streamdesk ask`` cannot send extra headers, so
this wraps the stub's ASGI app in a middleware that turns a URL prefix into
those headers: ``{url}/pace/first=0.6,keepalive=0.2/v1`` is the stub's
``/v1`` with ``X-Stub-First-Token-Delay: 0.6`` and
``X-Stub-Keepalive-Interval: 0.2``. Without a prefix every request gets
``X-Stub-Tokens-Per-Second: 0`` (as fast as the socket takes them), so every
scenario keeps its shape (where it stalls, drops, errs) and the matrix stays
fast. The stub's own code is untouched: this only uses its documented headers.

The server runs in a daemon thread on port 0 (``server_stub.embedded``'s
pieces), one per test module.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from server_stub.app import create_app
from server_stub.embedded import bind, make_server, url_of
from server_stub.settings import StubSettings

PACE_HEADERS = {
    "tps": b"x-stub-tokens-per-second",
    "first": b"x-stub-first-token-delay",
    "keepalive": b"x-stub-keepalive-interval",
    "stall": b"x-stub-stall-seconds",
}
DEFAULT_PACE = {"tps": "0"}


class PaceFromPath:
    """ASGI middleware: ``/pace/k=v,k=v/rest`` becomes ``/rest`` plus ``X-Stub-*`` headers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state  # make_server and tests read the stub's state here

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            pace = dict(DEFAULT_PACE)
            if path.startswith("/pace/"):
                _, _, spec, rest = path.split("/", 3)
                for item in filter(None, spec.split(",")):
                    name, _, value = item.partition("=")
                    pace[name] = value
                path = "/" + rest
            names = {name for name, _ in scope["headers"]}
            extra = [
                (PACE_HEADERS[k], v.encode())
                for k, v in pace.items()
                if PACE_HEADERS[k] not in names
            ]
            scope = dict(
                scope, path=path, raw_path=path.encode(), headers=[*scope["headers"], *extra]
            )
        await self.app(scope, receive, send)


@dataclass
class FaultStub:
    url: str
    state: Any  # server_stub.state.StubState: counters readable from any thread

    def base(self, path: str = "/v1", **pace: float) -> str:
        """The URL of ``path`` with ``pace`` overrides (``first=0.6, keepalive=0.2``)."""
        if not pace:
            return self.url + path
        spec = ",".join(f"{k}={v:g}" for k, v in pace.items())
        return f"{self.url}/pace/{spec}{path}"

    def full_answer(self, prompt: str, model: str) -> str:
        """The whole answer to ``prompt`` for a model (non-streamed), to compare with."""
        body = json.dumps(
            {"model": model, "stream": False, "messages": [{"role": "user", "content": prompt}]}
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=20) as response:
            document = json.loads(response.read())
        content = document["choices"][0]["message"]["content"]
        assert isinstance(content, str)
        return content


@contextmanager
def fault_stub() -> Iterator[FaultStub]:
    """A stub on 127.0.0.1 port 0, serving until the block ends."""
    settings = StubSettings(tokens_per_second=0.0, first_token_delay=0.0, keepalive_interval=0.0)
    app = PaceFromPath(create_app(settings))
    sock = bind("127.0.0.1", 0)
    server = make_server(app, embedded=True)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # uvicorn exits via SystemExit on startup errors
            errors.append(exc)

    thread = threading.Thread(target=serve, name="fault-stub", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the stub did not start: {errors!r}")
        time.sleep(0.005)
    try:
        yield FaultStub(url_of(sock), app.state.stub)
    finally:
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(10)
        sock.close()
