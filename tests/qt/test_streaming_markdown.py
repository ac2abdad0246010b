"""Incremental Markdown: any chunking of a text gives the same blocks and the same display.

The splitter decides every cut from complete information, so streaming a text
in random pieces must end exactly like rendering it at once; the tail policy
keeps the work per step bounded (append mode, display limit, budget).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytestqt.qtbot import QtBot

from desktop_app.qt.markdown import HtmlStyle
from desktop_app.qt.markdown_body import MarkdownBody
from desktop_app.qt.streaming_markdown import (
    BlockSplitter,
    StreamingMarkdown,
    TailMode,
    split_blocks,
)

SAMPLE = """# Streaming

A paragraph with **bold** text
that wraps onto a second line.

- item one
- item two

- item three (loose list)
  continued

1. first
2. second
   ```bash
   pip install x
   ```

Then a table:

| a | b |
|---|---|
| 1 | 2 |

```python
def f():

    return 1
```

> quote
lazy continuation

    indented code

   para indented by three
***
~~~
tilde fence with ``` inside
~~~
12345678901 is not a list
1) a list with parens
+ plus list
-not a list
final words without newline"""

LINES = st.sampled_from(
    [
        "text",
        "more text",
        "",
        "- item",
        "  continued",
        "1. one",
        "10) ten",
        "```",
        "```python",
        "~~~",
        "    indented",
        "> quote",
        "| a | b |",
        "|---|---|",
        "# heading",
        "***",
        "-dash",
        "*emph*",
        "1234567890",
        "   ```",
        "``",
    ]
)


def chunked(text: str, rng: random.Random, largest: int = 9) -> list[str]:
    pieces, i = [], 0
    while i < len(text):
        n = rng.randint(1, largest)
        pieces.append(text[i : i + n])
        i += n
    return pieces


def stream_blocks(pieces: list[str]) -> list[str]:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for piece in pieces:
        blocks += splitter.feed(piece)
    last = splitter.finish()
    return [*blocks, last] if last else blocks


# ------------------------------------------------------------------ the splitter


def test_blocks_are_cut_where_rendering_apart_is_safe() -> None:
    blocks = split_blocks("# T\n\npara\nline\n\n- a\n\n- b\n\nafter\n\n```\nx\n\ny\n```\n\nend")
    assert blocks == [
        "# T\n\n",
        "para\nline\n\n- a\n\n- b\n\n",  # a list may continue after a blank line
        "after\n\n",
        "```\nx\n\ny\n```\n\n",  # never cut inside a fence
        "end",
    ]


def test_the_blocks_add_up_to_the_text() -> None:
    assert "".join(split_blocks(SAMPLE)) == SAMPLE


@pytest.mark.parametrize("seed", range(40))
def test_any_chunking_gives_the_same_blocks(seed: int) -> None:
    rng = random.Random(seed)
    assert stream_blocks(chunked(SAMPLE, rng)) == split_blocks(SAMPLE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=30), st.integers(min_value=0, max_value=2**32 - 1))
def test_property_chunking_never_changes_the_blocks(lines: list[str], seed: int) -> None:
    text = "\n".join(lines)
    pieces = chunked(text, random.Random(seed), largest=6)
    blocks = stream_blocks(pieces)
    assert blocks == split_blocks(text)
    assert "".join(blocks) == text


def test_unclosed_fence_renders_with_a_synthetic_closing_fence() -> None:
    splitter = BlockSplitter()
    splitter.feed("Intro\n\n```python\nprint(1)\nprint(2")
    assert splitter.in_fence
    assert splitter.render_source() == "```python\nprint(1)\nprint(2\n```"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("para\n\n```", "```\n```"),  # an opening fence still typing its info string
        ("para\n\n```py", "```py\n```"),
        ("para\n\n``", ""),  # maybe the start of a fence: held back
        ("```\ncode\n``", "```\ncode\n```"),  # the closing fence arriving
        ("~~~~\ncode\n", "~~~~\ncode\n~~~~"),
    ],
)
def test_half_typed_fences_never_flash_as_backticks(text: str, expected: str) -> None:
    splitter = BlockSplitter()
    splitter.feed(text)
    assert splitter.render_source() == expected


# ------------------------------------------------------------------ the tail policy


def test_small_tails_are_re_rendered_and_finished_blocks_come_once() -> None:
    stream = StreamingMarkdown()
    stream.feed("one\n\ntw")
    step = stream.step()
    assert step.finished == ["one\n\n"]
    assert step.tail_mode is TailMode.RENDER
    assert step.tail_source == "tw"
    stream.feed("o")
    step = stream.step()
    assert step.finished == []
    assert step.tail_source == "two"
    final = stream.close()
    assert final.finished == ["two"]
    assert stream.raw == "one\n\ntwo"


def test_a_huge_open_block_switches_to_appending() -> None:
    stream = StreamingMarkdown(tail_render_limit=100)
    stream.feed("```\n" + "x = 1\n" * 10)
    assert stream.step().tail_mode is TailMode.RENDER
    stream.feed("y = 2\n" * 20)
    step = stream.step()
    # The switch: the first ~100 characters rendered (as code), the rest appended.
    assert step.tail_mode is TailMode.APPEND
    assert step.tail_source.startswith("```\nx = 1\n")
    assert step.tail_source.endswith("\n```")
    assert len(step.tail_source) <= 100 + 4
    assert step.tail_source[4:-3] + step.tail_append[1:] == "x = 1\n" * 10 + "y = 2\n" * 20
    assert step.tail_append.startswith("\n")  # the rest starts on its own line
    stream.feed("z\n")
    step = stream.step()
    assert (step.tail_mode, step.tail_source, step.tail_append) == (TailMode.APPEND, "", "z\n")
    stream.feed("```\n\nafter")
    step = stream.step()
    assert step.finished[0].endswith("z\n```\n\n")  # rendered once, whole, when it closes
    assert step.tail_mode is TailMode.RENDER
    assert step.tail_source == "after"


def test_a_slow_tail_switches_to_appending() -> None:
    stream = StreamingMarkdown()
    stream.feed("para")
    stream.step()
    stream.mark_tail_slow()
    stream.feed(" more")
    step = stream.step()
    assert (step.tail_mode, step.tail_append) == (TailMode.APPEND, " more")


def test_each_step_consumes_at_most_its_budget() -> None:
    stream = StreamingMarkdown()
    stream.feed("word " * 10_000)
    consumed = []
    while stream.backlog:
        before = stream.backlog
        stream.step(budget=4_096)
        consumed.append(before - stream.backlog)
    assert max(consumed) <= 4_096
    assert len(consumed) == -(-50_000 // 4_096)


def test_the_display_limit_keeps_the_raw_text_whole() -> None:
    stream = StreamingMarkdown(display_limit=1_000)
    stream.feed("a" * 600)
    stream.feed("b" * 600)
    assert stream.backlog == 1_000
    assert stream.truncated
    step = stream.close()
    assert sum(map(len, step.finished)) == 1_000
    assert stream.raw == "a" * 600 + "b" * 600


# ------------------------------------------------------------------ the Qt body


def shown_after_streaming(qtbot: QtBot, pieces: list[str], rng: random.Random) -> str:
    body = MarkdownBody(HtmlStyle())
    qtbot.addWidget(body)
    body.begin()
    for piece in pieces:
        body.append(piece)
        if rng.random() < 0.3:
            body.flush(rng.choice([None, 7, 50]))
    body.finish()
    return body.plain_text()


def shown_at_once(qtbot: QtBot, text: str) -> str:
    body = MarkdownBody(HtmlStyle())
    qtbot.addWidget(body)
    body.set_text(text)
    return body.plain_text()


@pytest.mark.parametrize("seed", range(6))
def test_streamed_display_equals_one_shot_display(qtbot: QtBot, seed: int) -> None:
    rng = random.Random(seed)
    streamed = shown_after_streaming(qtbot, chunked(SAMPLE, rng, largest=12), rng)
    assert streamed == shown_at_once(qtbot, SAMPLE)
    assert "Streaming" in streamed
    assert "pip install x" in streamed


def test_one_shot_display_matches_qt_rendering_the_whole_document(qtbot: QtBot) -> None:
    # Splitting into blocks must not change what is shown compared with one
    # document made of the whole text (block seams are paragraph breaks).
    from PySide6.QtGui import QTextDocument

    from desktop_app.qt.markdown import render_markdown

    whole = QTextDocument()
    whole.setHtml(render_markdown(SAMPLE))
    assert shown_at_once(qtbot, SAMPLE).split() == whole.toPlainText().split()


def test_unclosed_fence_is_shown_as_code_while_streaming(qtbot: QtBot) -> None:
    body = MarkdownBody(HtmlStyle())
    qtbot.addWidget(body)
    body.begin()
    for token in ["Here:\n\n", "``", "`py", "thon\nprint(", "'hi')\n", "x = 1"]:
        body.append(token)
        body.flush()
        assert "``" not in body.plain_text()
    tail = body.segments()[-1]
    code_blocks = [
        block for block in _blocks(tail.document()) if block.text() in ("print('hi')", "x = 1")
    ]
    assert len(code_blocks) == 2
    assert all(block.charFormat().fontFixedPitch() or _is_pre(block) for block in code_blocks)


def _blocks(document: object) -> list:  # type: ignore[type-arg]
    from PySide6.QtGui import QTextDocument

    assert isinstance(document, QTextDocument)
    found, block = [], document.begin()
    while block.isValid():
        found.append(block)
        block = block.next()
    return found


def _is_pre(block: object) -> bool:
    from PySide6.QtGui import QTextBlock

    assert isinstance(block, QTextBlock)
    return block.blockFormat().nonBreakableLines()


def test_the_render_worker_can_be_shut_down_and_restarted(qtbot: QtBot) -> None:
    from desktop_app.qt import markdown_body

    markdown_body.shutdown_render_worker()
    markdown_body.shutdown_render_worker()  # twice is fine
    body = MarkdownBody(HtmlStyle())
    qtbot.addWidget(body)
    body.set_text("```\n" + "x = 1\n" * 5_000 + "```\n")  # big: rendered on a new worker
    qtbot.waitUntil(lambda: not body.has_pending_renders, timeout=10_000)
    assert "x = 1" in body.plain_text()
