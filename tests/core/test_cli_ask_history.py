"""``streamdesk ask`` and the history, profiles and recordings, as a user runs it.

Each exchange lands in the history the window shows (``--no-save`` skips it;
``--continue`` / ``--conversation`` add to one and send its earlier
messages); partial answers are kept with their status on a drop, on Ctrl-C
and when the process is killed; ``--profile`` takes the server, model,
system prompt and keychain key from a saved profile, flags overriding it;
``--record`` writes a recording whatever the ending, and the key is in no
file the command wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop_app.cli.ask_target import UsageError, resolve_target
from desktop_app.core.profiles import Profile, save_profiles
from desktop_app.core.recording import load_recording
from desktop_app.core.storage import HistoryStore, MessageStatus
from tests.core.byte_server import OPENAI_DONE, ByteServer, Pause, Reply, openai_delta, sse
from tests.core.file_keyring import BACKEND, VARIABLE

KEY = "sk-profile-key-0123456789abcdef"
STREAM = Reply(body=sse(openai_delta("Hello, "), openai_delta("world!"), OPENAI_DONE))


@dataclass
class Result:
    code: int
    out: str
    err: str


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


async def start_ask(*args: str, env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        "ask",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env or environment()),
    )


async def ask(*args: str, env: Mapping[str, str] | None = None) -> Result:
    process = await start_ask(*args, env=env)
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def openai(server: ByteServer, *args: str) -> tuple[str, ...]:
    return ("--base-url", server.url("/v1"), "--model", "m", *args)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def history() -> HistoryStore:
    return HistoryStore.open(maintenance=False)


def sent_messages(server: ByteServer, index: int = -1) -> list[dict[str, str]]:
    body = json.loads(server.requests[index].body)
    messages: list[dict[str, str]] = body["messages"]
    return messages


# ---------------------------------------------------------------- saving


@pytest.mark.asyncio
async def test_each_exchange_is_saved_where_the_window_shows_it() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("Say hello", *openai(server, "--stats"))
    assert result.code == 0
    assert "saved in conversation: 1" in result.err
    with history() as store:
        (conversation,) = store.list_conversations()
        assert conversation.title == "Say hello"
        assert conversation.model == "m"
        user, answer = store.messages(conversation.id)
    assert (user.role, user.text) == ("user", "Say hello")
    assert (answer.role, answer.text, answer.status) == (
        "assistant",
        "Hello, world!",
        MessageStatus.COMPLETE,
    )
    assert answer.model == "m"
    assert answer.metrics is not None
    assert answer.metrics.output_tokens == 2


@pytest.mark.asyncio
async def test_no_save_leaves_the_history_alone(isolated_dirs: Path) -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("hi", *openai(server, "--no-save", "--stats"))
    assert result.code == 0
    assert "saved in conversation" not in result.err
    assert not [p for p in files_under(isolated_dirs) if p.suffix == ".sqlite3"]


@pytest.mark.asyncio
async def test_continue_adds_to_the_latest_conversation_and_sends_its_messages() -> None:
    second = Reply(body=sse(openai_delta("Fine."), OPENAI_DONE))
    async with ByteServer([STREAM, STREAM, second]) as server:
        assert (await ask("First chat", *openai(server))).code == 0
        assert (await ask("Second chat", *openai(server))).code == 0
        result = await ask("And now?", *openai(server, "--continue"))
        assert result.code == 0
        assert sent_messages(server) == [
            {"role": "user", "content": "Second chat"},
            {"role": "assistant", "content": "Hello, world!"},
            {"role": "user", "content": "And now?"},
        ]
    with history() as store:
        latest, first = store.list_conversations()
        assert [m.text for m in store.messages(latest.id)] == [
            "Second chat",
            "Hello, world!",
            "And now?",
            "Fine.",
        ]
        assert len(store.messages(first.id)) == 2


@pytest.mark.asyncio
async def test_conversation_id_adds_to_that_one_and_no_save_still_reads_it() -> None:
    async with ByteServer(STREAM) as server:
        assert (await ask("Chat one", *openai(server))).code == 0
        assert (await ask("Chat two", *openai(server))).code == 0
        result = await ask("More", *openai(server, "--conversation", "1"))
        assert result.code == 0
        assert sent_messages(server)[0] == {"role": "user", "content": "Chat one"}
        peek = await ask("Peek", *openai(server, "--conversation", "1", "--no-save"))
        assert peek.code == 0
        assert [m["content"] for m in sent_messages(server)] == [
            "Chat one",
            "Hello, world!",
            "More",
            "Hello, world!",
            "Peek",
        ]
    with history() as store:
        assert len(store.messages(1)) == 4
        assert len(store.messages(2)) == 2


@pytest.mark.asyncio
async def test_an_unknown_conversation_is_a_usage_error_before_any_request() -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("hi", *openai(server, "--conversation", "42"))
        assert server.requests == []
    assert result.code == 2
    assert "no conversation 42" in result.err
    assert "streamdesk history list" in result.err


@pytest.mark.asyncio
async def test_continue_and_conversation_cannot_be_combined() -> None:
    result = await ask("hi", "--model", "m", "--continue", "--conversation", "1")
    assert result.code == 2
    assert "not allowed with" in result.err


@pytest.mark.asyncio
async def test_a_drop_saves_the_partial_answer_as_interrupted() -> None:
    reply = Reply(body=sse(openai_delta("Partial ans")), ending="close")
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server))
    assert result.code == 4
    with history() as store:
        _, answer = store.messages(1)
    assert (answer.text, answer.status) == ("Partial ans", MessageStatus.INTERRUPTED)
    assert answer.error_message is not None
    assert "before the answer finished" in answer.error_message


@pytest.mark.asyncio
async def test_an_http_error_saves_an_empty_answer_with_the_error() -> None:
    reply = Reply(status=500, body=[b'{"error": {"message": "boom"}}'], headers=())
    async with ByteServer(reply) as server:
        result = await ask("hi", *openai(server, "--timeout", "5"))
    assert result.code == 3
    with history() as store:
        _, answer = store.messages(1)
    assert (answer.text, answer.status) == ("", MessageStatus.ERROR)
    assert answer.error_message is not None
    assert "boom" in answer.error_message


@pytest.mark.asyncio
async def test_ctrl_c_saves_the_partial_answer_as_cancelled_and_the_recording(
    tmp_path: Path,
) -> None:
    record = tmp_path / "cancelled.jsonl"
    reply = Reply(body=[*sse(openai_delta("Started")), Pause(30)])
    async with ByteServer(reply) as server:
        process = await start_ask("hi", *openai(server, "--record", str(record)))
        assert process.stdout is not None
        async with asyncio.timeout(20):
            assert await process.stdout.readexactly(len("Started")) == b"Started"
            process.send_signal(signal.SIGINT)
            await process.communicate()
    assert process.returncode == 130
    with history() as store:
        _, answer = store.messages(1)
    assert (answer.text, answer.status) == ("Started", MessageStatus.CANCELLED)
    recording = load_recording(record)
    assert recording.end is not None
    assert recording.end.state == "cancelled"
    assert b"Started" in recording.body()


@pytest.mark.asyncio
async def test_a_killed_ask_leaves_what_arrived_a_second_before() -> None:
    reply = Reply(body=[*sse(openai_delta("Kept")), Pause(30)])
    async with ByteServer(reply) as server:
        process = await start_ask("hi", *openai(server))
        assert process.stdout is not None
        async with asyncio.timeout(20):
            await process.stdout.readexactly(len("Kept"))
            await asyncio.sleep(1.4)  # the checkpoint interval is one second
            process.send_signal(signal.SIGKILL)
            await process.communicate()
    with HistoryStore.open() as store:  # opening marks the orphan answer interrupted
        _, answer = store.messages(1)
    assert (answer.text, answer.status) == ("Kept", MessageStatus.INTERRUPTED)


# ---------------------------------------------------------------- profiles and keys


def target_args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "profile": None,
        "provider": None,
        "base_url": None,
        "model": None,
        "system": None,
        "api_key_env": None,
        "max_tokens": None,
    }
    values.update(given)
    return argparse.Namespace(**values)


LOCAL = Profile(
    name="Local",
    provider="anthropic",
    base_url="http://127.0.0.1:9/v1",
    model="claude-x",
    system_prompt="Be terse.",
    temperature=0.5,
    max_tokens=99,
    extra_headers={"X-Team": "qa"},
    has_key=True,
)


def test_a_profile_fills_in_what_the_flags_leave_out(in_memory_keyring: object) -> None:
    import keyring

    save_profiles([LOCAL])
    keyring.set_password("streamdesk", "Local", KEY)
    target = resolve_target(target_args(profile="local"), {})
    assert target.provider.name == "anthropic"
    assert target.endpoint.base_url == "http://127.0.0.1:9/v1"
    assert target.endpoint.api_key == KEY
    assert dict(target.endpoint.extra_headers) == {"X-Team": "qa"}
    assert (target.model, target.system, target.temperature, target.max_tokens) == (
        "claude-x",
        "Be terse.",
        0.5,
        99,
    )
    assert target.profile == "Local"
    assert not target.network.trust_env  # loopback: never through a proxy


def test_flags_override_the_profile(in_memory_keyring: object) -> None:
    save_profiles([LOCAL])
    target = resolve_target(
        target_args(
            profile="Local",
            provider="openai",
            model="other",
            system="",
            base_url="http://127.0.0.1:8/v1",
            api_key_env="MINE",
            max_tokens=7,
        ),
        {"MINE": "sk-from-env"},
    )
    assert target.provider.name == "openai"
    assert (target.model, target.system, target.max_tokens) == ("other", None, 7)
    assert target.endpoint.base_url == "http://127.0.0.1:8/v1"
    assert target.endpoint.api_key == "sk-from-env"


def test_profile_problems_are_usage_errors(in_memory_keyring: object) -> None:
    save_profiles(
        [
            LOCAL,
            Profile(
                name="Official", provider="openai", base_url="https://api.openai.com/v1", model="g"
            ),
        ]
    )
    with pytest.raises(UsageError, match="no profile named “Nope”"):
        resolve_target(target_args(profile="Nope"), {})
    with pytest.raises(UsageError, match="No API key for the profile “Official”"):
        resolve_target(target_args(profile="Official"), {})
    # The provider's usual variable serves its official server.
    official = resolve_target(target_args(profile="Official"), {"OPENAI_API_KEY": "sk-o"})
    assert official.endpoint.api_key == "sk-o"


def test_a_key_saved_where_no_keychain_exists_is_said_plainly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import fail

    save_profiles([LOCAL])
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(UsageError, match="No system keychain"):
        resolve_target(target_args(profile="Local"), {})


def test_the_offline_demo_profile_asks_for_the_bundled_stub() -> None:
    started: list[str] = []

    def stub_url() -> str:
        started.append("yes")
        return "http://127.0.0.1:5"

    target = resolve_target(target_args(profile="Offline demo"), {}, stub_url=stub_url)
    assert started == ["yes"]
    assert target.endpoint.base_url == "http://127.0.0.1:5/v1"
    assert target.endpoint.api_key is None
    assert target.embedded


@pytest.mark.asyncio
async def test_profile_keychain_and_record_leave_the_key_in_no_file(
    tmp_path: Path, isolated_dirs: Path
) -> None:
    keys = tmp_path / "keyring.json"
    keys.write_text(json.dumps({"streamdesk/Local": KEY}))
    env = environment(PYTHON_KEYRING_BACKEND=BACKEND, **{VARIABLE: str(keys)})
    record = isolated_dirs / "run.jsonl"
    async with ByteServer(STREAM) as server:
        save_profiles(
            [
                Profile(
                    name="Local",
                    base_url=server.url("/v1"),
                    model="lm",
                    has_key=True,
                    system_prompt="Be terse.",
                )
            ]
        )
        result = await ask(
            "Key test", "--profile", "Local", "--record", str(record), "--stats", env=env
        )
        request = server.requests[0]
    assert result.code == 0, result.err
    assert result.out == "Hello, world!"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(request.body)["messages"][0] == {"role": "system", "content": "Be terse."}
    with history() as store:
        (conversation,) = store.list_conversations()
        assert conversation.profile == "Local"
    assert load_recording(record).body() == b"".join(STREAM.body)  # type: ignore[arg-type]
    written = files_under(isolated_dirs)
    assert {p.suffix for p in written} >= {".jsonl", ".sqlite3", ".toml"}
    for file in written:
        assert KEY.encode() not in file.read_bytes(), file
    assert KEY not in result.out + result.err


@pytest.mark.asyncio
async def test_an_unwritable_record_file_is_a_usage_error_before_any_request(
    tmp_path: Path,
) -> None:
    async with ByteServer(STREAM) as server:
        result = await ask("hi", *openai(server, "--record", str(tmp_path / "no" / "x.jsonl")))
        assert server.requests == []
    assert result.code == 2
    assert "--record:" in result.err


@pytest.mark.asyncio
async def test_raw_and_record_together_both_see_every_byte(tmp_path: Path) -> None:
    record = tmp_path / "raw.jsonl"
    async with ByteServer(STREAM) as server:
        result = await ask("hi", *openai(server, "--raw", "--record", str(record), "--no-save"))
    assert result.code == 0
    assert result.out.count("event: message") == 3
    assert load_recording(record).body() == b"".join(STREAM.body)  # type: ignore[arg-type]
