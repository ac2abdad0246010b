"""The live state of one stub server: settings, resume store, ticker, counters.

Owns what every request shares and what tests observe (``active_generations`` and friends,
read from any thread). It runs nothing itself; ``streaming.py`` registers running generations
here so a shutdown can end them all at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from server_stub.pacing import Ticker
from server_stub.resume import ResumeStore
from server_stub.settings import StubSettings


class StubState:
    def __init__(self, settings: StubSettings) -> None:
        self.settings = settings
        self.resume = ResumeStore(settings.resume_ttl, settings.resume_max_streams)
        self.active_generations = 0  # streams (or delayed bodies) being produced right now
        self.generations_started = 0
        self.generations_disconnected = 0  # stopped early because the client went away
        self.closing = False
        self._ticker: Ticker | None = None
        self._stoppers: set[Callable[[str], None]] = set()

    def ticker(self) -> Ticker:
        loop = asyncio.get_running_loop()
        if self._ticker is None or self._ticker._loop is not loop:
            self._ticker = Ticker(loop)
        return self._ticker

    def generation_started(self, stop: Callable[[str], None]) -> None:
        self.active_generations += 1
        self.generations_started += 1
        self._stoppers.add(stop)

    def generation_ended(self, stop: Callable[[str], None], reason: str | None) -> None:
        self.active_generations -= 1
        self._stoppers.discard(stop)
        if reason == "disconnect":
            self.generations_disconnected += 1

    def end_all_streams(self) -> None:
        """Called on the server's loop at shutdown: every running generation ends now."""
        self.closing = True
        for stop in list(self._stoppers):
            stop("shutdown")
