"""Hostile answers through the real window: inert, responsive, nothing fetched.

Each test opens a ``MainWindow`` whose profile points at a byte server on
loopback that streams one hostile answer (``tests.faults.hostile``), sends a
prompt through the composer and waits for the answer to end. What the window
then shows is inspected structurally: the anchors and images of every
rendered Markdown segment, the visible text, what was saved. A second
loopback server counts requests, so "nothing is fetched" is "zero hits".
While big answers stream, a ``QTimer`` probe measures how late the event
loop runs it: responsiveness as structure (the loop never stops for long),
with a generous bound, not a timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel

from desktop_app.core.profiles import Profile
from desktop_app.qt.main_window import MainWindow
from desktop_app.qt.message_widget import MessageWidget
from desktop_app.qt.streaming_markdown import DISPLAY_LIMIT
from tests.core.byte_server import Reply
from tests.faults.hostile import (
    BIDI,
    BIDI_CONTROLS,
    CONTROLS,
    ESCAPES,
    answer_reply,
    counting_server,
    markup,
    nested,
    pieces_of,
)
from tests.faults.sources import scripted
from tests.qt.shell_helpers import Catch, open_window, send, wait_until

pytestmark = pytest.mark.asyncio

# The event loop may be late by this much at worst while a huge answer streams
# and settles (measured on the shared 2-core VM: ~0.2 s while streaming, 0.13-0.16 s
# while the 100k-line fence settles; it was 0.9-1.1 s when the finished fence was
# moved into the settled column and laid out again). Generous on purpose: this
# proves the loop keeps running, it does not time the renderer (benchmarks/ do).
MAX_LATENESS = 2.5
SETTLE_TIMEOUT = 60.0


class LatenessProbe:
    """A 10 ms ``QTimer``; ``worst`` is the most it ever fired late."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms / 1000
        self.worst = 0.0
        self.fired = 0
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last - self.interval)
        self._last = now
        self.fired += 1

    def __enter__(self) -> LatenessProbe:
        self._last = time.monotonic()
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.stop()


@asynccontextmanager
async def window_answering(reply: Reply, full: str) -> AsyncIterator[MainWindow]:
    async with scripted(reply, full=full) as target:
        profile = Profile(name="Hostile", provider="openai", base_url=target.base_url, model="m")
        async with open_window([profile]) as window:
            yield window


async def answer_and_settle(window: MainWindow, prompt: str) -> tuple[str, str, MessageWidget]:
    """Send, wait for the end and for the view to show it all (without forcing a flush)."""
    done = Catch(window.chat.answerFinished)
    message_id = await send(window, prompt)
    _cid, _mid, status = await done.wait()
    widget = window.chat_view.message_widget(message_id)
    assert widget is not None

    def settled() -> bool:
        body = widget.body
        return (
            widget.view.status != "streaming"
            and not widget.backlog
            and (body is None or not body.has_pending_renders)
        )

    await wait_until(settled, SETTLE_TIMEOUT)
    return message_id, str(status), widget


def documents(widget: MessageWidget) -> list[QTextDocument]:
    assert widget.body is not None
    return [segment.document() for segment in widget.body.segments()]


def anchors_and_images(widget: MessageWidget) -> tuple[list[str], int]:
    """Every anchor href and the number of image fragments in the rendered answer."""
    hrefs: list[str] = []
    images = 0
    for document in documents(widget):
        block = document.begin()
        while block.isValid():
            fragments = block.begin()
            while not fragments.atEnd():
                fmt = fragments.fragment().charFormat()
                if fmt.isAnchor():
                    hrefs.append(fmt.anchorHref())
                if fmt.isImageFormat():
                    images += 1
                fragments += 1
            block = block.next()
    return hrefs, images


async def test_markup_is_inert_links_are_web_only_and_nothing_is_fetched() -> None:
    with counting_server() as (base, hits):
        answer = markup(base)
        async with window_answering(answer_reply(pieces_of(answer, 7)), answer) as window:
            message_id, status, widget = await answer_and_settle(window, "render this")
            hrefs, images = anchors_and_images(widget)
            shown = window.chat_view.displayed_text(message_id)
            await asyncio.sleep(0.3)  # a fetch, if anything made one, would have arrived
            stored = window.services.history.get_message(int(message_id)).text
        assert hits == []
    assert status == "complete"
    assert images == 0  # images become text links; nothing is embedded or loaded
    assert hrefs  # the web links are links
    for href in hrefs:
        assert href.startswith(("http://", "https://", "copy-code:")), href
    assert not any(s in " ".join(hrefs) for s in ("javascript:", "file:", "data:", "vbscript:"))
    assert "<script>" in shown  # raw HTML is shown as text, never interpreted
    assert "[image: remote image]" in shown
    assert stored == answer


async def test_controls_nul_escapes_and_bidi_overrides_are_shown_visibly() -> None:
    answer = ESCAPES + "\n\n" + CONTROLS + "\n\n" + BIDI
    async with window_answering(answer_reply(pieces_of(answer, 3)), answer) as window:
        message_id, status, _widget = await answer_and_settle(window, "controls")
        shown = window.chat_view.displayed_text(message_id)
        stored = window.services.history.get_message(int(message_id)).text
    assert status == "complete"
    assert "\x00" not in shown
    assert "\x1b" not in shown
    assert not BIDI_CONTROLS.intersection(shown)
    assert "␀" in shown  # made visible, not silently dropped
    assert "␛" in shown
    assert "‹U+202E›" in shown
    assert stored == answer  # the history keeps the answer as sent


async def test_markdown_nested_10000_deep_renders_without_recursion_error() -> None:
    answer = nested(10_000)
    async with window_answering(answer_reply(pieces_of(answer, 500)), answer) as window:
        with LatenessProbe() as probe:
            message_id, status, _widget = await answer_and_settle(window, "nest")
        shown = window.chat_view.displayed_text(message_id)
        raw = window.chat_view.raw_text(message_id)
    assert status == "complete"  # a RecursionError would have ended it as an error
    assert raw == answer
    for words in ("deep quote", "deep item", "deep number", "deep mix"):
        assert words in shown
    assert shown.rstrip().endswith("the end")
    assert probe.worst < MAX_LATENESS


async def test_an_unclosed_100k_line_fence_streams_while_the_window_stays_responsive() -> None:
    fence = "Here is the file:\n\n```python\n" + "x = 1\n" * 100_000  # never closed
    reply = answer_reply(pieces_of(fence, 60), per_chunk=50)  # 10k deltas, 50 per write
    async with window_answering(reply, fence) as window:
        with LatenessProbe() as probe:
            message_id, status, widget = await answer_and_settle(window, "show me the file")
        raw = window.chat_view.raw_text(message_id)
        shown = window.chat_view.displayed_text(message_id)
        stored = window.services.history.get_message(int(message_id)).text
        notice = widget.findChild(QLabel, "truncationNotice")
        assert notice is not None
        assert notice.isVisible()
        notice_text = notice.text()
    assert status == "complete"
    assert raw == stored == fence
    assert "```" not in shown  # an open code block, not raw backticks
    # The window shows the first DISPLAY_LIMIT characters as code and says the rest is kept.
    assert shown.startswith("Here is the file:")
    assert shown.count("x = 1") > 80_000
    assert len(shown) <= DISPLAY_LIMIT * 1.1
    assert f"{len(fence):,}" in notice_text
    assert probe.fired > 10  # the timer kept firing throughout
    assert probe.worst < MAX_LATENESS, f"the event loop stalled for {probe.worst:.2f} s"


async def test_a_single_20_mb_line_streams_in_and_is_kept_whole() -> None:
    line = "0123456789" * 2_000_000
    async with window_answering(answer_reply(pieces_of(line, 100_000)), line) as window:
        with LatenessProbe() as probe:
            message_id, status, _widget = await answer_and_settle(window, "one line")
        raw = window.chat_view.raw_text(message_id)
        stored = window.services.history.get_message(int(message_id)).text
    assert status == "complete"
    assert len(raw) == 20_000_000
    assert raw == stored == line
    assert probe.worst < MAX_LATENESS, f"the event loop stalled for {probe.worst:.2f} s"
