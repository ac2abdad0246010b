"""Incremental Markdown: cut a growing answer into finished blocks and an open tail.

Owns the decisions that keep streaming cheap (STYLE "Keeping render work off
the hot path", research/performance.md section 3 ``md_tail``):

- ``BlockSplitter`` cuts the text into top-level blocks. A cut is made only
  where rendering the two sides apart gives the same result as rendering them
  together, decided from the first characters of a line after a blank line,
  outside a fenced code block. The decision for a line never depends on later
  lines, so any chunking of the same text gives the same blocks (the property
  the tests check with random chunk sizes).
- ``StreamingMarkdown`` keeps the raw text (the source of truth), feeds the
  splitter at most ``budget`` characters per step, and says for the open tail
  whether to re-render it (small) or only append the new text (huge), so the
  work per flush is bounded whatever the message length. An unclosed fence is
  rendered with a synthetic closing fence, so it shows as code, not backticks.

Must not: import Qt, render HTML, or read a clock (callers time things).
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass, field

# Beyond this many characters the open tail is no longer re-rendered each flush:
# new text is appended as plain text until the block closes (then rendered once).
TAIL_RENDER_LIMIT = 12_000
# Characters of one message that are shown at all; the rest stays in the raw
# text (copyable) and a notice says so. Qt lays out ~0.5 us per character.
DISPLAY_LIMIT = 500_000
# Characters consumed per step when the caller does not say.
DEFAULT_BUDGET = 64_000

_FENCE_OPEN = re.compile(r" {0,3}(?:(`{3,})[^`]*|(~{3,}).*)")
_FENCE_PARTIAL = re.compile(r" {0,3}(?:`{1,2}|~{1,2})")
_ORDERED = re.compile(r"\d{1,9}")


def _fence_closes(line: str, char: str, length: int) -> bool:
    stripped = line.rstrip("\n").rstrip(" \t")
    body = stripped.lstrip(" ")
    if len(stripped) - len(body) > 3 or len(body) < length:
        return False
    return body == char * len(body)


def _starts_cut(head: str, complete: bool) -> bool | None:
    """May a new block start with a line that begins with ``head``?

    ``None`` means "cannot tell yet" (need more characters). A line that could
    continue the previous block (indented, or a list item that may continue a
    list) is never a cut.
    """
    if not head:
        return None if not complete else False
    first = head[0]
    if first in " \t\n":
        return False
    if first in "-+*":
        if len(head) < 2:
            return None if not complete else False
        return head[1] not in " \t\n"
    if first.isdigit():
        match = _ORDERED.match(head)  # up to 9 digits: a possible ordered-list number
        assert match is not None
        end = match.end()
        if end == len(head):
            return None if not complete else True
        if head[end] not in ".)":
            return True  # a tenth digit or any other character: not a list item
        if end + 1 == len(head):
            return None if not complete else False
        return head[end + 1] not in " \t\n"
    return True


class BlockSplitter:
    """Feed text, get back the blocks that can no longer change."""

    __slots__ = (
        "_block",
        "_decided",
        "_fence",
        "_has_content",
        "_head",
        "_partial",
        "_prev_blank",
    )

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._block: list[str] = []  # complete lines of the open block
        self._partial: list[str] = []  # pieces of the incomplete last line
        self._head = ""  # its first few characters, enough to decide a cut
        self._decided = False  # the cut before the incomplete line is decided
        self._fence: tuple[str, int] | None = None  # open top-level fence
        self._prev_blank = True
        self._has_content = False

    def feed(self, text: str) -> list[str]:
        """Add text; return the blocks it finished, in order."""
        finished: list[str] = []
        pos = 0
        while pos < len(text):
            newline = text.find("\n", pos)
            piece = text[pos:] if newline < 0 else text[pos : newline + 1]
            pos += len(piece)
            if len(self._head) < 12:
                self._head += piece[: 12 - len(self._head)]
            self._partial.append(piece)
            complete = newline >= 0
            if not self._decided:
                self._decide(finished, complete)
            if complete:
                self._end_line()
        return finished

    def _decide(self, finished: list[str], complete: bool) -> None:
        if self._fence is not None or not self._prev_blank or not self._has_content:
            self._decided = True
            return
        verdict = _starts_cut(self._head, complete)
        if verdict is None:
            return
        self._decided = True
        if verdict:
            finished.append("".join(self._block))
            self._block = []
            self._has_content = False

    def _end_line(self) -> None:
        line = "".join(self._partial)
        self._partial = []
        self._head = ""
        self._decided = False
        self._block.append(line)
        if self._fence is not None:
            if _fence_closes(line, *self._fence):
                self._fence = None
            self._prev_blank = False
            self._has_content = True
            return
        match = _FENCE_OPEN.fullmatch(line.rstrip("\n"))
        if match:
            marker = match.group(1) or match.group(2)
            self._fence = (marker[0], len(marker))
        blank = not line.strip()
        self._prev_blank = blank
        self._has_content = self._has_content or not blank

    def finish(self) -> str:
        """End of text: the open tail becomes the last block (may be empty)."""
        block = "".join(self._block) + "".join(self._partial)
        self._reset()
        return block

    @property
    def tail(self) -> str:
        """The open tail as it stands (complete lines plus the incomplete one)."""
        return "".join(self._block) + "".join(self._partial)

    def tail_length(self) -> int:
        return sum(map(len, self._block)) + sum(map(len, self._partial))

    def render_source(self) -> str:
        """The tail as Markdown to render now: an open fence gets a synthetic
        closing fence, and a half-typed fence line is held back (no flash of
        raw backticks)."""
        body = "".join(self._block)
        partial = "".join(self._partial)
        fence = self._fence
        if fence is not None:
            if partial and _fence_closes(partial, fence[0], 1):
                partial = ""  # probably the closing fence arriving
        elif partial:
            if _FENCE_PARTIAL.fullmatch(partial):
                partial = ""
            else:
                match = _FENCE_OPEN.fullmatch(partial)
                if match:
                    marker = match.group(1) or match.group(2)
                    fence = (marker[0], len(marker))
        source = body + partial
        if fence is not None:
            if source and not source.endswith("\n"):
                source += "\n"
            source += fence[0] * max(fence[1], 3)
        return source

    @property
    def in_fence(self) -> bool:
        return self._fence is not None


def split_blocks(text: str) -> list[str]:
    """All blocks of a complete text (what streaming it in any chunks yields)."""
    splitter = BlockSplitter()
    blocks = splitter.feed(text)
    last = splitter.finish()
    if last:
        blocks.append(last)
    return blocks


class TailMode(enum.Enum):
    RENDER = "render"  # re-render the tail from ``tail_source``
    # Append ``tail_append`` as plain text to what is shown; when ``tail_source``
    # is set too, first re-render the tail from it (the switch to appending).
    APPEND = "append"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class Step:
    """What changed in one step, for the view to apply."""

    finished: list[str] = field(default_factory=list)
    tail_mode: TailMode = TailMode.UNCHANGED
    tail_source: str = ""
    tail_append: str = ""
    truncated: bool = False  # the display limit was reached (notice to show)
    # Index in ``finished`` of the block the view has been showing as an
    # append-mode tail: its display can be kept instead of built again.
    adopted: int | None = None
    adopted_append: str = ""  # its text not shown yet (append it, then keep the display)


class StreamingMarkdown:
    """The raw text of one message and the incremental state of its display."""

    def __init__(
        self,
        *,
        tail_render_limit: int = TAIL_RENDER_LIMIT,
        display_limit: int = DISPLAY_LIMIT,
    ) -> None:
        self._raw: list[str] = []
        self._raw_len = 0
        self._pending: deque[str] = deque()
        self._pending_len = 0
        self._shown = 0  # characters handed to the splitter
        self._splitter = BlockSplitter()
        self._tail_render_limit = tail_render_limit
        self._display_limit = display_limit
        self._appending = False  # the tail is in append mode
        self._tail_slow = False
        self._closed = False

    # input -------------------------------------------------------------
    def feed(self, text: str) -> None:
        if not text:
            return
        self._raw.append(text)
        self._raw_len += len(text)
        room = self._display_limit - self._shown - self._pending_len
        if room > 0:
            shown = text[:room]
            self._pending.append(shown)
            self._pending_len += len(shown)

    @property
    def raw(self) -> str:
        if len(self._raw) > 1:
            self._raw = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def raw_length(self) -> int:
        return self._raw_len

    @property
    def backlog(self) -> int:
        """Characters received but not yet shown (bounded by the display limit)."""
        return self._pending_len

    @property
    def truncated(self) -> bool:
        return self._raw_len > self._display_limit

    @property
    def tail_in_append_mode(self) -> bool:
        return self._appending

    @property
    def tail_was_slow(self) -> bool:
        return self._tail_slow

    def mark_tail_slow(self) -> None:
        """The view found re-rendering the tail too slow: append until it closes."""
        self._tail_slow = True

    # stepping ----------------------------------------------------------
    def step(self, budget: int = DEFAULT_BUDGET) -> Step:
        """Consume up to ``budget`` pending characters."""
        taken: list[str] = []
        while self._pending and budget > 0:
            chunk = self._pending.popleft()
            if len(chunk) > budget:
                self._pending.appendleft(chunk[budget:])
                chunk = chunk[:budget]
            taken.append(chunk)
            budget -= len(chunk)
            self._pending_len -= len(chunk)
        text = "".join(taken)
        self._shown += len(text)
        step = Step(truncated=self.truncated and not self._pending)
        if not text:
            return step
        was_appending = self._appending
        shown_tail = self._splitter.tail_length() if was_appending else 0
        finished = self._splitter.feed(text)
        if finished:
            step.finished = finished
            if was_appending:
                # The old tail is finished[0]; the view shows all of it but
                # what this step added, which it appends before keeping it.
                step.adopted = 0
                step.adopted_append = finished[0][shown_tail:]
            self._appending = False
            self._tail_slow = False
            step.tail_mode = TailMode.RENDER
            step.tail_source = self._splitter.render_source()
            self._maybe_append_mode(step, fresh=True)
            return step
        if self._appending:
            step.tail_mode = TailMode.APPEND
            step.tail_append = text
            return step
        step.tail_mode = TailMode.RENDER
        step.tail_source = self._splitter.render_source()
        self._maybe_append_mode(step, fresh=False, new_text=text)
        return step

    def _maybe_append_mode(self, step: Step, *, fresh: bool, new_text: str = "") -> None:
        """Switch a tail that got too big (or slow) to appending.

        At the switch the tail is rendered once more, but only its first
        ``tail_render_limit`` characters (an open fence still closed
        synthetically, so the appended lines land inside the code block); the
        rest is appended as text. From then on each step only appends.
        """
        too_big = self._splitter.tail_length() > self._tail_render_limit
        if not (too_big or self._tail_slow):
            return
        self._appending = True
        step.tail_mode = TailMode.APPEND
        if not fresh and not too_big:
            step.tail_append = new_text  # slow, not big: keep what is shown
            step.tail_source = ""
            return
        tail = self._splitter.tail
        limit = self._tail_render_limit
        cut = tail.rfind("\n", 0, limit) + 1
        if cut < limit // 2:
            # One huge line: render a short prefix of it (Qt lays out a long
            # paragraph as one piece), the rest is appended in paragraphs.
            cut = min(limit // 3, len(tail))
            space = tail.rfind(" ", 0, cut)
            if space > cut // 2:
                cut = space + 1  # between words
        prefix = BlockSplitter()
        prefix.feed(tail[:cut])
        step.tail_source = prefix.render_source()
        # The rendering drops the prefix's last line break (a code block's or a
        # paragraph's end): the appended rest starts on a line of its own.
        step.tail_append = ("\n" if tail[cut - 1 : cut] == "\n" else "") + tail[cut:]

    def close(self) -> Step:
        """End of the message: the tail becomes a finished block.

        Call it with no backlog (step until ``backlog`` is 0 first) so that an
        append-mode tail is shown whole and can be kept as it is (``adopted``).
        """
        step = self.step(budget=self._pending_len) if self._pending else Step()
        was_appending = self._appending and not step.finished
        last = self._splitter.finish()
        self._closed = True
        if last:
            step.finished.append(last)
            if was_appending:
                step.adopted = len(step.finished) - 1
                step.adopted_append = step.tail_append
        step.tail_mode = TailMode.RENDER
        step.tail_source = ""
        step.tail_append = ""
        step.truncated = self.truncated
        self._appending = False
        return step

    @property
    def closed(self) -> bool:
        return self._closed
