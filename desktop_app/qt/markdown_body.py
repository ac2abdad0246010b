"""The Markdown body of one message: a few stacked, auto-sized QTextBrowsers.

Owns how a message's text reaches the screen. Finished blocks are rendered
once and collected in "settled" segments (a segment is re-set only while it
is small, so that costs a bounded amount); the open tail lives in its own
segment and is the only thing re-rendered per flush. Blocks too big to render
on the GUI thread are rendered on a worker thread and swapped in when ready
(STYLE: heavy Markdown for huge messages leaves the loop).

Why segments and not one document edited with QTextCursor.insertHtml: Qt
merges the first inserted paragraph into the current block and drops its
block format (margins, heading level, list membership), so the incremental
document would not look like the one-shot one.

Links: only http/https are opened (QDesktopServices) and announced with
``linkActivated``; ``copy-code:`` links copy a code block; anything else is
refused with ``linkRefused``. ``loadResource`` is never overridden, and the
HTML never contains <img>, so nothing is fetched.

Must not: parse Markdown itself (markdown.py), decide block cuts
(streaming_markdown.py), or know about the chat (chat_view.py).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_app.qt.block_highlighter import CodeColourer, remove_closing_fence
from desktop_app.qt.markdown import (
    COPY_CODE_SCHEME,
    MARKDOWN_LIMIT,
    HtmlStyle,
    RenderedBlock,
    breakable,
    is_safe_url,
    lone_fence,
    plain_html,
    render_block,
    sanitize_text,
    warm_up,
)
from desktop_app.qt.markdown_segment import MarkdownSegment, chop_paragraphs
from desktop_app.qt.render_worker import RenderBridge, submit
from desktop_app.qt.streaming_markdown import Step, StreamingMarkdown, TailMode

# Re-exported for callers that knew them here.
__all__ = [
    "MarkdownBody",
    "MarkdownSegment",
    "shutdown_render_worker",
    "warm_up_in_background",
]

# Finished blocks longer than this are rendered on the worker thread.
SYNC_RENDER_LIMIT = 16_000
# A settled segment takes more blocks while its HTML is shorter than this: it
# is re-set whole when a block joins it (Qt imports ~1 ms per 2,000 characters
# of our HTML), so this bounds that cost, at the price of more widgets.
SEGMENT_HTML_LIMIT = 8_000
# Re-rendering the tail slower than this switches it to plain appends.
SLOW_TAIL_SECONDS = 0.025
_FENCE_END = re.compile(r"\n? {0,3}(?:`{3,}|~{3,})[ \t]*\n*\Z")


# The one worker thread (renders queue up rather than run in parallel, so the
# GIL is shared with the GUI thread as little as possible). Created lazily.
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _render_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="markdown")
        return _executor


def shutdown_render_worker(*, wait: bool = True) -> None:
    """Stop the worker thread (at exit): queued renders are dropped, a running
    one finishes. Safe to call twice; a later render starts a new worker."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait, cancel_futures=True)


_warmed = False


def warm_up_in_background() -> None:
    """Compile the parser and common lexers on the worker thread, once per process."""
    global _warmed
    if not _warmed:
        _warmed = True
        _render_executor().submit(warm_up)


class _Settled:
    """A settled segment and the HTML of the blocks it shows."""

    __slots__ = ("blocks", "browser", "size")

    def __init__(self, browser: MarkdownSegment) -> None:
        self.browser = browser
        self.blocks: list[str] = []
        self.size = 0

    def show(self) -> None:
        self.browser.setHtml("".join(self.blocks))
        self.browser.fit()
        self.browser.setVisible(True)


class MarkdownBody(QWidget):
    """Shows Markdown that may still be growing; the raw text is the source of truth."""

    linkActivated = Signal(QUrl)
    linkRefused = Signal(str)
    codeCopied = Signal(str)
    renderFinished = Signal()  # a worker-thread render was swapped in

    def __init__(self, style: HtmlStyle, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._style = style
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        # Settled segments live in their own column: when only the tail grows,
        # Qt relays out two items here, not every segment of a long answer. An
        # adopted tail (``_adopt_tail``) stays where it is and a new column opens
        # after it: moving a huge document into the column would lay it out again.
        self._columns: list[tuple[QWidget, QVBoxLayout]] = []  # blocks settle in the last
        self._open_column()
        self._settled: list[_Settled] = []
        self._tail: MarkdownSegment | None = None
        self._tail_codes: dict[str, str] = {}
        self._codes: dict[str, str] = {}
        self._notice: QLabel | None = None
        self._stream = StreamingMarkdown()
        self._serial = itertools.count()
        self._generation = 0
        self._jobs: dict[int, tuple[_Settled, int, int]] = {}  # job -> segment, index, gen
        self._colourer = CodeColourer(_render_executor, self)
        self._colourer.finished.connect(self.renderFinished)
        self._bridge = RenderBridge(self)
        self._bridge.rendered.connect(self._on_rendered)
        self._last_tail_seconds = 0.0
        self._tail_serial = 0

    # public API -----------------------------------------------------------
    def set_text(self, text: str) -> None:
        """Show a complete text (history): rendered now, big blocks in the background."""
        self._reset()
        self._stream.feed(text)
        self._apply(self._stream.close())

    def begin(self, text: str = "") -> None:
        """Start streaming (optionally from already received text)."""
        self._reset()
        self._stream.feed(text)

    def append(self, text: str) -> None:
        """Queue streamed text; nothing is drawn until ``flush``."""
        self._stream.feed(text)

    def flush(self, budget: int | None = None) -> bool:
        """Show queued text (at most ``budget`` characters); True if more is queued."""
        if self._stream.backlog:
            step = self._stream.step(budget) if budget else self._stream.step(self._stream.backlog)
            self._apply(step)
        return self._stream.backlog > 0

    def finish(self) -> None:
        """The text is complete: show all of it, the tail rendered as a finished block."""
        if not self._stream.closed:
            while self._stream.backlog:
                self._apply(self._stream.step(self._stream.backlog))
            self._apply(self._stream.close())

    def set_style(self, style: HtmlStyle) -> None:
        """Re-render everything with new colours (theme change)."""
        self._style = style
        if self._tail is not None:
            self._tail.set_link_colour(style.link)
        raw, closed = self._stream.raw, self._stream.closed
        if closed:
            self.set_text(raw)
        else:
            self.begin(raw)
            self.flush()

    @property
    def streaming(self) -> bool:
        return not self._stream.closed

    @property
    def has_pending_renders(self) -> bool:
        """Worker renders not swapped in yet, or a code block still being coloured."""
        return bool(self._jobs) or self._colourer.pending

    def finish_pending_colours(self) -> None:
        """Colour the code blocks being coloured now, not over the next frames (tests)."""
        self._colourer.finish_now()

    @property
    def backlog(self) -> int:
        return self._stream.backlog

    @property
    def last_tail_seconds(self) -> float:
        return self._last_tail_seconds

    def raw_text(self) -> str:
        return self._stream.raw

    def plain_text(self) -> str:
        """The text as displayed (what a user could select and copy)."""
        parts = [s.browser.toPlainText() for s in self._settled]
        if self._tail is not None and self._tail.isVisibleTo(self):
            parts.append(self._tail.toPlainText())
        return "\n".join(p for p in parts if p)

    def segments(self) -> list[MarkdownSegment]:
        browsers = [s.browser for s in self._settled]
        if self._tail is not None and self._tail.isVisibleTo(self):
            browsers.append(self._tail)
        return browsers

    def code(self, code_id: str) -> str | None:
        return self._codes.get(code_id, self._tail_codes.get(code_id))

    # applying steps --------------------------------------------------------
    def _reset(self) -> None:
        self._generation += 1
        self._jobs.clear()
        self._colourer.reset()
        for settled in self._settled:
            settled.browser.deleteLater()
        self._settled.clear()
        for box, _layout in self._columns[1:]:  # the columns opened after adopted tails
            box.deleteLater()
        del self._columns[1:]
        self._codes.clear()
        self._tail_codes.clear()
        if self._tail is not None:
            self._tail.clear()
            self._tail.setVisible(False)
        if self._notice is not None:
            self._notice.setVisible(False)
        self._stream = StreamingMarkdown()

    def _apply(self, step: Step) -> None:
        if step.finished:
            slow = self._stream.tail_was_slow
            touched: list[_Settled] = []
            for index, block in enumerate(step.finished):
                if (
                    index == step.adopted
                    and self._tail is not None
                    and self._tail.isVisibleTo(self)
                ):
                    self._adopt_tail(block, step.adopted_append)
                    continue
                settled = self._settle(block, background=slow or len(block) > SYNC_RENDER_LIMIT)
                if settled is not None and settled not in touched:
                    touched.append(settled)
            for settled in touched:  # one setHtml per segment, however many blocks closed
                settled.show()
            self._tail_codes = {}
            if not (step.tail_source.strip() or step.tail_append):
                self._clear_tail()
            elif self._tail is not None and step.tail_mode is TailMode.APPEND:
                self._tail.clear()  # a fresh tail: appended text starts from nothing
        if step.tail_mode is TailMode.RENDER:
            if step.tail_source.strip():
                self._render_tail(step.tail_source)
            else:
                self._clear_tail()
        elif step.tail_mode is TailMode.APPEND:
            if step.tail_source.strip():
                self._render_tail(step.tail_source, timed=False)
            self._append_to_tail(step.tail_append)
        if self._stream.truncated:
            self._show_notice()

    def _open_column(self, after: QWidget | None = None) -> None:
        """A new column for settled segments, after ``after`` (else first)."""
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._layout.insertWidget(0 if after is None else self._layout.indexOf(after) + 1, box)
        self._columns.append((box, layout))

    def _new_segment(self, parent: QWidget | None = None) -> MarkdownSegment:
        segment = MarkdownSegment(parent or self)
        segment.set_link_colour(self._style.link)
        segment.anchorClicked.connect(self._on_anchor)
        return segment

    def _settle(self, block: str, *, background: bool) -> _Settled | None:
        """Add a finished block to the last settled segment (shown by the caller)."""
        if not block.strip():
            return None
        prefix = f"b{next(self._serial)}."
        if background:
            html = plain_html(block)  # shown until the real rendering arrives
        else:
            rendered = render_block(block, self._style, code_prefix=prefix)
            html = rendered.html
            self._codes.update(rendered.codes)
        last = self._settled[-1] if self._settled else None
        if last is None or last.size + len(html) > SEGMENT_HTML_LIMIT:
            box, layout = self._columns[-1]
            last = _Settled(self._new_segment(box))
            self._settled.append(last)
            layout.addWidget(last.browser)
        last.blocks.append(html)
        last.size += len(html)
        if background:
            job = next(self._serial)
            self._jobs[job] = (last, len(last.blocks) - 1, self._generation)
            submit(
                _render_executor(),
                self._bridge,
                job,
                render_block,
                block,
                self._style,
                code_prefix=prefix,
            )
        return last

    def _adopt_tail(self, block: str, unshown: str) -> None:
        """Keep the append-mode tail's display as the finished block's segment.

        Building a huge block again would cost as much as showing it did (Qt
        lays out ~0.5 us per character): a code block stays as shown and is
        coloured in place over the next frames (``block_highlighter``); any
        other block too big for Markdown stays as shown; a smaller one is
        rendered on the worker and swapped in.
        """
        tail = self._tail
        assert tail is not None
        fence = lone_fence(sanitize_text(block))
        if fence is not None:
            self._append_to_tail(unshown)
            remove_closing_fence(tail)
        else:
            self._append_to_tail(
                _FENCE_END.sub("", unshown) if len(block) > MARKDOWN_LIMIT else unshown
            )
        self._tail = None
        self._tail_serial += 1
        # Not reparented into the column (that lays the whole document out again, ~1 s for
        # 500k characters): it stays in place and later blocks settle in a column after it.
        self._open_column(after=tail)
        settled = _Settled(tail)
        settled.size = SEGMENT_HTML_LIMIT + 1  # nothing else joins it
        self._settled.append(settled)
        self._codes.update(self._tail_codes)
        if fence is not None:
            for code_id in self._tail_codes:
                self._codes[code_id] = fence[1].removesuffix("\n")
        self._tail_codes = {}
        if fence is not None:
            self._colourer.colour(tail, fence[0], self._style.pygments_style)
            return
        if len(block) > MARKDOWN_LIMIT:
            return
        settled.blocks.append("")
        prefix = f"b{next(self._serial)}."
        job = next(self._serial)
        self._jobs[job] = (settled, 0, self._generation)
        submit(
            _render_executor(),
            self._bridge,
            job,
            render_block,
            block,
            self._style,
            code_prefix=prefix,
        )

    def _on_rendered(self, job: int, result: RenderedBlock | None) -> None:
        entry = self._jobs.pop(job, None)
        if entry is None or result is None:
            return
        settled, index, generation = entry
        if generation != self._generation or settled not in self._settled:
            return
        settled.size += len(result.html) - len(settled.blocks[index])
        settled.blocks[index] = result.html
        self._codes.update(result.codes)
        settled.show()
        self.renderFinished.emit()

    def _tail_segment(self) -> MarkdownSegment:
        if self._tail is None:
            self._tail = self._new_segment()
            # Last, but above the truncation notice if there is one.
            notice = self._layout.indexOf(self._notice) if self._notice is not None else -1
            self._layout.insertWidget(notice, self._tail)
        return self._tail

    def _clear_tail(self) -> None:
        self._tail_codes = {}
        if self._tail is not None and self._tail.isVisibleTo(self):
            self._tail.clear()
            self._tail.setVisible(False)

    def _render_tail(self, source: str, *, timed: bool = True) -> None:
        started = time.perf_counter()
        prefix = f"t{self._tail_serial}."
        rendered = render_block(source, self._style, code_prefix=prefix, streaming=True)
        tail = self._tail_segment()
        tail.setHtml(rendered.html)
        tail.fit()
        tail.setVisible(True)
        self._tail_codes = rendered.codes
        self._last_tail_seconds = time.perf_counter() - started
        if timed and self._last_tail_seconds > SLOW_TAIL_SECONDS:
            self._stream.mark_tail_slow()

    def _append_to_tail(self, text: str) -> None:
        tail = self._tail_segment()
        tail.setVisible(True)
        text = breakable(sanitize_text(text))
        # One insert for the whole delta (one layout pass), long lines cut.
        tail.append_plain(chop_paragraphs(text, tail.document().lastBlock().length() - 1))

    def _show_notice(self) -> None:
        if self._notice is None:
            self._notice = QLabel(self)
            self._notice.setObjectName("truncationNotice")
            self._notice.setWordWrap(True)
            self._layout.addWidget(self._notice)
        shown = f"{self._stream.raw_length:,}"
        self._notice.setText(
            f"This message is very long ({shown} characters). Only the beginning is shown; "
            "“Copy message” copies all of it."
        )
        self._notice.setVisible(True)

    # links -------------------------------------------------------------------
    def _on_anchor(self, url: QUrl) -> None:
        text = url.toString()
        if url.scheme() == COPY_CODE_SCHEME:
            code = self.code(text.partition(":")[2])
            if code is not None:
                QGuiApplication.clipboard().setText(code)
                self.codeCopied.emit(code)
            return
        if is_safe_url(text) and url.isValid():
            self.linkActivated.emit(url)
            QDesktopServices.openUrl(url)
            return
        self.linkRefused.emit(text[:200])
