"""When a failed attempt is tried again, and after how long (sans-IO).

The policy follows the official OpenAI and Anthropic SDKs (research/ecosystem.md
§8): retry connection failures, connect timeouts, 408/409/429/5xx/529 and an
``overloaded_error`` that arrives before any content; back off
``min(0.5 * 2**n, 8) * (1 - 0.25 * random())``; honour ``retry-after-ms`` and
``Retry-After`` (seconds or an HTTP date) when ``0 < value <= cap``, and do not
retry at all when the server asks for a longer wait; obey ``x-should-retry``.
Never retry 400/401/403/404/422 or a 429 that says the quota or spend limit is
exhausted.

Whether tokens already arrived is the session's business: it asks this module
only before the first token. This module does no I/O and reads no clock: the
random source and the wall-clock time (for HTTP dates) are passed in.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from desktop_app.core.errors import (
    CertificateError,
    ConnectionFailed,
    ConnectTimeout,
    HTTPStatusError,
    ProviderError,
    RateLimited,
    StreamdeskError,
)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

# Error codes that mean "no amount of waiting helps": the account is out of money.
_QUOTA_MARKERS = (
    "insufficient_quota",
    "enforced_spend_limit_reached",
    "billing_hard_limit_reached",
)

# Provider error kinds that mean "busy, try again" (Anthropic's streaming form of 529).
_OVERLOADED_KINDS = frozenset({"overloaded_error", "overloaded"})


def is_quota_exhausted(body: str) -> bool:
    """True when an error body says the quota or spend limit is used up."""
    lowered = body.lower()
    return any(marker in lowered for marker in _QUOTA_MARKERS)


def is_overloaded_provider_error(error: StreamdeskError) -> bool:
    """True for an in-stream error that only says the server is busy."""
    if not isinstance(error, ProviderError):
        return False
    return (error.kind or "").lower() in _OVERLOADED_KINDS or error.code in {"529", "503"}


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asks us to wait, from ``retry-after-ms`` or ``Retry-After``.

    ``headers`` must look up names case-insensitively (``httpx.Headers`` does)
    or hold them in lower case. ``now`` is the wall-clock time (``time.time()``)
    used for the HTTP-date form. Returns ``None`` when absent or unreadable;
    a date in the past gives ``0.0``.
    """
    raw_ms = _header(headers, "retry-after-ms")
    if raw_ms is not None:
        value = _finite_float(raw_ms)
        if value is not None and value >= 0:
            return value / 1000.0
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    value = _finite_float(raw)
    if value is not None:
        return value if value >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means "-0000"
        return None
    return max(0.0, when.timestamp() - now)


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """The server's explicit ``x-should-retry: true|false``, if it sent one."""
    raw = _header(headers, "x-should-retry")
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw == "true":
        return True
    if raw == "false":
        return False
    return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry limits for one turn. ``max_attempts`` counts the first attempt too."""

    max_attempts: int = 3
    max_retry_after: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 8.0

    def backoff(self, retries_done: int, rng: Callable[[], float]) -> float:
        """Exponential backoff with jitter for the retry after ``retries_done`` retries."""
        delay = min(self.base_delay * 2.0**retries_done, self.max_delay)
        return delay * (1.0 - 0.25 * rng())

    def delay_for(
        self,
        error: StreamdeskError,
        *,
        attempt: int,
        rng: Callable[[], float],
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> float | None:
        """How long to wait before the next attempt, or ``None`` for no retry.

        ``attempt`` is the number of the attempt that just failed (1 for the
        first). ``retry_after`` (seconds) and ``should_retry`` come from the
        failed response's headers; for a ``RateLimited`` error its own
        ``retry_after`` is used when none is passed.
        """
        if attempt >= self.max_attempts:
            return None
        if not is_retryable(error, should_retry=should_retry):
            return None
        if retry_after is None and isinstance(error, RateLimited):
            retry_after = error.retry_after
        if retry_after is not None and retry_after > 0:
            if retry_after > self.max_retry_after:
                return None  # the error already tells the user how long to wait
            return retry_after
        return self.backoff(attempt - 1, rng)


def is_retryable(error: StreamdeskError, *, should_retry: bool | None = None) -> bool:
    """Whether a failure before the first token is worth another attempt."""
    if isinstance(error, HTTPStatusError):
        if should_retry is not None:
            return should_retry
        if error.status == 429 and is_quota_exhausted(error.body + " " + error.server_message):
            return False
        return error.status in RETRY_STATUSES
    if isinstance(error, CertificateError):
        return False  # a bad certificate will not fix itself in a second
    if isinstance(error, ConnectionFailed | ConnectTimeout):
        return True
    return is_overloaded_provider_error(error)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def _finite_float(raw: str) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
