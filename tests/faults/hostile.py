"""Hostile answers for the hostile-input tests, and the servers that send them.

Model output and server data are untrusted. Each answer here is something a
server could send to hurt the user: markup that would run or fetch, links to
other schemes, terminal escapes, control characters, bidirectional overrides,
sizes and shapes that exhaust a renderer. ``answer_reply`` streams any text
as an OpenAI-format answer (raw UTF-8 in the JSON, split into small deltas
that cut sequences apart); ``CountingServer`` is a loopback HTTP server that
records every request it gets, so "nothing is fetched" is "zero hits".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.core.byte_server import OPENAI_DONE, Reply

# Terminal escapes: clear screen, window title, clipboard write (OSC 52), a
# hyperlink (OSC 8), device status report (answers back into the input), DCS,
# 8-bit CSI and OSC, a bare CR that would overwrite the line, BEL, backspace.
ESCAPES = (
    "A\x1b[2J\x1b[H"
    "B\x1b]0;pwned\x07"
    "C\x1b]52;c;cm0gLXJmIH4=\x1b\\"
    "D\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"
    "E\x1b[6n"
    "F\x1bP+q544e\x1b\\"
    "G\x9b31m\x9d0;t\x9c"
    "H\rI\x07J\x08K"
)
ESCAPES_ON_A_TERMINAL = "ABCDlinkEFGHIJK"  # strict: every control and sequence removed
ESCAPES_PIPED = "ABCDlinkEFGH\rI\x07J\x08K"  # piped: sequences and C1 removed, C0 kept as data

CONTROLS = "nul\x00 bell\x07 vt\x0b ff\x0c del\x7f nel\x85 end"
CONTROLS_ON_A_TERMINAL = "nul bell vt ff del nel end"

# Bidirectional controls that reorder what a terminal shows (Trojan Source, CVE-2021-42574).
BIDI = "safe \u202eevil\u202c \u2066iso\u2069 \u202dltr\u202c \u202aemb\u202c \u2067r\u2069 \u2068f\u2069 ok"
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def markup(base: str) -> str:
    """Raw HTML, script, other-scheme links and images pointing at ``base`` (a counting server)."""
    return (
        "# Hostile markup\n\n"
        "<script>fetch('" + base + "/script')</script>\n\n"
        f'<img src="{base}/raw-img.png" onerror="alert(1)">\n\n'
        f'<iframe src="{base}/iframe"></iframe>\n\n'
        f'<a href="javascript:alert(1)">raw js</a> <b onclick="alert(2)">bold?</b>\n\n'
        "[js link](javascript:alert(document.cookie)) "
        "[file link](file:///etc/passwd) "
        "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) "
        "[vbscript](vbscript:msgbox) "
        f"[fine link]({base}/clicked-only)\n\n"
        f"![remote image](http://tracker.invalid/pixel.png)\n\n"
        f"![loopback image]({base}/md-image.png)\n\n"
        f"[![nested image]({base}/nested.png)]({base}/nested-link)\n\n"
        f'<p style="background:url({base}/css.png)">styled</p>\n\n'
        f"<link rel=stylesheet href={base}/style.css>\n\n"
        "```html\n<script>alert('in code')</script>\n```\n"
    )


def nested(depth: int) -> str:
    """Quotes, lists, ordered lists and both interleaved, each ``depth`` levels deep.

    CommonMark nests a container on one line (``> > x``, ``- - x``), so the
    text grows linearly with the depth.
    """
    return (
        "> " * depth
        + "deep quote\n\n"
        + "- " * depth
        + "deep item\n\n"
        + "1. " * depth
        + "deep number\n\n"
        + "> - " * (depth // 2)
        + "deep mix\n\nthe end"
    )


def pieces_of(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def openai_frame(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    data = json.dumps({"object": "chat.completion.chunk", "choices": [choice]}, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def answer_reply(pieces: list[str], *, per_chunk: int = 1) -> Reply:
    """An OpenAI stream of ``pieces`` (``per_chunk`` events per write), then ``[DONE]``."""
    frames = [openai_frame(p) for p in pieces]
    chunks = [b"".join(frames[i : i + per_chunk]) for i in range(0, len(frames), per_chunk)]
    return Reply(body=[*chunks, OPENAI_DONE.encode()])


class _Counting(BaseHTTPRequestHandler):
    hits: list[str]

    def _hit(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _hit

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet test output


@contextmanager
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server in a thread: ``(base URL, requests seen)``."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
