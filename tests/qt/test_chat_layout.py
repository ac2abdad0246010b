"""The chat's geometry: text boxes as tall as their text at every flush, nothing
widened by a long status, links readable in both themes, scroll_to_message.

pytest-qt offscreen. The checks run right after a flush, before Qt's event
loop has had a chance to catch up: what a frame painted at that moment shows.
"""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop_app.qt import chat_view as chat_view_module
from desktop_app.qt.chat_view import PAGE_SIZE, ChatView, MessageView
from desktop_app.qt.markdown import render_block
from desktop_app.qt.markdown_segment import MarkdownSegment
from desktop_app.qt.message_widget import MessageWidget
from desktop_app.qt.theme import DARK, LIGHT, Theme

LIST_ANSWER = (
    "Here is the plan:\n\n"
    + "".join(
        f"- Step {i}: a line long enough to wrap over two lines when the chat is narrow, "
        f"with **bold** and `code` in it\n"
        + ("  - a nested point under it\n" if i % 4 == 0 else "")
        for i in range(45)
    )
    + "\n| Day | Where |\n|---|---|\n"
    + "".join(f"| {d} | Place {d} |\n" for d in range(6))
    + "\n```python\n"
    + "".join(f"value_{i} = compute({i})  # line {i}\n" for i in range(30))
    + "```\n\nDone.\n"
)


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    chat = ChatView(theme=LIGHT)
    qtbot.addWidget(chat)
    chat.resize(520, 420)
    chat.show()
    qtbot.waitExposed(chat)
    return chat


def conversation(n: int) -> list[MessageView]:
    return [
        MessageView(f"m{i}", "user" if i % 2 == 0 else "assistant", f"Message number {i}")
        for i in range(n)
    ]


def layout_faults(view: ChatView) -> list[str]:
    """Text boxes shorter than their text, or sticking out of a parent."""
    faults = []
    for segment in view.findChildren(MarkdownSegment):
        if not segment.isVisibleTo(view):
            if segment.toPlainText().strip() and segment.parentWidget().isVisibleTo(view):
                faults.append("a segment with text is hidden")
            continue
        needed = math.ceil(segment.document().size().height())
        if segment.height() < needed:
            faults.append(f"segment {segment.height()} px tall, its text {needed} px")
        widget: QWidget = segment
        while not isinstance(widget, MessageWidget):
            parent = widget.parentWidget()
            assert parent is not None
            if not parent.rect().contains(widget.geometry()):
                faults.append(
                    f"{type(widget).__name__} {widget.geometry().getRect()} outside "
                    f"{type(parent).__name__} {parent.rect().getRect()}"
                )
            widget = parent
    container = view._container
    for message in view.findChildren(MessageWidget):
        if message.isVisibleTo(view) and not container.rect().contains(message.geometry()):
            faults.append(f"message {message.geometry().getRect()} outside the column")
    return faults


# ------------------------------------------------------------------ heights


def test_streamed_list_table_and_code_are_never_clipped(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("q", "user", "Plan a trip")])
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    flushes = 0
    for start in range(0, len(LIST_ANSWER), 9):
        view.append_text("a", LIST_ANSWER[start : start + 9])
        if start % 45 == 0:
            view.flush()
            flushes += 1
            assert layout_faults(view) == [], f"after {start} characters"
            assert view.message_widget("a").isVisibleTo(view)  # type: ignore[union-attr]
            if flushes % 25 == 0:
                assert not view.grab().isNull()  # paint this very state
    view.end_stream("a", MessageView("a", "assistant", LIST_ANSWER))
    assert layout_faults(view) == []
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.body is not None
    for segment in widget.body.segments():
        assert segment.height() >= math.ceil(segment.document().size().height())
    # The last line is inside the scrolled area, and the view followed it.
    last = widget.body.segments()[-1]
    bottom = last.mapTo(view._container, QPoint(0, last.height())).y()
    assert bottom <= view._container.height()
    assert view.following


def test_boxes_fit_again_when_the_chat_gets_narrower(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", LIST_ANSWER)])
    qtbot.wait(20)
    for width in (360, 700, 300):
        view.resize(width, 420)
        qtbot.wait(10)
        assert layout_faults(view) == [], width


def test_appended_plain_text_keeps_the_box_as_tall_as_the_text(qtbot: QtBot) -> None:
    segment = MarkdownSegment()
    qtbot.addWidget(segment)
    segment.resize(300, 10)
    segment.show()
    segment.setPlainText("line\n" * 300)
    for _ in range(20):
        cursor = QTextCursor(segment.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText("\nanother line that wraps " * 3)
        segment.fit()
        assert segment.height() == math.ceil(segment.document().size().height())


# ------------------------------------------------------------------ the status line


def test_a_long_status_never_widens_the_message(view: ChatView, qtbot: QtBot) -> None:
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    view.append_text("a", "Partial answer.")
    view.flush()
    qtbot.wait(20)
    widget = view.message_widget("a")
    assert widget is not None
    viewport = view._scroll.viewport().width()
    for status in ("Retrying in 3 s: " + "the server said no " * 26, "x" * 500):
        assert len(status) >= 500
        view.set_status_line("a", status)
        qtbot.wait(20)
        assert widget.width() <= viewport
        assert view._container.width() <= viewport
        assert view._scroll.horizontalScrollBar().maximum() == 0
        label = widget._status_label
        assert label.isVisible()
        assert label.text().startswith(status[:8])
        assert label.text().rstrip(". ").endswith("…")  # elided, the rest in the tooltip
        assert label.toolTip().startswith(status[:200].rstrip())


# ------------------------------------------------------------------ links


def _anchor_colours(view: ChatView, message_id: str) -> set[str]:
    widget = view.message_widget(message_id)
    assert widget is not None
    assert widget.body is not None
    colours = set()
    for segment in widget.body.segments():
        block = segment.document().begin()
        while block.isValid():
            fragments = block.begin()
            while not fragments.atEnd():
                fmt = fragments.fragment().charFormat()
                if fmt.isAnchor():
                    colours.add(fmt.foreground().color().name())
                fragments += 1
            block = block.next()
    return colours


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = []
        for value in QColor(colour).getRgbF()[:3]:
            channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
        red, green, blue = channels
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_links_use_the_theme_link_colour_and_are_readable(theme: Theme) -> None:
    # WCAG AA for normal text: 4.5:1 against every background a link sits on.
    for background in (theme.assistant_bubble, theme.code_bg, theme.notice_bg, theme.base):
        assert _contrast(theme.link, background) >= 4.5, background
    html = render_block(
        "See [the spec](https://example.org) and\n\n```\nx\n```", theme.html_style()
    ).html
    assert f"color:{theme.link}" in html
    assert html.count(f"color:{theme.link}") == 2  # the link and the code block's Copy


def test_shown_links_change_colour_with_the_theme(view: ChatView, qtbot: QtBot) -> None:
    assert LIGHT.link != DARK.link
    text = "Read [the spec](https://example.org).\n\n- in a list: [docs](https://docs.example)\n"
    view.set_messages([MessageView("a", "assistant", text)])
    assert _anchor_colours(view, "a") == {LIGHT.link}
    view.set_theme(DARK)
    assert _anchor_colours(view, "a") == {DARK.link}
    # Streamed text too, and the box's palette (links Qt draws itself).
    view.append_message(MessageView("b", "assistant", "", status="streaming"))
    view.begin_stream("b")
    view.append_text("b", text)
    view.flush()
    assert _anchor_colours(view, "b") == {DARK.link}
    widget = view.message_widget("b")
    assert widget is not None
    assert widget.body is not None
    palette_link = widget.body.segments()[-1].palette().link().color().name()
    assert palette_link == DARK.link


# ------------------------------------------------------------------ scroll_to_message


def _top_in_viewport(view: ChatView, widget: QWidget) -> int:
    return widget.mapTo(view._scroll.viewport(), QPoint(0, 0)).y()


def test_scroll_to_a_loaded_message_shows_it_at_the_top_highlighted(
    view: ChatView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_view_module, "HIGHLIGHT_MS", 50)
    view.set_messages(conversation(PAGE_SIZE))
    qtbot.wait(20)
    target = f"m{PAGE_SIZE // 2}"
    assert view.scroll_to_message(target)
    widget = view.message_widget(target)
    assert widget is not None
    assert _top_in_viewport(view, widget) == chat_view_module.SCROLL_TO_MARGIN
    assert not view.following
    assert widget.highlighted
    qtbot.waitUntil(lambda: not widget.highlighted, timeout=3000)
    assert _top_in_viewport(view, widget) == chat_view_module.SCROLL_TO_MARGIN
    assert view.scroll_to_message("m3", highlight=False)
    assert not view.message_widget("m3").highlighted  # type: ignore[union-attr]
    assert not view.scroll_to_message("no-such-message")


def test_scroll_to_a_message_a_few_pages_up_loads_those_pages(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(4 * PAGE_SIZE))
    assert view.message_widget("m40") is None
    assert view.scroll_to_message("m40")
    widget = view.message_widget("m40")
    assert widget is not None
    assert view.loaded_widget_count() <= 3 * PAGE_SIZE
    qtbot.wait(30)
    assert _top_in_viewport(view, widget) == chat_view_module.SCROLL_TO_MARGIN
    assert layout_faults(view) == []


def test_scroll_to_a_far_message_moves_the_window_and_back(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(10_000))
    assert view.scroll_to_message("m7")
    assert view.loaded_widget_count() == PAGE_SIZE  # not 9,993 widgets
    widget = view.message_widget("m7")
    assert widget is not None
    assert view.message_widget("m9999") is None
    qtbot.wait(30)
    assert _top_in_viewport(view, widget) == chat_view_module.SCROLL_TO_MARGIN
    assert not view.following
    assert view._jump.isVisible()  # the newest messages are elsewhere
    view.jump_to_latest()
    qtbot.wait(30)
    assert view.message_widget("m9999") is not None
    assert view.loaded_widget_count() == PAGE_SIZE
    bar = view._scroll.verticalScrollBar()
    assert view.following
    assert bar.value() == bar.maximum()


def test_scrolling_down_from_a_far_message_loads_later_pages(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(200))
    view.scroll_to_message("m10")
    bar = view._scroll.verticalScrollBar()
    qtbot.wait(20)
    bar.setValue(bar.maximum())  # the user scrolls down
    qtbot.waitUntil(lambda: view.message_widget("m40") is not None, timeout=3000)
    assert not view.following  # the bottom of the window is not the latest yet
    for _ in range(20):
        bar.setValue(bar.maximum())
        qtbot.wait(10)
    qtbot.waitUntil(lambda: view.message_widget("m199") is not None, timeout=5000)
    bar.setValue(bar.maximum() - 1)
    bar.setValue(bar.maximum())
    assert view.following


def test_a_stream_out_of_the_window_keeps_its_text(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(300))
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    view.append_text("a", "First half, ")
    view.flush()
    view.scroll_to_message("m2")  # the user reads an old search hit meanwhile
    assert view.message_widget("a") is None
    view.append_text("a", "second half.")
    assert view.raw_text("a") == "First half, second half."
    view.jump_to_latest()
    widget = view.message_widget("a")
    assert widget is not None
    view.append_text("a", " More.")
    view.flush()
    assert widget.displayed_text() == "First half, second half. More."
    view.scroll_to_message("m2")
    view.end_stream("a", MessageView("a", "assistant", "", metrics_line="done"))
    assert view.raw_text("a") == "First half, second half. More."
    view.jump_to_latest()
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.displayed_text() == "First half, second half. More."
    assert not widget.streaming


def test_a_new_message_while_away_from_the_newest(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(300))
    view.scroll_to_message("m5")
    view.append_message(MessageView("r", "assistant", "A reply", status="complete"))
    assert view.message_widget("r") is None  # not built while the user reads above
    assert view.message_count() == 301
    view.append_message(MessageView("u", "user", "A new question"))
    # Sending shows the newest messages.
    assert view.message_widget("u") is not None
    assert view.message_widget("r") is not None
    assert view.following
