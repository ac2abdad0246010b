"""A response body that is not the answer's event stream, read so the turn's observer sees it.

An error status's body (the server's JSON error, a proxy's HTML page), a 2xx
body that is not ``text/event-stream``, and the generic two-step's reply are
read here, bounded like ``HttpStream.read_body`` (64 KiB), each chunk handed
to the observer as it arrives: a recording keeps it (a replay sends it back),
and the stream inspector shows it. ``status_error`` then turns an error
status and its body into the typed error, as ``HttpStream.status_error`` does.

Must not: import httpx (``core.transport`` does the network) or yield.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from desktop_app.core.errors import HTTPStatusError, StreamdeskError
from desktop_app.core.http_errors import error_for_status
from desktop_app.core.observer import TurnObserver
from desktop_app.core.transport import ERROR_BODY_LIMIT, HttpStream


async def read_observed(
    stream: HttpStream,
    observer: TurnObserver,
    clock: Callable[[], float],
    limit: int = ERROR_BODY_LIMIT,
) -> bytes:
    """Up to ``limit`` bytes of the body, each chunk reported to ``observer`` on arrival.

    A connection lost mid-body keeps what arrived (the status already says
    what went wrong). Bytes past ``limit`` are neither kept nor reported.
    """
    parts: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = await stream.next_chunk()
            if not chunk:
                break
            chunk = chunk[: limit - size]
            observer.on_chunk(chunk, clock())
            parts.append(chunk)
            size += len(chunk)
    except StreamdeskError:
        pass
    return b"".join(parts)


def status_error(
    stream: HttpStream,
    body: bytes,
    error_message: Callable[[str], str],
    *,
    secret: str | None,
) -> HTTPStatusError:
    """The typed error for a non-2xx ``stream`` whose body was ``body``."""
    text = body.decode("utf-8", "replace")
    try:
        server_message = error_message(text)
    except Exception:  # a provider bug must not hide the HTTP status
        server_message = ""
    return error_for_status(
        stream.status,
        stream.headers,
        body=text,
        server_message=server_message,
        url=stream.url,
        now=time.time(),
        secret=secret,
    )
