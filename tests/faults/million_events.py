"""A million tiny events through the core, in a clean process: ``python -m tests.faults.million_events N``.

A byte server on loopback streams ``N`` generic-format events of two
characters each (64 KB per write) and ``core.session.stream_turn`` reads them
through the real transport, as the apps do. The consumer keeps nothing, so
what grows is what the core keeps. It prints one JSON line: the events and
text received, how the turn ended, the wire payload and the growth of the
process's peak resident memory during the turn (``ru_maxrss``; a fresh
process, so memory freed by earlier work cannot hide growth).
tracemalloc would cost a minute here; ``test_hostile_core`` also measures a
smaller run with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys

from desktop_app.core.events import TextDelta, TurnEnded
from desktop_app.core.network import NetworkSettings
from desktop_app.core.providers import get_provider
from desktop_app.core.providers.base import ChatMessage, ChatRequest, Endpoint
from desktop_app.core.session import TurnSettings, stream_turn
from desktop_app.core.transport import StreamingClient
from tests.core.byte_server import GENERIC_DONE, ByteServer, Reply

EVENT = b"data: ab\n\n"


def body(count: int) -> tuple[list[bytes], int]:
    """The stream as 64 KB writes (one chunk object repeated) and its size in bytes."""
    per = 65536 // len(EVENT)
    chunk = EVENT * per
    parts = [chunk] * (count // per) + [EVENT * (count % per), GENERIC_DONE.encode()]
    return parts, sum(map(len, parts))


async def run(url: str, client: StreamingClient) -> tuple[int, int, TurnEnded]:
    request = ChatRequest(messages=(ChatMessage("user", "many"),), model="m")
    settings = TurnSettings(first_token_timeout=60, idle_timeout=60)
    deltas = chars = 0
    end: TurnEnded | None = None
    turn = stream_turn(client, get_provider("generic"), request, Endpoint(url), settings)
    async with contextlib.aclosing(turn):
        async for event in turn:
            if isinstance(event, TextDelta):
                deltas += 1
                chars += len(event.text)
            elif isinstance(event, TurnEnded):
                end = event
    assert end is not None
    return deltas, chars, end


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


async def main(count: int) -> dict[str, object]:
    parts, payload = body(count)
    warm_up, _ = body(1000)
    async with (
        ByteServer([Reply(body=warm_up), Reply(body=parts)]) as server,
        StreamingClient(NetworkSettings(trust_env=False), trust_env=False) as client,
    ):
        await run(server.url("/chat"), client)  # imports, buffers, the pool: warm
        before = peak_kb()
        deltas, chars, end = await run(server.url("/chat"), client)
        growth = (peak_kb() - before) * 1024
    return {
        "deltas": deltas,
        "chars": chars,
        "state": end.state.value,
        "text_length": len(end.text),
        "payload": payload,
        "peak_growth": growth,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))
