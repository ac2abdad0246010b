"""Server-wide defaults and the per-request overrides a tester can send in headers.

Owns the precedence of pacing values: request header > scenario > server default. It knows
nothing of formats; bad header values raise ``BadRequest`` for the format to phrase.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from server_stub.scenarios import Scenario

DEMO_MODEL = "streamdesk-stub"

H_SCENARIO = "x-stub-scenario"
H_TPS = "x-stub-tokens-per-second"
H_FIRST = "x-stub-first-token-delay"
H_KEEPALIVE = "x-stub-keepalive-interval"
H_STALL = "x-stub-stall-seconds"


class BadRequest(Exception):
    """The request cannot be served; ``str(exc)`` is the message for the error body."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class StubSettings:
    scenario: str = "normal"
    tokens_per_second: float = 40.0  # 0 means as fast as the socket takes them
    first_token_delay: float = 0.3
    keepalive_interval: float = 15.0  # 0 disables keep-alive comments
    stall_seconds: float | None = None  # None: each scenario's own
    api_key: str | None = None
    resume_ttl: float = 300.0  # finished generic streams stay resumable this long
    resume_max_streams: int = 1000


@dataclass(frozen=True, slots=True)
class Pace:
    interval: float  # seconds between tokens; 0 = unpaced
    first_token_delay: float
    keepalive_interval: float  # 0 = none
    stall_seconds: float


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"Header {name} must be a number, got {raw!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise BadRequest(f"Header {name} must be a finite number >= 0, got {raw!r}.")
    return value


def _first(*values: float | None) -> float:
    for v in values:
        if v is not None:
            return v
    raise AssertionError("the last value is always set")


def resolve_pace(settings: StubSettings, scenario: Scenario, headers: Mapping[str, str]) -> Pace:
    tps = _first(_number(headers, H_TPS), scenario.tokens_per_second, settings.tokens_per_second)
    return Pace(
        interval=1.0 / tps if tps > 0 else 0.0,
        first_token_delay=_first(
            _number(headers, H_FIRST), scenario.first_token_delay, settings.first_token_delay
        ),
        keepalive_interval=_first(
            _number(headers, H_KEEPALIVE), scenario.keepalive_interval, settings.keepalive_interval
        ),
        stall_seconds=_first(
            _number(headers, H_STALL), settings.stall_seconds, scenario.stall_seconds, 0.0
        ),
    )
