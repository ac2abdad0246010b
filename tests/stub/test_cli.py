"""The streamdesk-stub command, run as a real process."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import httpx
import pytest

from server_stub import scenarios

STUB = [sys.executable, "-m", "server_stub"]


def test_list_scenarios_prints_each_with_a_sentence() -> None:
    out = subprocess.run([*STUB, "--list-scenarios"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(scenarios.SCENARIOS)
    for line in lines:
        assert line.rstrip().endswith(".")
        assert len(line.split(None, 1)[1]) > 20


def test_prints_the_url_first_and_serves() -> None:
    proc = subprocess.Popen(
        [*STUB, "--port", "0", "--tokens-per-second", "0", "--scenario", "stub-reasoning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert not url.endswith(":0")
        health = httpx.get(url + "/healthz", trust_env=False, timeout=10).json()
        assert health["scenario"] == "reasoning"
        answer = httpx.post(
            url + "/api/chat", json={"prompt": "hi", "stream": False}, trust_env=False, timeout=10
        ).json()
        assert answer["reasoning"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "loopback", "interface"),
    [
        ("0.0.0.0", "127.0.0.1", "0.0.0.0"),
        pytest.param(
            "::",
            "[::1]",
            "[::]",
            marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback"),
        ),
    ],
)
def test_a_wildcard_host_prints_a_loopback_url_and_says_where_it_listens(
    host: str, loopback: str, interface: str
) -> None:
    proc = subprocess.Popen(
        [*STUB, "--host", host, "--allow-remote", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        url = proc.stdout.readline().strip()
        match = re.fullmatch(rf"http://{re.escape(loopback)}:(\d+)", url)
        assert match, url  # 0.0.0.0 and :: are no address a client can connect to
        port = match.group(1)
        assert httpx.get(url + "/healthz", trust_env=False, timeout=10).status_code == 200
        said = []
        while not (line := proc.stderr.readline()).rstrip().endswith("Ctrl+C to stop"):
            assert line, said
            said.append(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    warning, listening = said
    assert warning.startswith(f"streamdesk-stub: WARNING: listening on {interface}: anyone")
    assert listening.startswith(f"streamdesk-stub: listening on {interface}:{port} (every IPv")
    assert url in listening


def test_refuses_a_non_loopback_host_without_allow_remote() -> None:
    out = subprocess.run([*STUB, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "--allow-remote" in out.stderr


def test_rejects_an_unknown_scenario() -> None:
    out = subprocess.run([*STUB, "--scenario", "nope"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "unknown scenario" in out.stderr
