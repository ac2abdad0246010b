"""The composer: Enter sends, Shift+Enter is a new line, one Send/Stop button in one place."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_app.qt.composer import SEND_TEXT, STOP_TEXT, Composer

# The offscreen platform warns on every top-level show; it says nothing about us.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _composer(qtbot: QtBot) -> Composer:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.resize(500, 120)
    composer.show()
    return composer


def test_enter_sends_and_clears(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)
    qtbot.keyClicks(composer.editor, "hello there")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == ["hello there"]
    assert composer.text() == ""


def test_shift_enter_makes_a_new_line_and_ctrl_enter_sends(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)
    qtbot.keyClicks(composer.editor, "line one")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.editor, "line two")
    assert sent == []
    assert composer.text() == "line one\nline two"
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert sent == ["line one\nline two"]


def test_blank_text_is_not_sent(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)
    qtbot.keyClicks(composer.editor, "   ")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == []
    assert not composer.button.isEnabled()


def test_streaming_turns_send_into_stop_in_the_same_place(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    qtbot.keyClicks(composer.editor, "next question")
    before = composer.button.geometry()
    assert composer.button.text() == SEND_TEXT

    composer.set_streaming(True)
    assert composer.button.text() == STOP_TEXT
    assert composer.button.isEnabled()
    assert composer.button.geometry() == before  # the button does not move or resize
    assert composer.button.accessibleName() == "Stop the answer"

    stops: list[bool] = []
    sent: list[str] = []
    composer.stopRequested.connect(lambda: stops.append(True))
    composer.sendRequested.connect(sent.append)
    # Enter does not send while streaming, and does not eat the draft either.
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == []
    assert composer.text() == "next question"
    # Typing still works while the answer streams.
    qtbot.keyClicks(composer.editor, "!")
    assert composer.text() == "next question!"

    qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    assert stops == [True]
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert stops == [True, True]

    composer.set_streaming(False)
    assert composer.button.text() == SEND_TEXT
    qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    assert sent == ["next question!"]


def test_escape_without_a_stream_does_not_stop(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    stops: list[bool] = []
    composer.stopRequested.connect(lambda: stops.append(True))
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert stops == []


def test_edit_mode_submits_the_edit_and_escape_cancels(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    edits: list[tuple[str, str]] = []
    sent: list[str] = []
    composer.editSubmitted.connect(lambda mid, text: edits.append((mid, text)))
    composer.sendRequested.connect(sent.append)

    composer.begin_edit("m1", "old words")
    assert composer.editing_id == "m1"
    assert composer.text() == "old words"
    qtbot.keyClicks(composer.editor, " and new")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert edits == [("m1", "old words and new")]
    assert sent == []
    assert composer.editing_id is None

    cancelled: list[bool] = []
    composer.editCancelled.connect(lambda: cancelled.append(True))
    composer.begin_edit("m2", "draft")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert cancelled == [True]
    assert composer.editing_id is None
    assert composer.text() == ""


def test_every_control_has_an_accessible_name(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    assert composer.editor.accessibleName() == "Message"
    assert composer.button.accessibleName() == "Send the message"


def test_the_box_grows_with_its_text_up_to_a_limit(qtbot: QtBot) -> None:
    composer = _composer(qtbot)
    one_line = composer.editor.height()
    composer.set_text("\n".join(["x"] * 4))
    four_lines = composer.editor.height()
    composer.set_text("\n".join(["x"] * 40))
    many_lines = composer.editor.height()
    assert one_line < four_lines < many_lines
    composer.set_text("\n".join(["x"] * 80))
    assert composer.editor.height() == many_lines  # capped
