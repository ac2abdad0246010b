"""The retry policy: which failures retry, how long to wait, and Retry-After parsing."""

from __future__ import annotations

import email.utils

import pytest

from desktop_app.core.errors import (
    AuthFailed,
    CertificateError,
    ConnectionFailed,
    ConnectTimeout,
    FirstTokenTimeout,
    HTTPStatusError,
    Interrupted,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    StreamProtocolError,
)
from desktop_app.core.retry import (
    RetryPolicy,
    is_quota_exhausted,
    is_retryable,
    parse_retry_after,
    parse_should_retry,
)

NOW = 1_700_000_000.0


def status(code: int, body: str = "") -> HTTPStatusError:
    return HTTPStatusError("x", status=code, body=body)


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_statuses_retry(code: int) -> None:
    assert is_retryable(status(code))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 422, 418])
def test_client_errors_never_retry(code: int) -> None:
    assert not is_retryable(status(code))


def test_typed_status_errors_follow_their_status() -> None:
    assert is_retryable(Overloaded(status=529))
    assert is_retryable(ServerError(status=502))
    assert is_retryable(RateLimited(retry_after=1.0))
    assert not is_retryable(AuthFailed(status=401))
    assert not is_retryable(NotFound(status=404))


@pytest.mark.parametrize("marker", ["insufficient_quota", "enforced_spend_limit_reached"])
def test_spend_limit_429_never_retries(marker: str) -> None:
    body = f'{{"error": {{"type": "rate_limit_error", "code": "{marker}"}}}}'
    assert is_quota_exhausted(body)
    assert not is_retryable(RateLimited(body=body))


def test_x_should_retry_overrides_the_status() -> None:
    assert is_retryable(status(400), should_retry=True)
    assert not is_retryable(status(503), should_retry=False)


def test_connection_failures_retry_but_certificates_do_not() -> None:
    assert is_retryable(ConnectionFailed())
    assert is_retryable(ConnectTimeout())
    assert not is_retryable(CertificateError())


def test_stream_failures_are_not_retried() -> None:
    assert not is_retryable(FirstTokenTimeout())
    assert not is_retryable(Interrupted())
    assert not is_retryable(StreamProtocolError())
    assert not is_retryable(ProviderError(kind="invalid_request_error"))


def test_overloaded_provider_error_retries() -> None:
    assert is_retryable(ProviderError(kind="overloaded_error"))
    assert is_retryable(ProviderError(code="529"))


def test_backoff_doubles_up_to_the_cap_with_jitter_from_the_rng() -> None:
    policy = RetryPolicy(max_attempts=10)
    assert [policy.backoff(n, lambda: 0.0) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]
    assert policy.backoff(0, lambda: 1.0) == pytest.approx(0.375)
    assert policy.backoff(5, lambda: 0.5) == pytest.approx(7.0)


def test_delay_for_counts_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    err = ConnectionFailed()
    assert policy.delay_for(err, attempt=1, rng=lambda: 0.0) == 0.5
    assert policy.delay_for(err, attempt=2, rng=lambda: 0.0) == 1.0
    assert policy.delay_for(err, attempt=3, rng=lambda: 0.0) is None
    assert policy.delay_for(AuthFailed(status=401), attempt=1, rng=lambda: 0.0) is None


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay_for(RateLimited(retry_after=3), attempt=1, rng=lambda: 0.0) == 3
    assert policy.delay_for(status(503), attempt=1, rng=lambda: 0.0, retry_after=7.5) == 7.5
    # Longer than the cap: no retry at all (the error says how long to wait).
    assert policy.delay_for(RateLimited(retry_after=61), attempt=1, rng=lambda: 0.0) is None
    # Zero or missing: ordinary backoff.
    assert policy.delay_for(RateLimited(retry_after=0), attempt=1, rng=lambda: 0.0) == 0.5


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}, now=NOW) == 3.0
    assert parse_retry_after({"retry-after": " 1.5 "}, now=NOW) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now=NOW) == 0.25
    assert parse_retry_after({"Retry-After": "4"}, now=NOW) == 4.0
    assert parse_retry_after({}, now=NOW) is None
    assert parse_retry_after({"retry-after": "soon"}, now=NOW) is None
    assert parse_retry_after({"retry-after": "-3"}, now=NOW) is None
    assert parse_retry_after({"retry-after": "nan"}, now=NOW) is None
    # A bad retry-after-ms falls back to retry-after.
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "2"}, now=NOW) == 2.0


def test_parse_retry_after_http_date() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=NOW) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=NOW) == 0.0


def test_parse_should_retry() -> None:
    assert parse_should_retry({"x-should-retry": "true"}) is True
    assert parse_should_retry({"x-should-retry": "False"}) is False
    assert parse_should_retry({"x-should-retry": "maybe"}) is None
    assert parse_should_retry({}) is None
