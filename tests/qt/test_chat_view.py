"""The chat view: paging, following, no jumps, errors beside partial text, actions, hostile input.

pytest-qt offscreen; Qt warnings fail the test. Speed is not asserted here
(benchmarks/bench_render.py measures it): structure is (bounded widget
counts, bounded paragraph lengths, coalesced flushes).
"""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QTextCursor, QWheelEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QPushButton, QToolButton
from pytestqt.qtbot import QtBot

from desktop_app.qt import chat_view as chat_view_module
from desktop_app.qt import message_widget as message_widget_module
from desktop_app.qt.chat_view import PAGE_SIZE, ChatView, MessageView
from desktop_app.qt.markdown_body import MarkdownBody, MarkdownSegment
from desktop_app.qt.markdown_segment import MAX_APPENDED_PARAGRAPH
from desktop_app.qt.message_widget import MessageWidget
from desktop_app.qt.stream_flusher import StreamFlusher
from desktop_app.qt.streaming_markdown import DISPLAY_LIMIT
from desktop_app.qt.theme import (
    DARK,
    ICON_NAMES,
    LIGHT,
    ThemeMode,
    app_icon,
    apply_theme,
    chat_stylesheet,
    icon,
)
from tests.qt.conftest import wait_signal, wait_until

LONG_ANSWER = "\n\n".join(f"Paragraph {i}: " + "words and more words " * 12 for i in range(40))


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    chat = ChatView(theme=LIGHT)
    qtbot.addWidget(chat)
    chat.resize(700, 500)
    chat.show()
    qtbot.waitExposed(chat)
    return chat


def settle(qtbot: QtBot, ms: int = 30) -> None:
    qtbot.wait(ms)


def bar(view: ChatView):  # type: ignore[no-untyped-def]
    return view._scroll.verticalScrollBar()


def viewport_y(view: ChatView, widget: MarkdownSegment | MessageWidget) -> int:
    return widget.mapTo(view._scroll.viewport(), QPoint(0, 0)).y()


def conversation(n: int) -> list[MessageView]:
    return [
        MessageView(f"m{i}", "user" if i % 2 == 0 else "assistant", f"Message number {i}")
        for i in range(n)
    ]


def stream_answer(view: ChatView, qtbot: QtBot, message_id: str = "a") -> None:
    view.append_message(MessageView(message_id, "assistant", "", status="streaming"))
    view.begin_stream(message_id)


# ------------------------------------------------------------------ opening conversations


def test_ten_thousand_messages_open_with_a_bounded_number_of_widgets(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages(conversation(10_000))
    assert view.message_count() == 10_000
    assert view.loaded_widget_count() == PAGE_SIZE
    assert len(view.findChildren(MessageWidget)) == PAGE_SIZE
    assert view.displayed_text("m9999") == "Message number 9999"
    assert view.displayed_text("m0") == ""  # no widget yet
    assert view.raw_text("m0") == "Message number 0"
    settle(qtbot)
    assert view.following
    assert bar(view).value() == bar(view).maximum()


def test_scrolling_to_the_top_loads_the_previous_page_without_moving(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages(conversation(3 * PAGE_SIZE))
    settle(qtbot)
    first = view.message_widget(f"m{2 * PAGE_SIZE}")
    assert first is not None
    bar(view).setValue(0)  # the user drags to the top
    before = viewport_y(view, first)
    qtbot.waitUntil(lambda: bar(view).value() > 0, timeout=3000)  # laid out above
    assert view.loaded_widget_count() == 2 * PAGE_SIZE
    assert not view.following
    # What was at the top is still where it was: loading happened above it.
    assert viewport_y(view, first) == before


def test_set_messages_replaces_the_conversation(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(5))
    view.set_messages([MessageView("x", "user", "new")])
    settle(qtbot)
    assert view.message_count() == 1
    assert view.displayed_text("m1") == ""
    assert len(view.findChildren(MessageWidget)) == 1


# ------------------------------------------------------------------ following


def test_follows_the_bottom_while_streaming(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(4))
    stream_answer(view, qtbot)
    for chunk in LONG_ANSWER.split(" "):
        view.append_text("a", chunk + " ")
    for _ in range(10):
        settle(qtbot, 20)
        assert bar(view).value() == bar(view).maximum()
    view.flush()
    settle(qtbot)
    assert bar(view).maximum() > 1000
    assert bar(view).value() == bar(view).maximum()
    assert view.following


def test_scrolling_up_stops_following_and_jump_to_latest_resumes(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages(conversation(2))
    stream_answer(view, qtbot)
    view.append_text("a", LONG_ANSWER[:4000])
    view.flush()
    settle(qtbot)
    bar(view).setValue(bar(view).maximum() - 300)  # the user scrolls up to read
    settle(qtbot)
    assert not view.following
    jump = view.findChild(QToolButton, "jumpToLatest")
    assert jump is not None
    assert jump.isVisible()
    assert jump.accessibleName() == "Jump to latest"
    assert jump.toolTip()
    reading_at = bar(view).value()
    view.append_text("a", LONG_ANSWER[4000:])
    view.flush()
    settle(qtbot)
    assert bar(view).value() == reading_at  # more text did not pull the view down
    qtbot.mouseClick(jump, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert view.following
    assert not jump.isVisible()
    assert bar(view).value() == bar(view).maximum()


def test_jump_to_latest_works_from_the_keyboard(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", LONG_ANSWER)])
    settle(qtbot)
    bar(view).setValue(0)
    settle(qtbot)
    jump = view.findChild(QToolButton, "jumpToLatest")
    assert jump is not None
    assert jump.focusPolicy() & Qt.FocusPolicy.TabFocus
    jump.setFocus()
    qtbot.keyClick(jump, Qt.Key.Key_Space)
    settle(qtbot)
    assert view.following
    bar(view).setValue(0)
    settle(qtbot)
    view._scroll.setFocus()
    qtbot.keyClick(view._scroll, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot)
    assert view.following
    assert bar(view).value() == bar(view).maximum()


def test_the_wheel_over_a_message_scrolls_the_conversation(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", LONG_ANSWER)])
    settle(qtbot)
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    before = bar(view).value()
    position = QPointF(20, 20)
    event = QWheelEvent(
        position,
        QPointF(segment.viewport().mapToGlobal(position.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120),  # one notch up
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(segment.viewport(), event)
    settle(qtbot)
    assert bar(view).value() < before
    assert not view.following


def test_a_new_user_message_scrolls_to_it(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", LONG_ANSWER)])
    settle(qtbot)
    bar(view).setValue(0)
    settle(qtbot)
    view.append_message(MessageView("u", "user", "next question"))
    settle(qtbot)
    assert view.following
    assert bar(view).value() == bar(view).maximum()


# ------------------------------------------------------------------ nothing jumps


def test_nothing_jumps_when_a_stream_ends_while_reading_above(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(2))
    stream_answer(view, qtbot)
    view.append_reasoning("a", "Let me think.\n\n" + "Considering options. " * 60)
    view.append_text("a", LONG_ANSWER)
    view.flush()
    settle(qtbot)
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.body is not None
    # The user scrolls to read the middle of the answer.
    first_segment = widget.body.segments()[0]
    bar(view).setValue(first_segment.mapTo(view._container, QPoint(0, 0)).y() + 150)
    settle(qtbot)
    assert not view.following
    before = viewport_y(view, first_segment)
    reading_at = bar(view).value()
    view.end_stream(
        "a",
        MessageView("a", "assistant", LONG_ANSWER, metrics_line="1 s · 50 tok/s · done"),
    )
    settle(qtbot, 60)
    # The reasoning above collapsed, the metrics appeared: the text read stays put.
    assert not widget.reasoning_body.isVisible()  # type: ignore[union-attr]
    assert bar(view).value() != reading_at  # the scroll moved to compensate
    assert viewport_y(view, first_segment) == before


def test_nothing_jumps_when_a_stream_ends_while_following(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(2))
    stream_answer(view, qtbot)
    view.append_reasoning("a", "Thinking. " * 100)
    view.append_text("a", LONG_ANSWER)
    view.flush()
    settle(qtbot)
    assert view.following
    view.end_stream("a", MessageView("a", "assistant", LONG_ANSWER, metrics_line="done"))
    settle(qtbot, 60)
    assert view.following
    assert bar(view).value() == bar(view).maximum()


# ------------------------------------------------------------------ errors and actions


def test_an_error_is_shown_next_to_the_partial_text_with_retry(
    view: ChatView, qtbot: QtBot
) -> None:
    view.set_messages([MessageView("u", "user", "hi")])
    stream_answer(view, qtbot)
    view.append_text("a", "The partial **answer** so far")
    view.flush()
    view.end_stream(
        "a",
        MessageView(
            "a",
            "assistant",
            "The partial **answer** so far",
            status="error",
            error="The server closed the connection.",
            error_hint="Press Retry to ask again.",
        ),
    )
    settle(qtbot)
    widget = view.message_widget("a")
    assert widget is not None
    assert view.displayed_text("a") == "The partial answer so far"
    button = widget.box_button()
    assert button is not None
    assert button.text() == "Retry"
    assert button.accessibleName()
    assert button.toolTip()
    box_text = button.parentWidget().findChildren(type(widget._metrics))[0].text()
    assert "The server closed the connection." in box_text
    assert "Press Retry to ask again." in box_text
    with qtbot.waitSignal(view.retryRequested, timeout=1000) as signal:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert signal.args == ["a"]


@pytest.mark.parametrize(
    ("status", "words"),
    [("interrupted", "interrupted"), ("cancelled", "stopped")],
)
def test_an_unfinished_answer_says_so_and_offers_continue(
    view: ChatView, qtbot: QtBot, status: str, words: str
) -> None:
    view.set_messages([MessageView("a", "assistant", "half an ans", status=status)])
    widget = view.message_widget("a")
    assert widget is not None
    button = widget.box_button()
    assert button is not None
    assert button.text() == "Continue"
    label = button.parentWidget().findChildren(type(widget._metrics))[0]
    assert words in label.text()
    assert view.displayed_text("a") == "half an ans"
    with qtbot.waitSignal(view.continueRequested, timeout=1000) as signal:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert signal.args == ["a"]


def test_continue_streams_onto_the_existing_text(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", "half an ", status="interrupted")])
    view.begin_stream("a")
    view.append_text("a", "answer")
    view.flush()
    assert view.displayed_text("a") == "half an answer"
    view.end_stream("a", MessageView("a", "assistant", "half an answer"))
    assert view.message_widget("a").box_button() is None  # type: ignore[union-attr]


def test_text_without_begin_stream_still_shows(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", "Hello")])
    view.append_text("a", ", world")
    view.flush()
    assert view.displayed_text("a") == "Hello, world"


def test_buttons_emit_their_message_ids(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(
        [
            MessageView("u1", "user", "first"),
            MessageView("a1", "assistant", "one"),
            MessageView("u2", "user", "second"),
            MessageView("a2", "assistant", "**two**"),
        ]
    )
    settle(qtbot)
    a1, a2, u2 = (view.message_widget(i) for i in ("a1", "a2", "u2"))
    assert a1 is not None
    assert a2 is not None
    assert u2 is not None
    assert not a1.action_buttons()["regenerate"].isVisible()  # only the last answer
    regenerate = a2.action_buttons()["regenerate"]
    assert regenerate.isVisible()
    with qtbot.waitSignal(view.regenerateRequested, timeout=1000) as signal:
        qtbot.mouseClick(regenerate, Qt.MouseButton.LeftButton)
    assert signal.args == ["a2"]
    with qtbot.waitSignal(view.editRequested, timeout=1000) as signal:
        qtbot.mouseClick(u2.action_buttons()["edit"], Qt.MouseButton.LeftButton)
    assert signal.args == ["u2"]
    with qtbot.waitSignal(view.noticeShown, timeout=1000):
        qtbot.mouseClick(a2.action_buttons()["copy"], Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "**two**"  # the source, not the rendering


def test_every_button_has_an_accessible_name_and_a_tooltip(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(
        [
            MessageView("u", "user", "q"),
            MessageView("a", "assistant", "x", reasoning="r", status="error", error="e"),
        ]
    )
    settle(qtbot)
    buttons = [b for b in view.findChildren(QAbstractButton) if b.isVisibleTo(view)]
    assert len(buttons) >= 5
    for button in buttons:
        assert button.accessibleName(), button.objectName()
        assert button.toolTip(), button.accessibleName()


def test_a_finished_answer_is_announced(
    view: ChatView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[str] = []
    real = message_widget_module.announce
    monkeypatch.setattr(
        message_widget_module,
        "announce",
        lambda widget, text: (announced.append(text), real(widget, text)),
    )
    stream_answer(view, qtbot)
    view.append_text("a", "All done.")
    view.end_stream("a", MessageView("a", "assistant", "All done."))
    assert announced == ["Answer finished. All done."]
    assert view.message_widget("a").accessibleDescription() == announced[0]  # type: ignore[union-attr]


def test_streaming_shows_an_indicator_and_the_status_line(view: ChatView, qtbot: QtBot) -> None:
    stream_answer(view, qtbot)
    settle(qtbot)
    widget = view.message_widget("a")
    assert widget is not None
    status = widget._status_label
    assert status.isVisible()
    view.set_status_line("a", "Retrying in 3 s")
    assert status.text().startswith("Retrying in 3 s")
    first = status.text()
    qtbot.waitUntil(lambda: status.text() != first, timeout=2000)  # the dots move
    assert not widget.action_buttons()["copy"].isVisible()
    view.end_stream("a", MessageView("a", "assistant", "", metrics_line="0.4 s · 52 tok/s"))
    assert not status.isVisible()
    assert widget._metrics.isVisible()
    assert "52 tok/s" in widget._metrics.text()


def test_remove_and_update_messages(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages(conversation(6))
    view.remove_messages_after("m2")
    settle(qtbot)
    assert view.message_count() == 3
    assert view.message_widget("m3") is None
    assert len(view.findChildren(MessageWidget)) == 3
    view.update_message(MessageView("m1", "assistant", "# Changed"))
    assert view.displayed_text("m1") == "Changed"


# ------------------------------------------------------------------ links and code


def _click_text(qtbot: QtBot, segment: MarkdownSegment, text: str) -> None:
    found = segment.document().find(text)
    assert not found.isNull(), text
    cursor = QTextCursor(found)
    cursor.setPosition(found.selectionStart() + 1)
    point = segment.cursorRect(cursor).center()
    qtbot.mouseClick(segment.viewport(), Qt.MouseButton.LeftButton, pos=point)


@pytest.fixture
def opened_urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toString()) or True)
    )
    return opened


def test_clicking_an_http_link_opens_the_browser(
    view: ChatView, qtbot: QtBot, opened_urls: list[str]
) -> None:
    view.set_messages([MessageView("a", "assistant", "See [the docs](https://example.com/d).")])
    settle(qtbot)
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    with qtbot.waitSignal(view.linkActivated, timeout=1000) as signal:
        _click_text(qtbot, segment, "the docs")
    assert signal.args[0] == QUrl("https://example.com/d")
    assert opened_urls == ["https://example.com/d"]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "/relative"]
)
def test_other_links_are_never_opened(
    view: ChatView, qtbot: QtBot, opened_urls: list[str], url: str
) -> None:
    view.set_messages([MessageView("a", "assistant", f"[x]({url}) text")])
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    assert "<a href" not in segment.toHtml().split("<body", 1)[1].replace("copy-code", "")
    # Even if such an anchor were clicked (e.g. from a future renderer bug), it is refused.
    with qtbot.waitSignal(view.noticeShown, timeout=1000) as signal:
        segment.anchorClicked.emit(QUrl(url))
    assert "Link not opened" in signal.args[0]
    assert opened_urls == []


def test_copy_code_link_copies_the_raw_code(view: ChatView, qtbot: QtBot) -> None:
    code = 'print("<hi>")\n\nx = 1'
    view.set_messages([MessageView("a", "assistant", f"Code:\n\n```python\n{code}\n```\n")])
    settle(qtbot)
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    with qtbot.waitSignal(view.noticeShown, timeout=1000):
        _click_text(qtbot, segment, "Copy")
    assert QGuiApplication.clipboard().text() == code


# ------------------------------------------------------------------ hostile answers


def _paragraph_lengths(view: ChatView, message_id: str) -> list[int]:
    lengths = []
    for body in view.message_widget(message_id).findChildren(MarkdownBody):  # type: ignore[union-attr]
        for segment in body.segments():
            block = segment.document().begin()
            while block.isValid():
                lengths.append(block.length())
                block = block.next()
    return lengths


def test_a_20_mb_line_streams_without_freezing(view: ChatView, qtbot: QtBot) -> None:
    stream_answer(view, qtbot)
    chunk = "A" * 1_000_000
    for _ in range(20):
        view.append_text("a", chunk)
    widget = view.message_widget("a")
    assert widget is not None
    while widget.flush(chat_view_module.FLUSH_BUDGET):  # what the frame timer does
        pass
    # Paragraphs stay short (plus the zero-width spaces that let Qt wrap).
    assert max(_paragraph_lengths(view, "a")) <= MAX_APPENDED_PARAGRAPH * 1.05
    view.end_stream("a", MessageView("a", "assistant", ""))
    qtbot.waitUntil(lambda: not widget.body.has_pending_renders, timeout=20_000)  # type: ignore[union-attr]
    assert len(view.raw_text("a")) == 20_000_000
    shown = view.displayed_text("a")
    assert DISPLAY_LIMIT <= len(shown.replace("\u200b", "").replace("\n", "")) <= DISPLAY_LIMIT
    notice = widget.findChild(type(widget._metrics), "truncationNotice")
    assert notice is not None
    assert notice.isVisibleTo(widget)
    assert "20,000,000" in notice.text()
    assert max(_paragraph_lengths(view, "a")) <= 4_100
    view.message_widget("a").copy_to_clipboard()  # type: ignore[union-attr]
    assert len(QGuiApplication.clipboard().text()) == 20_000_000


def test_a_burst_that_ends_at_once_is_finished_over_several_frames(
    view: ChatView, qtbot: QtBot
) -> None:
    stream_answer(view, qtbot)
    burst = "word " * 60_000  # 300,000 characters arrive with the end of the stream
    view.append_text("a", burst)
    view.end_stream("a", MessageView("a", "assistant", burst, metrics_line="done"))
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.streaming  # not finished in one long call
    assert widget.backlog > 0
    qtbot.waitUntil(lambda: not widget.streaming, timeout=10_000)
    qtbot.waitUntil(lambda: not widget.body.has_pending_renders, timeout=10_000)  # type: ignore[union-attr]
    assert view.displayed_text("a").split() == burst.split()
    assert widget._metrics.text() == "done"


def test_a_100k_line_unclosed_fence_streams_without_freezing(view: ChatView, qtbot: QtBot) -> None:
    stream_answer(view, qtbot)
    view.append_text("a", "Here is the file:\n\n```python\n")
    view.flush()
    for _ in range(20):
        view.append_text("a", "x\n" * 5_000)
        view.flush()
    view.append_text("a", "the last line")
    view.flush()
    widget = view.message_widget("a")
    assert widget is not None
    assert widget.body is not None
    assert widget.body._stream.tail_in_append_mode  # not re-highlighted on every flush
    tail = widget.body.segments()[-1].document()
    assert tail.lastBlock().blockFormat().nonBreakableLines()  # still inside the code block
    assert "```" not in widget.body.plain_text()
    view.end_stream("a", MessageView("a", "assistant", ""))
    qtbot.waitUntil(lambda: not widget.body.has_pending_renders, timeout=20_000)  # type: ignore[union-attr]
    shown = view.displayed_text("a")
    assert shown.count("x\n") == 100_000
    assert shown.endswith("the last line")
    assert "```" not in shown


def test_deep_nesting_control_characters_and_bidi_display_safely(
    view: ChatView, qtbot: QtBot
) -> None:
    hostile = (
        ">" * 10_000
        + " deep\n\n"
        + "\n".join("  " * i + "- level" for i in range(200))
        + "\n\nbell\x07 nul\x00 esc\x1b[2J rlo\u202eevil\n"
    )
    view.set_messages([MessageView("a", "assistant", hostile)])
    stream_answer(view, qtbot, "b")
    for piece in [hostile[i : i + 500] for i in range(0, len(hostile), 500)]:
        view.append_text("b", piece)
        view.flush()
    view.end_stream("b", MessageView("b", "assistant", hostile))
    for message_id in ("a", "b"):
        shown = view.displayed_text(message_id)
        assert "␇" in shown
        assert "␀" in shown
        assert "␛[2J" in shown
        assert "‹U+202E›" in shown
        assert "\x00" not in shown
        assert "\u202e" not in shown
        assert "deep" in shown


# ------------------------------------------------------------------ theme and font


def test_icons_and_stylesheet_load_for_both_themes(qtbot: QtBot) -> None:
    for name in ICON_NAMES:
        rendered = icon(name, "#123456")
        assert not rendered.isNull(), name
        assert rendered.pixmap(64, 64).width() == 64
    assert not app_icon().isNull()
    for theme in (LIGHT, DARK):
        assert "$" not in chat_stylesheet(theme)


def test_dark_and_light_modes_set_the_palette(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    original = app.palette()
    try:
        assert apply_theme(app, ThemeMode.DARK) is DARK
        assert app.palette().window().color().lightness() < 128
        assert apply_theme(app, ThemeMode.LIGHT) is LIGHT
        assert app.palette().window().color().lightness() > 128
    finally:
        app.setPalette(original)


def test_theme_and_font_size_apply_to_messages(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", "[link](https://example.com) `code`")])
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    assert LIGHT.link in segment.toHtml()
    view.set_theme(DARK)
    segment = view.message_widget("a").body.segments()[0]  # type: ignore[union-attr]
    assert DARK.link in segment.toHtml()
    view.set_font_point_size(17)
    assert segment.document().defaultFont().pointSizeF() == 17


# ------------------------------------------------------------------ on the qasync loop


@pytest.mark.asyncio
async def test_fast_tokens_are_coalesced_into_few_flushes(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes = 0
    real_flush = StreamFlusher.on_timer

    def counting_flush(self: StreamFlusher) -> None:
        nonlocal flushes
        flushes += 1
        real_flush(self)

    # Before the view exists: its timer connects to the method when it is built.
    monkeypatch.setattr(StreamFlusher, "on_timer", counting_flush)
    view = ChatView(theme=LIGHT)
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.append_message(MessageView("a", "assistant", "", status="streaming"))
    view.begin_stream("a")
    tokens = [f"tok{i} " for i in range(3_000)]
    for i, token in enumerate(tokens):
        view.append_text("a", token)  # one call per token, as a fast server sends them
        if i % 100 == 99:
            await asyncio.sleep(0)
    expected = "".join(tokens).strip()
    # While a block streams past the re-render limit its text is appended plainly,
    # cut into paragraphs: compare the words.
    await wait_until(lambda: view.displayed_text("a").split() == expected.split(), timeout=10)
    assert 1 <= flushes <= 3_000 // 50  # one flush per frame, not per token
    view.end_stream("a", MessageView("a", "assistant", "".join(tokens)))
    body = view.message_widget("a").body  # type: ignore[union-attr]
    await wait_until(lambda: not body.has_pending_renders, timeout=10)  # type: ignore[union-attr]
    assert view.displayed_text("a") == expected


@pytest.mark.asyncio
async def test_big_blocks_render_in_the_background(qtbot: QtBot) -> None:
    view = ChatView(theme=LIGHT)
    qtbot.addWidget(view)
    big = "```python\n" + "value = compute(1, 2)  # comment\n" * 2_000 + "```\n"
    view.set_messages([MessageView("a", "assistant", big)])
    body = view.message_widget("a").body  # type: ignore[union-attr]
    assert body is not None
    assert body.has_pending_renders
    await wait_signal(body.renderFinished, timeout=20)
    assert not body.has_pending_renders
    assert "<span style=" in body.segments()[0].toHtml()  # highlighted once ready
    assert "value = compute(1, 2)" in view.displayed_text("a")


def test_push_buttons_are_keyboard_reachable(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([MessageView("a", "assistant", "x", status="error", error="boom")])
    for button in view.findChildren(QPushButton):
        if button.isVisibleTo(view):
            assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
