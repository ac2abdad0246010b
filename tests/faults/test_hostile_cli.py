"""Hostile answers through ``streamdesk ask``: nothing drives the terminal, nothing is fetched.

The command runs as a subprocess against a byte server streaming the hostile
answer in small deltas (so escape sequences arrive cut apart). On a terminal
(a pty) every escape sequence, control character and bidirectional override
is removed; piped, escape sequences and C1 controls are removed and the rest
is kept as data. The history keeps the answer exactly as it was sent.
"""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from desktop_app.cli.terminal import TerminalSanitizer, sanitize
from desktop_app.core.paths import APP_NAME, HISTORY_FILE
from desktop_app.core.storage import HistoryStore
from tests.core.byte_server import ByteServer
from tests.faults.hostile import (
    BIDI,
    BIDI_CONTROLS,
    CONTROLS,
    CONTROLS_ON_A_TERMINAL,
    ESCAPES,
    ESCAPES_ON_A_TERMINAL,
    ESCAPES_PIPED,
    answer_reply,
    counting_server,
    markup,
    pieces_of,
)

REPO = Path(__file__).resolve().parents[2]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONIOENCODING"] = "utf-8"
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    return env


async def ask(
    server: ByteServer, env: Mapping[str, str], *, stdout: int | None = None
) -> tuple[int, bytes, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        "ask",
        "hi",
        "--base-url",
        server.url("/v1"),
        "--model",
        "m",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout if stdout is not None else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=REPO,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out or b"", err.decode()


def saved_answer(home: Path) -> str:
    store = HistoryStore.open(home / "data" / APP_NAME / HISTORY_FILE, maintenance=False)
    try:
        conversation = store.list_conversations()[0]
        return store.messages(conversation.id)[-1].text
    finally:
        store.close()


def read_all(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the writing side is closed
            return data
        if not chunk:
            return data
        data += chunk


HOSTILE = ESCAPES + "\n" + CONTROLS + "\n" + BIDI


@pytest.mark.asyncio
async def test_on_a_terminal_no_escape_control_or_bidi_override_gets_through(
    tmp_path: Path,
) -> None:
    primary, secondary = pty.openpty()
    try:
        async with ByteServer(answer_reply(pieces_of(HOSTILE, 3))) as server:
            code, _out, err = await ask(server, environment(tmp_path), stdout=secondary)
        os.close(secondary)
        secondary = -1
        shown = read_all(primary).decode("utf-8")
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert (code, err) == (0, "")
    bidi_shown = "".join(c for c in BIDI if c not in BIDI_CONTROLS)
    expected = ESCAPES_ON_A_TERMINAL + "\n" + CONTROLS_ON_A_TERMINAL + "\n" + bidi_shown + "\n"
    assert shown == expected.replace("\n", "\r\n")  # the pty turns \n into \r\n
    assert not BIDI_CONTROLS.intersection(shown)
    assert saved_answer(tmp_path) == HOSTILE  # the history keeps what was sent


@pytest.mark.asyncio
async def test_piped_escapes_and_c1_are_removed_and_other_bytes_kept(tmp_path: Path) -> None:
    async with ByteServer(answer_reply(pieces_of(HOSTILE, 3))) as server:
        code, out, err = await ask(server, environment(tmp_path))
    assert (code, err) == (0, "")
    controls_piped = CONTROLS.replace("\x85", "")
    assert out.decode("utf-8") == ESCAPES_PIPED + "\n" + controls_piped + "\n" + BIDI
    assert saved_answer(tmp_path) == HOSTILE


@pytest.mark.asyncio
async def test_markup_links_and_images_are_printed_as_text_and_nothing_is_fetched(
    tmp_path: Path,
) -> None:
    with counting_server() as (base, hits):
        answer = markup(base)
        async with ByteServer(answer_reply(pieces_of(answer, 7))) as server:
            code, out, _err = await ask(server, environment(tmp_path))
        await asyncio.sleep(0.2)  # a fetch, if anything made one, would have arrived
        assert hits == []
    assert code == 0
    assert out.decode("utf-8") == answer  # text to a terminal is text: nothing renders it


@pytest.mark.asyncio
async def test_a_single_20_mb_line_is_printed_and_saved_whole(tmp_path: Path) -> None:
    line = "0123456789" * 2_000_000  # one line of 20 MB, no newline anywhere
    reply = answer_reply(pieces_of(line, 1_000_000))
    async with ByteServer(reply) as server:
        code, out, err = await ask(server, environment(tmp_path))
    assert (code, err) == (0, "")
    assert len(out) == 20_000_000
    assert out == line.encode()
    assert saved_answer(tmp_path) == line


@pytest.mark.parametrize("strict", [True, False])
def test_bidi_controls_are_dropped_on_a_terminal_even_split_across_pieces(strict: bool) -> None:
    text = "x" + BIDI + "\u202e"  # a lone override at the very end, too
    for size in (1, 2, 5, len(text)):
        sanitizer = TerminalSanitizer(strict=strict)
        out = "".join(sanitizer.feed(piece) for piece in pieces_of(text, size))
        if strict:
            assert out == "".join(c for c in text if c not in BIDI_CONTROLS)
        else:
            assert out == text  # piped: data, kept as sent
    # Right-to-left text itself is untouched (only the invisible reordering controls go).
    assert sanitize("שלום عربي \u200f!", strict=True) == "שלום عربي \u200f!"
