"""Generation stops when the client goes; stop() ends streams and closes everything cleanly."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from server_stub.embedded import RunningStub, start_stub
from tests.stub.wire import anthropic_body, generic_body, openai_body

ENDPOINTS = [
    ("/v1/chat/completions", openai_body),
    ("/v1/messages", anthropic_body),
    ("/api/chat", generic_body),
]


@pytest.fixture(scope="module")
def slow_stub() -> Iterator[RunningStub]:
    # Its own server, so the counters see only this module's streams.
    with start_stub(tokens_per_second=20, first_token_delay=0.0) as running:
        yield running


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize(("path", "body"), ENDPOINTS, ids=["openai", "anthropic", "generic"])
def test_generation_stops_within_a_second_of_disconnect(
    slow_stub: RunningStub, path: str, body: object
) -> None:
    state = slow_stub.state
    before = state.generations_disconnected
    with httpx.Client(trust_env=False, timeout=5) as client:
        with client.stream("POST", slow_stub.url + path, json=body()) as response:  # type: ignore[operator]
            chunks = response.iter_raw()  # kept: dropping the iterator closes the connection
            next(chunks)
            assert state.active_generations == 1
        closed_at = time.monotonic()  # leaving the block closed the connection
    assert _wait_for(lambda: state.active_generations == 0, timeout=1.0)
    assert time.monotonic() - closed_at < 1.0
    assert state.generations_disconnected == before + 1


def test_a_waiting_non_streamed_answer_stops_too(slow_stub: RunningStub) -> None:
    state = slow_stub.state
    before = state.generations_disconnected
    with httpx.Client(trust_env=False, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post(slow_stub.url + "/v1/chat/completions", json=openai_body(stream=False))
    assert _wait_for(lambda: state.active_generations == 0, timeout=1.0)
    assert state.generations_disconnected == before + 1


def test_stop_ends_open_streams_and_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    stub = start_stub(scenario="keepalive_only")
    with httpx.Client(trust_env=False, timeout=5) as client:
        with client.stream(
            "POST",
            stub.url + "/api/chat",
            json=generic_body(),
            headers={"x-stub-keepalive-interval": "0.05"},
        ) as response:
            chunks = response.iter_raw()
            assert next(chunks) == b": keep-alive\n\n"
            stub.stop()
            rest = b"".join(chunks)  # ends cleanly: no error
        assert set(rest.split(b"\n\n")) <= {b": keep-alive", b""}
        assert stub.state.active_generations == 0
        stub.stop()
        with pytest.raises(httpx.ConnectError):
            client.get(stub.url + "/healthz")
    # No "Cancel N running task(s), timeout graceful shutdown exceeded".
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_context_manager_and_port() -> None:
    with start_stub() as stub:
        assert stub.url == f"http://127.0.0.1:{stub.port}"
        assert httpx.get(stub.url + "/healthz", trust_env=False).status_code == 200
    assert "RunningStub" in repr(stub)


def test_start_fails_cleanly_on_a_busy_port() -> None:
    with start_stub() as stub, pytest.raises(OSError, match="in use"):
        start_stub(port=stub.port)


def test_intentional_drop_logs_nothing(
    slow_stub: RunningStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    with (
        httpx.Client(trust_env=False, timeout=5) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post(
            slow_stub.url + "/v1/chat/completions",
            json=openai_body("hi"),
            headers={"x-stub-scenario": "drop_mid_stream", "x-stub-tokens-per-second": "0"},
        )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
