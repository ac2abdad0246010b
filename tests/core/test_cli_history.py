"""`streamdesk history list|search|export|import`, in process (plus one real subprocess)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core import paths
from desktop_app.core.storage import HistoryStore, MessageStatus
from tests.core.storage_helpers import fill


def _fill_default(conversations: int = 2) -> list[int]:
    with HistoryStore.open() as store:
        fill(store, conversations)
        c = store.create_conversation()
        store.add_user_message(c.id, "Evil \x1b]0;pwned\x07 title \x1b[2J")
        answer = store.start_assistant_message(c.id)
        store.finish_message(answer.id, status=MessageStatus.COMPLETE, text="rivers \x1b[31mred")
        return [x.id for x in store.list_conversations()]


def test_list_newest_first(capsys: pytest.CaptureFixture[str]) -> None:
    ids = _fill_default()
    assert main(["history", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in lines] == ids
    assert "Question number 1: how do rivers form?" in lines[1]
    assert main(["history", "list", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_untrusted_text_loses_its_escape_sequences(capsys: pytest.CaptureFixture[str]) -> None:
    _fill_default()
    assert main(["history", "list"]) == 0
    assert main(["history", "search", "rivers"]) == 0
    assert main(["history", "export"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "Evil" in out


def test_search(capsys: pytest.CaptureFixture[str]) -> None:
    _fill_default()
    assert main(["history", "search", "gathers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("Rivers form when rain gathers" in line for line in lines)
    for hostile in ['"', "NEAR(", "%", "\x00"]:
        assert main(["history", "search", hostile]) == 0
    assert main(["history", "search", "nothing-like-this"]) == 0
    assert capsys.readouterr().out == ""


def test_export_import_round_trip_through_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _fill_default(3)
    target = tmp_path / "all.json"
    assert main(["history", "export", "-o", str(target)]) == 0
    assert "exported 4 conversations" in capsys.readouterr().err
    document = json.loads(target.read_text(encoding="utf-8"))
    assert len(document["conversations"]) == 4

    markdown = tmp_path / "one.md"
    assert main(["history", "export", "--conversation", str(ids[1]), "-o", str(markdown)]) == 0
    assert markdown.read_text(encoding="utf-8").startswith("# Question number 2")

    assert main(["history", "export", "--format", "json", "--conversation", str(ids[0])]) == 0
    assert len(json.loads(capsys.readouterr().out)["conversations"]) == 1

    # Into a fresh history (another machine).
    paths.history_path().unlink()
    assert main(["history", "import", str(target)]) == 0
    assert capsys.readouterr().out == "Imported 4 conversations (11 messages).\n"
    assert main(["history", "import", str(target)]) == 0
    assert "4 already in the history were skipped" in capsys.readouterr().out
    again = tmp_path / "again.json"
    assert main(["history", "export", "-o", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == target.read_text(encoding="utf-8")


def test_errors_are_one_sentence_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill_default()
    assert main(["history", "export", "--conversation", "999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("streamdesk history: There is no conversation 999")
    assert err.count("\n") == 1

    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["history", "import", str(bad)]) == 1
    assert "not a Streamdesk history export" in capsys.readouterr().err
    assert main(["history", "import", str(tmp_path / "missing.json")]) == 1
    assert "could not read" in capsys.readouterr().err
    assert main(["history", "export", "-o", str(tmp_path / "no" / "dir" / "x.md")]) == 1
    assert "could not write" in capsys.readouterr().err

    with pytest.raises(SystemExit) as usage:
        main(["history", "export", "--format", "pdf"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        main(["history"])
    assert usage.value.code == 2


def test_a_damaged_history_is_reported_and_set_aside(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 100)
    assert main(["history", "list"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("streamdesk history: warning: The chat history file was damaged")
    assert list(path.parent.glob("history.sqlite3.corrupt-*"))


def test_a_newer_history_is_not_touched(capsys: pytest.CaptureFixture[str]) -> None:
    with HistoryStore.open() as store:
        store.create_conversation("future")
    conn = sqlite3.connect(paths.history_path())
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert main(["history", "list"]) == 1
    assert "newer version of Streamdesk" in capsys.readouterr().err


def test_the_real_command(tmp_path: Path) -> None:
    _fill_default(1)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "history", "search", "rivers"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "rivers" in done.stdout.lower()
    assert done.stderr == ""
