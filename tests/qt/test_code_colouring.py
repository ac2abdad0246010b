"""A long code block that finished streaming is coloured in place, not rendered again.

pytest-qt offscreen. What is checked: the shown text is kept (same segment,
same text, the closing fence gone), Pygments' colours end up on its lines,
copying gives the raw code, and the colouring stops cleanly when the message
is shown anew.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QTextDocument
from pytestqt.qtbot import QtBot

from desktop_app.qt.block_highlighter import line_formats, remove_closing_fence
from desktop_app.qt.markdown import HtmlStyle
from desktop_app.qt.markdown_body import MarkdownBody
from desktop_app.qt.markdown_segment import MarkdownSegment
from desktop_app.qt.streaming_markdown import TAIL_RENDER_LIMIT

CODE = "".join(f"def step_{i}(value):\n    return value * {i}  # keep {i}\n" for i in range(400))
assert len(CODE) > TAIL_RENDER_LIMIT  # streams in append mode


def stream(body: MarkdownBody, text: str, chunk: int = 700) -> None:
    body.begin()
    for start in range(0, len(text), chunk):
        body.append(text[start : start + chunk])
        body.flush()


def coloured_lines(document: QTextDocument) -> int:
    count, block = 0, document.begin()
    while block.isValid():
        if any(r.format.foreground().color().name() != "#000000" for r in block.layout().formats()):
            count += 1
        block = block.next()
    return count


@pytest.fixture
def body(qtbot: QtBot) -> MarkdownBody:
    widget = MarkdownBody(HtmlStyle())
    qtbot.addWidget(widget)
    widget.resize(700, 400)
    widget.show()
    return widget


def test_a_long_streamed_block_keeps_its_segment_and_gets_coloured(
    body: MarkdownBody, qtbot: QtBot
) -> None:
    stream(body, "```python\n" + CODE + "```\n")
    assert body._stream.tail_in_append_mode
    shown = body.segments()[-1]
    body.finish()
    assert body.segments()[-1] is shown  # kept: no new import of the whole block
    qtbot.waitUntil(lambda: not body.has_pending_renders, timeout=10_000)
    document = shown.document()
    assert "```" not in shown.toPlainText()
    assert shown.toPlainText().partition("\n")[2] == CODE.removesuffix("\n")
    assert coloured_lines(document) >= 800  # every line has a keyword, a number or a comment
    code_ids = [k for k in (*body._codes, *body._tail_codes) if body.code(k) is not None]
    assert [body.code(k) for k in code_ids] == [CODE.removesuffix("\n")]


def test_a_closing_fence_already_shown_is_removed(body: MarkdownBody, qtbot: QtBot) -> None:
    text = "```python\n" + CODE + "```"
    stream(body, text)
    body.append("\n")  # the fence line completes only now
    body.flush()
    body.finish()
    qtbot.waitUntil(lambda: not body.has_pending_renders, timeout=10_000)
    assert "```" not in body.plain_text()
    assert body.plain_text().endswith("# keep 399")


def test_showing_the_message_anew_stops_the_colouring(body: MarkdownBody, qtbot: QtBot) -> None:
    stream(body, "```python\n" + CODE + "```\n")
    body.finish()
    body.set_text("Replaced.")  # e.g. regenerate: late colours must not land anywhere
    qtbot.wait(100)
    assert not body.has_pending_renders
    assert body.plain_text() == "Replaced."


def test_finish_pending_colours_and_copy(body: MarkdownBody, qtbot: QtBot) -> None:
    stream(body, "```python\n" + CODE + "```\n")
    body.finish()
    qtbot.waitUntil(lambda: not body._colourer._jobs, timeout=10_000)  # lexed on the worker
    body.finish_pending_colours()
    assert not body.has_pending_renders  # all lines coloured at once
    assert coloured_lines(body.segments()[-1].document()) >= 800
    code_id = next(iter(body._codes))
    body.segments()[-1].anchorClicked.emit(QUrl(f"copy-code:{code_id}"))
    assert QGuiApplication.clipboard().text() == CODE.removesuffix("\n")


def test_line_formats_follow_the_lines() -> None:
    formats = line_formats('x = "a"\n# note\nprint(x)\n', "python", "default")
    assert formats is not None
    assert len(formats) == 4  # three lines and the empty one after the last newline
    assert any(colour for _s, _l, colour, _b, _i in formats[1])  # the comment
    assert line_formats("plain", "no-such-language", "default") is None
    assert line_formats("x\n" * 4_000, "python", "default") is None  # beyond the line cap


def test_remove_closing_fence_keeps_code_lines(qtbot: QtBot) -> None:
    segment = MarkdownSegment()
    qtbot.addWidget(segment)
    segment.setPlainText("python Copy\nx = 1\n```\n\n")
    remove_closing_fence(segment)
    assert segment.toPlainText() == "python Copy\nx = 1"
    segment.setPlainText("python Copy\nx = '```'")
    remove_closing_fence(segment)
    assert segment.toPlainText() == "python Copy\nx = '```'"


def test_blocks_after_a_kept_code_block_stay_below_it_and_nothing_moves(
    body: MarkdownBody, qtbot: QtBot
) -> None:
    # The kept block stays where it is (moving a huge document into another column laid it
    # out again: ~1 s for the 100k-line fence); later blocks settle in a column after it.
    text = "Intro paragraph.\n\n```python\n" + CODE + "```\n\nAfter the code.\n\n"
    text += "```python\n" + CODE + "```\n\nThe end."
    stream(body, text)
    body.finish()
    qtbot.waitUntil(lambda: not body.has_pending_renders, timeout=10_000)
    segments = body.segments()
    tops = [s.mapTo(body, s.rect().topLeft()).y() for s in segments]
    assert tops == sorted(tops)  # shown in the order they were written
    shown = body.plain_text()
    assert shown.index("Intro") < shown.index("# keep 399") < shown.index("After the code")
    assert shown.rindex("# keep 399") < shown.index("The end.")
    kept = [s for s in segments if "# keep 0" in s.toPlainText()]
    assert len(kept) == 2
    assert all(s.parentWidget() is body for s in kept)  # not reparented
    body.set_text("Shown anew.")  # the columns opened after kept blocks go with them
    assert body.plain_text() == "Shown anew."
