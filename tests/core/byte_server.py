"""A raw loopback HTTP/1.1 server that answers with scripted bytes, for faults no real server makes on demand.

Each request gets a ``Reply``: a status, headers and a body script of byte
chunks, pauses and an ending (a clean end, an abrupt close, a TCP reset, or
hanging until the client leaves). The server records every request and
notices when a client goes away, so tests can prove that cancelling a turn
closes the socket. Port 0 on 127.0.0.1 only; stdlib only
(research/ecosystem.md §9: exact control of bytes and faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

Framing = Literal["chunked", "close", "length"]
Ending = Literal["finish", "close", "reset", "hang"]


@dataclass(frozen=True)
class Pause:
    """Wait this many seconds before the next body step."""

    seconds: float


@dataclass
class Reply:
    """What to answer one request with.

    ``framing``: ``chunked`` (each body chunk one HTTP chunk), ``close`` (no
    length; the body ends when the connection closes) or ``length``
    (``Content-Length`` of the whole body). ``ending``: ``finish`` (a proper end),
    ``close`` (FIN without the final chunk: a drop), ``reset`` (RST), ``hang``
    (send nothing more until the client disconnects).
    """

    status: int = 200
    body: Sequence[bytes | Pause] = ()
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/event-stream"),)
    framing: Framing = "chunked"
    ending: Ending = "finish"
    head_delay: float = 0.0  # pause before the status line
    reason: str = "Whatever"


def sse(*frames: str) -> list[bytes]:
    """Encode SSE frames (each already ended by its blank line) as one chunk each."""
    return [frame.encode() for frame in frames]


def openai_delta(text: str) -> str:
    """One OpenAI Chat Completions content chunk, as a whole SSE frame."""
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}) + "\n\n"


OPENAI_DONE = "data: [DONE]\n\n"


def generic_frame(event_id: int | str, text: str) -> str:
    """One generic-format content event with an ``id:`` line."""
    return f"id: {event_id}\ndata: " + json.dumps({"type": "content", "content": text}) + "\n\n"


GENERIC_DONE = 'data: {"type": "done"}\n\n'


def free_port() -> int:
    """A loopback port that was free a moment ago (for "refused, then up" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RecordedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which TCP connection carried it (1-based)


@dataclass
class _Conn:
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    buffer: bytearray = field(default_factory=bytearray)
    gone: asyncio.Event = field(default_factory=asyncio.Event)


class ByteServer:
    """``async with ByteServer(replies) as server:`` then ``server.url("/path")``.

    ``replies`` is a list used in order (one per request; the last repeats)
    or a function of the request.
    """

    def __init__(
        self,
        replies: Sequence[Reply] | Callable[[RecordedRequest], Reply] | Reply,
        *,
        port: int = 0,
    ) -> None:
        if isinstance(replies, Reply):
            replies = [replies]
        self._replies = replies
        self._served = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.disconnects: list[float] = []  # loop times at which clients went away
        self.client_gone = asyncio.Event()  # set at each disconnect; tests may clear it
        self.request_seen = asyncio.Event()  # set at each request

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> ByteServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._server.wait_closed()

    async def wait_disconnect(self, within: float = 2.0) -> float:
        """Wait until a client went away; return the loop time it did."""
        async with asyncio.timeout(within):
            await self.client_gone.wait()
        return self.disconnects[-1]

    # ------------------------------------------------------------ serving

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.get_running_loop().create_task(
            self._serve(_Conn(self.connections, reader, writer))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: _Conn) -> None:
        try:
            while True:
                request = await self._read_request(conn)
                if request is None:
                    break
                self.requests.append(request)
                self.request_seen.set()
                if not await self._answer(conn, self._reply_for(request)):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._gone(conn)
            conn.writer.close()
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()

    def _gone(self, conn: _Conn) -> None:
        if not conn.gone.is_set():
            conn.gone.set()
            self.disconnects.append(asyncio.get_running_loop().time())
            self.client_gone.set()

    def _reply_for(self, request: RecordedRequest) -> Reply:
        if callable(self._replies):
            return self._replies(request)
        index = min(self._served, len(self._replies) - 1)
        self._served += 1
        return self._replies[index]

    async def _read_request(self, conn: _Conn) -> RecordedRequest | None:
        while b"\r\n\r\n" not in conn.buffer:
            data = await conn.reader.read(65536)
            if not data:
                return None
            conn.buffer += data
        head, _, rest = bytes(conn.buffer).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < length:
            data = await conn.reader.read(65536)
            if not data:
                return None
            body += data
        conn.buffer = bytearray(body[length:])
        return RecordedRequest(method, target, headers, bytes(body[:length]), conn.number)

    async def _answer(self, conn: _Conn, reply: Reply) -> bool:
        """Send one reply; True when the connection may carry another request."""
        watcher = asyncio.get_running_loop().create_task(self._watch(conn))
        try:
            return await self._send(conn, reply)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, conn: _Conn) -> None:
        """Notice the client leaving while we are still answering."""
        try:
            data = await conn.reader.read(65536)
        except ConnectionError:
            data = b""
        if data:
            conn.buffer += data  # the next request arrived early: keep it
        else:
            self._gone(conn)

    async def _send(self, conn: _Conn, reply: Reply) -> bool:
        writer = conn.writer
        if reply.head_delay:
            await _pause(conn, reply.head_delay)
        chunks = [step for step in reply.body if isinstance(step, bytes)]
        head = [f"HTTP/1.1 {reply.status} {reply.reason}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
        elif reply.framing == "length":
            head.append(f"Content-Length: {sum(map(len, chunks))}")
        else:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        for step in reply.body:
            if conn.gone.is_set():
                return False
            if isinstance(step, Pause):
                await _pause(conn, step.seconds)
                continue
            if reply.framing == "chunked":
                if step:
                    writer.write(b"%x\r\n%s\r\n" % (len(step), step))
            else:
                writer.write(step)
            await writer.drain()
        if reply.ending == "hang":
            await conn.gone.wait()
            return False
        if reply.ending == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.ending == "close" or reply.framing == "close":
            return False
        if reply.framing == "chunked":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return True


async def _pause(conn: _Conn, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await conn.gone.wait()
