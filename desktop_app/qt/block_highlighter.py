"""Colouring a long code block that finished streaming, in place, a slice per frame.

A code block too long to re-render on every flush streams as plain appended
text after its first part. When it closes, rendering it again as HTML and
swapping that in costs one long stall (Qt imports and lays out ~0.3 us per
character of highlighted HTML: ~100 ms for 2,000 short lines, more for long
ones). Instead, what is shown stays, and Pygments' colours are laid over it
as per-line layout formats (what ``QSyntaxHighlighter`` does): the text is
lexed on the worker thread (``line_formats``, Qt-free), and
``IncrementalHighlighter`` applies ``LINES_PER_STEP`` lines per event-loop
turn (~5 ms each). Nothing is re-imported, heights do not change.
``CodeColourer`` runs both steps for one message's blocks.

Must not: change the document's text, or touch Qt from ``line_formats``
(it runs on the worker thread).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, cast

import shiboken6
from pygments.styles import get_style_by_name
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextLayout,
)

from desktop_app.qt.code_highlight import HIGHLIGHT_CHAR_LIMIT, HIGHLIGHT_LINE_LIMIT, _lexer
from desktop_app.qt.markdown_segment import MarkdownSegment
from desktop_app.qt.render_worker import RenderBridge, submit

# Lines coloured per event-loop turn (~30 us each: ~5 ms per step).
LINES_PER_STEP = 150

# (start, length, colour "#rrggbb" or "", bold, italic) within one line.
Span = tuple[int, int, str, bool, bool]


def line_formats(code: str, language: str, style_name: str) -> list[list[Span]] | None:
    """Pygments' colours for each line of ``code``; None when it is not highlighted
    (unknown language, or beyond the size caps ``code_highlight`` applies)."""
    lexer = _lexer(language)
    if lexer is None or len(code) > HIGHLIGHT_CHAR_LIMIT:
        return None
    if code.count("\n") > HIGHLIGHT_LINE_LIMIT:
        return None
    style = get_style_by_name(style_name)
    lines: list[list[Span]] = [[]]
    column = 0
    for ttype, value in lexer.get_tokens(code):
        spec = style.style_for_token(ttype)
        colour = f"#{spec['color']}" if spec["color"] else ""
        styled = bool(colour or spec["bold"] or spec["italic"])
        for number, piece in enumerate(value.split("\n")):
            if number:
                lines.append([])
                column = 0
            if piece and styled:
                lines[-1].append((column, len(piece), colour, spec["bold"], spec["italic"]))
            column += len(piece)
    return lines


class IncrementalHighlighter(QObject):
    """Lays ``formats`` over the lines of ``segment`` from block ``first_block`` on."""

    finished = Signal()

    def __init__(
        self,
        segment: MarkdownSegment,
        first_block: int,
        formats: Sequence[Sequence[Span]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._segment = segment
        self._formats = formats
        self._line = 0
        self._block = segment.document().findBlockByNumber(first_block)
        self._cache: dict[tuple[str, bool, bool], QTextCharFormat] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.step)
        self._timer.start()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        self._timer.stop()

    def run_to_end(self) -> None:
        """Everything now (tests)."""
        while self.active:
            self.step()

    def step(self) -> None:
        if not shiboken6.isValid(self._segment):
            self._done()
            return
        block = self._block
        start = block.position() if block.isValid() else 0
        last = block
        for _ in range(LINES_PER_STEP):
            if not block.isValid() or self._line >= len(self._formats):
                break
            block.layout().setFormats(
                [
                    self._range(span)
                    for span in self._formats[self._line]
                    if span[0] < block.length()
                ]
            )
            last = block
            block = block.next()
            self._line += 1
        self._block = block
        if last.isValid():
            # Relayout (and repaint) only the lines just coloured.
            end = last.position() + last.length()
            self._segment.document().markContentsDirty(start, max(0, end - start))
        if not block.isValid() or self._line >= len(self._formats):
            self._done()

    def _done(self) -> None:
        self._timer.stop()
        self.finished.emit()

    def _range(self, span: Span) -> QTextLayout.FormatRange:
        start, length, colour, bold, italic = span
        key = (colour, bold, italic)
        char_format = self._cache.get(key)
        if char_format is None:
            char_format = QTextCharFormat()
            if colour:
                char_format.setForeground(QColor(colour))
            if bold:
                char_format.setFontWeight(QFont.Weight.Bold)
            if italic:
                char_format.setFontItalic(True)
            self._cache[key] = char_format
        result = QTextLayout.FormatRange()
        result.start = start
        result.length = length
        result.format = char_format
        return result


class CodeColourer(QObject):
    """Colours the shown code blocks of one message: lexing on the worker, then in place."""

    finished = Signal()  # one block is fully coloured

    def __init__(self, executor: Callable[[], Executor], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = executor
        self._bridge = RenderBridge(self)
        self._bridge.rendered.connect(self._on_lexed)
        self._serial = itertools.count()
        self._jobs: dict[int, MarkdownSegment] = {}
        self._active: list[IncrementalHighlighter] = []

    @property
    def pending(self) -> bool:
        return bool(self._jobs or self._active)

    def colour(self, segment: MarkdownSegment, language: str, style_name: str) -> None:
        """Colour the code shown in ``segment`` (block 0 is the code block's header)."""
        code = segment.toPlainText().partition("\n")[2]
        job = next(self._serial)
        self._jobs[job] = segment
        lex = cast(Any, line_formats)  # the bridge carries any result
        submit(self._executor(), self._bridge, job, lex, code, language, style_name)

    def reset(self) -> None:
        """Forget every block (the message is shown anew): late results are dropped."""
        self._jobs.clear()
        for highlighter in self._active:
            highlighter.stop()
            highlighter.deleteLater()
        self._active.clear()

    def finish_now(self) -> None:
        for highlighter in list(self._active):
            highlighter.run_to_end()

    def _on_lexed(self, job: int, formats: object) -> None:
        segment = self._jobs.pop(job, None)
        if segment is None or not isinstance(formats, list) or not shiboken6.isValid(segment):
            return
        highlighter = IncrementalHighlighter(segment, 1, formats, self)
        highlighter.finished.connect(lambda: self._done(highlighter))
        self._active.append(highlighter)

    def _done(self, highlighter: IncrementalHighlighter) -> None:
        if highlighter in self._active:
            self._active.remove(highlighter)
            highlighter.deleteLater()
            self.finished.emit()


def remove_closing_fence(segment: MarkdownSegment) -> None:
    """Drop the closing fence line (and blank lines after it) from a shown code block."""
    document = segment.document()
    block = document.lastBlock()
    while block.isValid() and not block.text().strip() and block.blockNumber() > 1:
        block = block.previous()
    marker = block.text().strip()
    if block.blockNumber() < 1 or len(marker) < 3 or set(marker) not in ({"`"}, {"~"}):
        return
    spacing = document.lastBlock().blockFormat().bottomMargin()
    cursor = QTextCursor(document)
    cursor.setPosition(block.position() - 1)  # the end of the line before it
    cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()
    last = QTextBlockFormat()
    last.setBottomMargin(spacing)  # the code block's spacing, now under its last line
    cursor.mergeBlockFormat(last)
    segment.fit()
