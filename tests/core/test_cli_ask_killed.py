"""``streamdesk ask`` killed with SIGKILL mid-stream: the history keeps what was said.

The real command runs as a subprocess against the real stub (uvicorn on a
loopback port) streaming its ``long`` answer. Once the answer is on stdout
and checkpointed in the database, the process gets SIGKILL: no ``finally``,
no atexit, the WAL left as it was. The file must then pass SQLite's own
``PRAGMA integrity_check`` before anything of ours touches it, and opening it
with ``HistoryStore`` (crash recovery) must show the partial answer marked
interrupted, a prefix of what the user saw, at most about a checkpoint
interval (one second) short of it.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from bisect import bisect_right
from pathlib import Path

import pytest

from desktop_app.cli.ask_history import CHECKPOINT_INTERVAL
from desktop_app.core import paths
from desktop_app.core.storage import HistoryStore, MessageStatus
from desktop_app.core.storage.history import INTERRUPTED_BY_EXIT
from server_stub.embedded import start_stub
from tests.core.storage_helpers import integrity
from tests.core.test_cli_ask_history import start_ask

# How much later than the text a checkpoint may be, beyond the interval itself:
# the CLI's quarter-second tick, scheduling on a shared CPU, our own read lag.
SLACK = 1.0


class Timeline:
    """Every chunk the subprocess printed, with when it reached us."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.sizes: list[int] = []  # bytes printed so far, after each chunk
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        self.times.append(time.monotonic())
        self.sizes.append(len(self.data))

    def printed_by(self, moment: float) -> int:
        """Bytes that had reached us at ``moment`` (a lower bound on what was printed)."""
        index = bisect_right(self.times, moment)
        return self.sizes[index - 1] if index else 0


async def read_all(stream: asyncio.StreamReader, timeline: Timeline) -> None:
    while chunk := await stream.read(65536):
        timeline.add(chunk)


def streamed_answer(path: Path) -> tuple[str, str] | None:
    """The answer's (status, text) as the file shows it now, read-only; None before it exists."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute(
            "SELECT status, text FROM messages WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return None
    finally:
        conn.close()
    return (row[0], row[1]) if row else None


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.asyncio
async def test_sigkill_mid_stream_leaves_an_intact_file_and_the_partial_answer() -> None:
    database = paths.history_path()
    timeline = Timeline()
    with start_stub(first_token_delay=0.0) as stub:
        # stub-long: ~30,000 tokens at the scenario's 400 tokens/s, far from done when killed.
        process = await start_ask(
            "Tell me a long story", "--base-url", f"{stub.url}/v1", "--model", "stub-long"
        )
        assert process.stdout is not None
        assert process.stderr is not None
        reader = asyncio.create_task(read_all(process.stdout, timeline))
        errors = asyncio.create_task(process.stderr.read())
        try:
            async with asyncio.timeout(20):
                while True:  # the answer is streaming and some of it is in the file
                    assert process.returncode is None, "ask ended before it was killed"
                    row = streamed_answer(database) if database.exists() else None
                    if row is not None and row[1] and len(timeline.data) > 200:
                        break
                    await asyncio.sleep(0.05)
                assert row[0] == "streaming"
                # Keep streaming past at least one more checkpoint, then kill mid-stream.
                await asyncio.sleep(CHECKPOINT_INTERVAL + 1.0)
                assert process.returncode is None
                killed_at = time.monotonic()
                process.send_signal(signal.SIGKILL)
                code = await process.wait()
                await reader
                stderr = (await errors).decode()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert code == -signal.SIGKILL, stderr

    printed = bytes(timeline.data).decode()
    # SQLite's own check, before HistoryStore (or anything of ours) opens the file.
    assert integrity(database) == [("ok",)]
    conn = sqlite3.connect(database)
    try:
        (raw_status,) = conn.execute(
            "SELECT status FROM messages WHERE role = 'assistant'"
        ).fetchone()
    finally:
        conn.close()
    assert raw_status == "streaming"  # nobody finished it: recovery on open must

    with HistoryStore.open(database) as store:
        assert store.warnings == ()
        assert store.recovered == 1
        (conversation,) = store.list_conversations()
        question, answer = store.messages(conversation.id)
    assert (question.role, question.text) == ("user", "Tell me a long story")
    assert answer.status is MessageStatus.INTERRUPTED
    assert answer.error_message == INTERRUPTED_BY_EXIT
    assert answer.text
    assert printed.startswith(answer.text)  # all of it when a checkpoint came just before
    # What the last second (plus slack) printed may be missing; nothing older.
    kept = len(answer.text.encode())
    must_have = timeline.printed_by(killed_at - CHECKPOINT_INTERVAL - SLACK)
    assert must_have > 0, "too little streamed before the kill to judge the loss"
    assert kept >= must_have, (
        f"kept {kept} bytes of {len(timeline.data)} printed; "
        f"{must_have} had been printed {CHECKPOINT_INTERVAL + SLACK:.1f} s before the kill"
    )
