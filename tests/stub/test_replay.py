"""Replaying recordings with the stub, over real sockets.

The round trip the issue asks for: record a stream from the stub with
``streamdesk ask --record``, replay it with the stub, record again: the same
bytes, the same chunk boundaries where the pacing keeps them apart, the same
status and headers; several requests (a drop and a Last-Event-ID resume) in
order; per-request replays by token; pass-through of other paths; endings
(a cut-off body, a silence the client leaves). Pacing accuracy is measured in
``benchmarks/bench_replay.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from desktop_app.core.recording import Recording, load_recording
from server_stub import replay
from server_stub.embedded import RunningStub, start_stub
from server_stub.replay_file import RecordingError, parse

HEADERS_NOT_REPLAYED = {"date", "server", "transfer-encoding", "content-length"}


def ask(
    base_url: str, record: Path, *args: str, model: str = "stub"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    command = [sys.executable, "-m", "desktop_app", "ask", "Hello"]
    command += ["--base-url", base_url, "--model", model, "--no-save", "--record", str(record)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def boundaries(recording: Recording) -> list[int]:
    """Offsets in the body at which one chunk ends and the next begins."""
    offsets, total = [], 0
    for chunk in recording.chunks[:-1]:
        total += len(chunk.data)
        offsets.append(total)
    return offsets


def replayed_headers(recording: Recording, index: int = 0) -> dict[str, str]:
    response = recording.exchanges()[index].response
    assert response is not None
    return {k: v for k, v in response.headers.items() if k not in HEADERS_NOT_REPLAYED}


@pytest.fixture(scope="module")
def paced_stub() -> Iterator[RunningStub]:
    # 500 tokens/s: 2 ms between events, far above the loopback's read time, so the
    # client reads each write apart both times.
    with start_stub(tokens_per_second=500, first_token_delay=0.02) as running:
        yield running


@pytest.mark.parametrize(
    ("model", "provider", "path"),
    [
        ("stub-split_utf8", "openai", "/v1"),  # writes cut inside UTF-8 characters, CR LF
        ("stub-normal", "anthropic", "/v1"),
    ],
)
def test_record_replay_record_gives_the_same_bytes_and_boundaries(
    paced_stub: RunningStub, tmp_path: Path, model: str, provider: str, path: str
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    recorded = ask(paced_stub.url + path, first, "--provider", provider, model=model)
    assert recorded.returncode == 0, recorded.stderr
    with replay.start_replay(first, speed=1.0) as replaying:
        again = ask(replaying.url + path, second, "--provider", provider, model="anything")
    assert again.returncode == 0, again.stderr
    assert again.stdout == recorded.stdout
    one, two = load_recording(first), load_recording(second)
    assert two.body() == one.body()
    assert len(one.chunks) > 10
    if model == "stub-split_utf8":
        assert any("b64" in line for line in first.read_text().splitlines())
    # Every write is replayed as one write: the replay never splits a recorded chunk,
    # and at this pacing the client reads each apart again.
    assert set(boundaries(two)) <= set(boundaries(one))
    assert len(boundaries(two)) >= 0.9 * len(boundaries(one))
    assert two.exchanges()[0].response.status == 200  # type: ignore[union-attr]
    assert replayed_headers(two) == replayed_headers(one)
    assert two.end is not None
    assert two.end.state == "complete"


def test_a_dropped_stream_and_its_resume_are_replayed_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with start_stub(tokens_per_second=2000, first_token_delay=0.0) as stub:
        recorded = ask(
            stub.url + "/api/chat",
            first,
            "--provider",
            "generic",
            "--stats",
            model="stub-drop_then_resume",
        )
    assert recorded.returncode == 0, recorded.stderr
    assert "reconnects: 1" in recorded.stderr
    one = load_recording(first)
    assert [(x.request.method, x.ending) for x in one.exchanges()] == [
        ("POST", "drop"),
        ("GET", "end"),
    ]
    with replay.start_replay(first, speed=0) as replaying:
        again = ask(replaying.url + "/api/chat", second, "--provider", "generic", "--stats")
    assert again.returncode == 0, again.stderr
    assert "reconnects: 1" in again.stderr
    assert again.stdout == recorded.stdout
    two = load_recording(second)
    assert two.body() == one.body()
    assert [x.request.path for x in two.exchanges()] == [x.request.path for x in one.exchanges()]
    get = two.exchanges()[1].request
    assert get.headers["Last-Event-ID"] == one.exchanges()[1].request.headers["Last-Event-ID"]


# ---------------------------------------------------------------- serving rules


def recording_text(
    *chunks: str,
    status: int = 200,
    path: str = "/v1/chat/completions",
    end: str = "complete",
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    lines = [
        {"type": "recording", "version": 1, "provider": "openai"},
        {"type": "request", "t": 0, "method": "POST", "path": path, "url": "http://x" + path},
        {
            "type": "response",
            "t": 0.01,
            "status": status,
            "headers": headers
            or {
                "content-type": "text/event-stream",
                "x-kept": "yes",
                "content-length": "999",
                "date": "old",
            },
        },
    ]
    lines += [{"type": "chunk", "t": 0.01 * (i + 2), "data": c} for i, c in enumerate(chunks)]
    lines.append({"type": "end", "t": 1, "state": end, **({"error": error} if error else {})})
    return "".join(json.dumps(line) + "\n" for line in lines)


@pytest.fixture
def replaying(tmp_path: Path) -> Iterator[tuple[RunningStub, replay.ReplayDeck]]:
    file = tmp_path / "r.jsonl"
    file.write_text(recording_text("data: one\n\n", "data: two\n\n"))
    with replay.start_replay(file, speed=0) as running:
        yield running, running.app.state.replays


def test_any_body_on_the_recorded_path_gets_the_recording_and_other_paths_the_stub(
    replaying: tuple[RunningStub, replay.ReplayDeck], client: httpx.Client
) -> None:
    stub, _ = replaying
    for body in ({"nonsense": True}, {"model": "x", "messages": []}):
        answer = client.post(stub.url + "/v1/chat/completions", json=body)
        assert answer.status_code == 200
        assert answer.content == b"data: one\n\ndata: two\n\n"
        assert answer.headers["x-kept"] == "yes"
        assert answer.headers["date"] != "old"
        assert "content-length" not in answer.headers
    assert client.get(stub.url + "/healthz").json()["status"] == "ok"
    assert client.get(stub.url + "/v1/chat/completions").status_code == 405  # the stub's own


def test_a_registered_recording_answers_requests_carrying_its_token(
    stub: RunningStub, client: httpx.Client, tmp_path: Path
) -> None:
    deck = replay.enable_replays(stub.app)  # every stub can replay: this is its deck
    assert deck is stub.app.state.replays
    token = deck.register(parse(recording_text("data: mine\n\n").encode()), speed=0)
    try:
        url = stub.url + "/v1/chat/completions"
        mine = client.post(url, json={}, headers={replay.H_REPLAY: token})
        assert mine.content == b"data: mine\n\n"
        wrong = client.post(stub.url + "/v1/messages", json={}, headers={replay.H_REPLAY: token})
        assert wrong.status_code == 404
        assert "answers POST /v1/chat/completions, not POST /v1/messages" in wrong.text
        unknown = client.post(url, json={}, headers={replay.H_REPLAY: "nope"})
        assert unknown.status_code == 404
        normal = client.post(
            url, json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert normal.status_code == 200
        assert b"data: mine" not in normal.content
    finally:
        deck.forget(token)
    assert client.post(url, json={}, headers={replay.H_REPLAY: token}).status_code == 404


def test_status_and_headers_are_replayed_without_a_body(
    tmp_path: Path, client: httpx.Client
) -> None:
    file = tmp_path / "429.jsonl"
    file.write_text(
        recording_text(
            status=429, headers={"retry-after": "2", "x-ratelimit-remaining-requests": "0"}
        )
    )
    with replay.start_replay(file, speed=0) as stub:
        answer = client.post(stub.url + "/v1/chat/completions", json={})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.content == b""


def test_a_cut_off_body_is_cut_off_again(tmp_path: Path, client: httpx.Client) -> None:
    file = tmp_path / "drop.jsonl"
    file.write_text(recording_text("data: partial\n\n", end="interrupted", error="Interrupted"))
    received: list[bytes] = []
    with (
        replay.start_replay(file, speed=0) as stub,
        client.stream("POST", stub.url + "/v1/chat/completions", json={}) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        received.extend(response.iter_bytes())
    assert b"".join(received) == b"data: partial\n\n"


def test_a_silence_lasts_until_the_client_leaves(tmp_path: Path) -> None:
    file = tmp_path / "silent.jsonl"
    file.write_text(
        recording_text("data: then nothing\n\n", end="interrupted", error="IdleTimeout")
    )
    with replay.start_replay(file, speed=0) as stub:
        with (
            httpx.Client(trust_env=False, timeout=httpx.Timeout(5.0, read=0.3)) as short,
            short.stream("POST", stub.url + "/v1/chat/completions", json={}) as response,
        ):
            chunks = response.iter_bytes()
            assert next(chunks) == b"data: then nothing\n\n"
            with pytest.raises(httpx.ReadTimeout):
                next(chunks)
        deadline = time.monotonic() + 5
        while stub.state.active_generations and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stub.state.active_generations == 0
        assert stub.state.generations_disconnected == 1


def test_the_pacing_follows_the_speed(tmp_path: Path, client: httpx.Client) -> None:
    lines = [
        {"type": "recording", "version": 1},
        {"type": "request", "t": 0, "method": "POST", "url": "http://x/v1/messages"},
        {
            "type": "response",
            "t": 0.0,
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
        },
        {"type": "chunk", "t": 0.4, "data": "data: late\n\n"},
    ]
    file = tmp_path / "slow.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    took = {}
    for speed in (1.0, 4.0):
        with replay.start_replay(file, speed=speed) as stub:
            start = time.monotonic()
            assert client.post(stub.url + "/v1/messages", json={}).content == b"data: late\n\n"
            took[speed] = time.monotonic() - start
    # Loose bounds only: the benchmark measures accuracy.
    assert took[1.0] >= 0.4
    assert took[4.0] < took[1.0]


# ---------------------------------------------------------------- the command line


def test_the_command_line_options(tmp_path: Path) -> None:
    from server_stub.__main__ import build_parser
    from server_stub.app import create_app

    parser = build_parser()
    assert parser.parse_args([]).replay is None
    args = parser.parse_args(["--replay", str(tmp_path / "missing.jsonl"), "--speed", "2"])
    assert args.speed == 2.0
    problem = replay.configure(create_app(), args)
    assert problem is not None
    assert "cannot replay" in problem
    assert "missing.jsonl" in problem
    good = tmp_path / "ok.jsonl"
    good.write_text(recording_text("data: x\n\n"))
    app = create_app()
    assert replay.configure(app, parser.parse_args(["--replay", str(good)])) is None
    assert app.state.replays.always is not None


def test_streamdesk_stub_replay_serves_a_recording_as_a_process(tmp_path: Path) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text(recording_text("data: from the file\n\n"))
    command = [sys.executable, "-m", "server_stub", "--replay", str(file), "--speed", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        with httpx.Client(trust_env=False, timeout=10) as client:
            answer = client.post(url + "/v1/chat/completions", json={"anything": 1})
            assert answer.content == b"data: from the file\n\n"
            assert client.get(url + "/healthz").json()["status"] == "ok"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert f"replaying {file} at speed 0" in err
    bad = subprocess.run(
        [sys.executable, "-m", "server_stub", "--replay", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2
    assert "cannot replay" in bad.stderr
    speed = subprocess.run(
        [sys.executable, "-m", "server_stub", "--speed", "-1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert speed.returncode == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no header line"),
        ('{"type": "recording", "version": 2}\n', "format 2"),
        (
            '{"type": "recording", "version": 1}\n{"type": "request", "url": "http://x/"}\n',
            "no response",
        ),
        (
            '{"type": "recording", "version": 1}\n{"type": "request", "url": "http://x/"}\n'
            '{"type": "response", "status": 200}\n{"type": "chunk", "b64": "!"}\n',
            "line 4",
        ),
    ],
)
def test_a_file_the_stub_cannot_serve_says_why(text: str, words: str) -> None:
    with pytest.raises(RecordingError, match=words):
        parse(text.encode())
