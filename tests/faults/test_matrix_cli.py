"""The fault matrix, ``streamdesk ask`` column: the real command, as a subprocess, per row.

Each row's fault is opened on loopback and ``python -m desktop_app ask``
runs against it with stdout piped, ``--timeout`` set to the matrix's
watchdog and ``--stats`` (which tells attempts, resumes and the conversation
it saved), with its own XDG directories, so what it saved in its history is
read back afterwards. A module fixture runs every row at once, a few
subprocesses at a time (the waits of one row overlap the start-up of
another), and one test per row compares what the command did, and what it
saved, with the row's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop_app.core.paths import APP_NAME, HISTORY_FILE
from desktop_app.core.storage import HistoryStore, StoredMessage
from tests.faults.matrix import MATRIX
from tests.faults.matrix_model import Cli, Recovery, Saved
from tests.faults.observe import WHOLE_C1_REMOVED, stable, text_kind
from tests.faults.servers import no_dns_site
from tests.faults.sources import FIRST_TOKEN_TIMEOUT, Target, open_fault
from tests.faults.stub import FaultStub

REPO = Path(__file__).resolve().parents[2]
PARALLEL = 4  # subprocesses at once: start-up is CPU, the rows' waits are not
RUN_LIMIT = 60.0  # no row may take longer (a hang fails its row, not the suite)
PREFIX = "streamdesk ask: "


@dataclass(frozen=True)
class Outcome:
    cli: Cli
    recovery: Recovery
    saved: Saved
    saved_text: str
    stdout: str


def environment(home: Path, extra_path: Path | None = None) -> dict[str, str]:
    """The subprocess's environment: no API keys, no proxy, its own XDG directories."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONIOENCODING"] = "utf-8"
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), str(REPO)])
    return env


async def ask(target: Target, env: Mapping[str, str], *extra: str) -> tuple[int, str, str]:
    args = ["--provider", target.provider, "--base-url", target.base_url, "--model", target.model]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        "ask",
        target.prompt,
        *args,
        "--timeout",
        f"{FIRST_TOKEN_TIMEOUT:g}",
        *extra,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=REPO,
    )
    try:
        async with asyncio.timeout(RUN_LIMIT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8"), err.decode("utf-8")


STATS = (
    "outcome",
    "finish reason",
    "time to first byte",
    "time to first token",
    "total time",
    "input tokens",
    "output tokens",
    "tokens/s",
    "attempts",
    "reconnects",
    "saved in conversation",
)


def read_stats(err: str) -> tuple[dict[str, str], list[str]]:
    """``--stats`` lines as a dict, and the other stderr lines."""
    stats: dict[str, str] = {}
    other: list[str] = []
    for line in err.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name in STATS:
            stats[name] = value
        else:
            other.append(line)
    return stats, other


def read_saved(home: Path, conversation: int) -> StoredMessage:
    """The answer ``ask`` saved: the last message of its conversation."""
    path = home / "data" / APP_NAME / HISTORY_FILE  # platformdirs under XDG_DATA_HOME
    assert path.exists()
    store = HistoryStore.open(path, maintenance=False)
    try:
        messages = store.messages(conversation)
    finally:
        store.close()
    assert [m.role for m in messages] == ["user", "assistant"]
    return messages[-1]


async def observe(key: str, stub: FaultStub, home: Path) -> Outcome:
    async with open_fault(key, stub) as target:
        with no_dns_site() if target.needs_no_dns else contextlib.nullcontext() as site:
            code, out, err = await ask(target, environment(home, site), "--stats")
    stats, lines = read_stats(err)
    assert len(lines) <= 1, f"more than one line on stderr: {lines}"
    message = lines[0].removeprefix(PREFIX) if lines else ""
    if lines:
        assert lines[0].startswith(PREFIX)
    cli = Cli(text_kind(out, target.full, target.partial), code, stable(message))
    recovery = Recovery(int(stats["attempts"]), int(stats["reconnects"]))
    stored = read_saved(home, int(stats["saved in conversation"]))
    kind = text_kind(stored.text, target.full, target.partial)
    saved = Saved(stored.status.value, kind, stored.error_message is not None)
    return Outcome(cli, recovery, saved, stored.text, out)


async def observe_all(stub: FaultStub, homes: Path) -> dict[str, Outcome | BaseException]:
    gate = asyncio.Semaphore(PARALLEL)

    async def one(index: int, key: str) -> Outcome | BaseException:
        async with gate:
            try:
                return await observe(key, stub, homes / f"row{index}")
            except Exception as exc:  # reported by that row's test
                return exc

    keys = list(MATRIX)
    results = await asyncio.gather(*(one(i, key) for i, key in enumerate(keys)))
    return dict(zip(keys, results, strict=True))


@pytest.fixture(scope="module")
def outcomes(
    stub: FaultStub, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome | BaseException]:
    # Module scope runs before any test's autouse XDG isolation: each row's
    # subprocess gets its own XDG directories explicitly (never the real home).
    return asyncio.run(observe_all(stub, tmp_path_factory.mktemp("ask-homes")))


@pytest.mark.parametrize("key", list(MATRIX))
def test_cli_row(key: str, outcomes: dict[str, Outcome | BaseException]) -> None:
    outcome = outcomes[key]
    if isinstance(outcome, BaseException):
        raise outcome
    row = MATRIX[key]
    assert outcome.cli == row.cli
    assert outcome.saved == row.saved
    if row.saved.text != WHOLE_C1_REMOVED and row.cli.stdout != WHOLE_C1_REMOVED:
        assert outcome.saved_text == outcome.stdout  # what was printed is what was saved
    # --stats shows the same retries and resumes as the core's metrics (waits are jittered here).
    assert outcome.recovery == Recovery(row.recovery.attempts, row.recovery.reconnects)
