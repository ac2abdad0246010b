"""`streamdesk profile add|list|set-key|remove`, and the proof that a key lands in no file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from desktop_app.cli import main
from desktop_app.core import paths
from desktop_app.core.errors import AuthFailed
from desktop_app.core.profiles import find, load_profiles
from desktop_app.core.secrets import KeyringSecretStore, resolve_api_key
from desktop_app.core.storage import HistoryStore, MessageStatus

KEY = "sk-leakcheck-0123456789abcdef"


def _typed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """The key arrives on stdin (not a terminal, so no getpass prompt)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_list_remove(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "profile",
            "add",
            "Work",
            "--provider",
            "generic",
            "--base-url",
            "https://llm.corp.example/chat",
            "--model",
            "big",
            "--api-key-env",
            "CORP_KEY",
            "--header",
            "X-Team=blue",
            "--proxy",
            "none",
            "--temperature",
            "0.5",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == "Saved profile “Work”.\n"
    work = find(load_profiles(), "work")
    assert (work.provider, work.model, work.proxy, work.temperature) == ("generic", "big", "", 0.5)
    assert work.extra_headers == {"X-Team": "blue"}

    assert main(["profile", "add", "Home", "--template", "ollama", "--model", "qwen3"]) == 0
    assert find(load_profiles(), "Home").base_url == "http://localhost:11434/v1"
    capsys.readouterr()

    assert main(["profile", "list"]) == 0
    listing = capsys.readouterr().out
    assert "Offline demo  [openai]" in listing
    assert "Work  [generic]  big  https://llm.corp.example/chat" in listing
    assert "no key needed" in listing

    assert main(["profile", "remove", "work"]) == 0
    assert "Removed profile “Work”." in capsys.readouterr().out
    assert all(p.name != "Work" for p in load_profiles())


def test_mistakes_are_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "X", "--provider", "openai"]) == 2
    assert "--base-url and --model are needed" in capsys.readouterr().err
    args = ["profile", "add", "OpenAI", "--template", "openai"]
    assert main(args) == 1
    assert "two profiles named “OpenAI”" in capsys.readouterr().err
    assert main(["profile", "add", "Y", "--template", "openai", "--base-url", "ftp://x"]) == 1
    assert "must start with http:// or https://" in capsys.readouterr().err
    assert main(["profile", "add", "Z", "--template", "openai", "--header", "novalue"]) == 2
    assert "--header wants NAME=VALUE" in capsys.readouterr().err
    assert main(["profile", "remove", "nobody"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("streamdesk profile: There is no profile named “nobody”.")
    with pytest.raises(SystemExit) as usage:
        main(["profile", "add"])
    assert usage.value.code == 2


def test_set_key_goes_to_the_keychain_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _typed(monkeypatch, KEY + "\n")
    args = ["profile", "add", "Paid", "--template", "openai", "--set-key"]
    assert main(args) == 0
    assert "its key is in the system keychain" in capsys.readouterr().out
    paid = find(load_profiles(), "Paid")
    assert paid.has_key
    assert KeyringSecretStore().get_key("Paid") == KEY
    assert KEY not in paths.profiles_path().read_text(encoding="utf-8")

    _typed(monkeypatch, "sk-other\n")
    assert main(["profile", "set-key", "OpenAI"]) == 0
    assert find(load_profiles(), "OpenAI").has_key
    assert KeyringSecretStore().get_key("OpenAI") == "sk-other"

    assert main(["profile", "remove", "Paid"]) == 0
    assert KeyringSecretStore().get_key("Paid") is None


def test_without_a_keychain_nothing_is_stored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.set_keyring(fail.Keyring())
    _typed(monkeypatch, KEY + "\n")
    assert main(["profile", "add", "Paid", "--template", "openai", "--set-key"]) == 1
    err = capsys.readouterr().err
    assert "No system keychain" in err
    assert "environment variable" in err
    assert KEY not in err
    assert all(p.name != "Paid" for p in load_profiles())
    assert not paths.profiles_path().exists()


def test_an_empty_key_saves_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _typed(monkeypatch, "\n")
    assert main(["profile", "add", "Paid", "--template", "openai", "--set-key"]) == 1
    assert "No key was given" in capsys.readouterr().err
    assert not paths.profiles_path().exists()


def test_a_key_is_never_written_to_any_file(
    monkeypatch: pytest.MonkeyPatch,
    isolated_dirs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A whole session that used a key, then every file anyone wrote is searched for it."""
    _typed(monkeypatch, KEY + "\n")
    assert main(["profile", "add", "Paid", "--template", "openai", "--set-key"]) == 0
    profile = find(load_profiles(), "Paid")
    key = resolve_api_key(profile, KeyringSecretStore(), environ={})
    assert key == KEY

    with HistoryStore.open() as store:
        c = store.create_conversation(profile=profile.name, model=profile.model)
        store.add_user_message(c.id, "hello")
        answer = store.start_assistant_message(c.id, model=profile.model, profile=profile.name)
        store.checkpoint(answer.id, "partial")
        failure = AuthFailed(status=401, server_message="Incorrect API key provided: sk-lea***cdef")
        store.finish_message(
            answer.id, status=MessageStatus.ERROR, text="partial", error_message=str(failure)
        )
    assert main(["history", "export", "-o", str(tmp_path / "export.json")]) == 0
    assert main(["history", "export", "-o", str(tmp_path / "export.md")]) == 0
    assert main(["profile", "list"]) == 0
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err

    written = [Path(root) / name for root, _, names in os.walk(tmp_path) for name in names]
    assert len(written) >= 4  # profiles.toml, history.sqlite3 (+ -wal), two exports
    assert any(p.name == "profiles.toml" for p in written)
    assert any(p.name.startswith("history.sqlite3") for p in written)
    needles = [KEY.encode(), KEY.encode("utf-16-le"), KEY[4:].encode()]
    for path in written:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"the key leaked into {path}"
    assert isolated_dirs.is_relative_to(tmp_path)
