"""One stub server and one HTTP client for the whole stub suite (real sockets, loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server_stub.embedded import RunningStub, start_stub


@pytest.fixture(scope="session")
def stub() -> Iterator[RunningStub]:
    # Fast pacing keeps the suite quick; scenario tests slow it down per request with headers.
    with start_stub(tokens_per_second=5000, first_token_delay=0.0) as running:
        yield running


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=httpx.Timeout(10.0)) as c:
        yield c
