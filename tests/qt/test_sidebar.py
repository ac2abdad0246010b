"""The sidebar: list, select, rename in place, delete with an undo bar, search."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop_app.qt.sidebar import STREAMING_MARK, ConversationItem, Sidebar

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ITEMS = [
    ConversationItem("c3", "Newest", "today"),
    ConversationItem("c2", "Middle", "yesterday"),
    ConversationItem("c1", "Oldest", "last week"),
]


def _sidebar(qtbot: QtBot) -> Sidebar:
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    sidebar.resize(260, 500)
    sidebar.show()
    sidebar.set_conversations(ITEMS, current="c2")
    return sidebar


def test_lists_in_the_given_order_and_selects_current_without_emitting(qtbot: QtBot) -> None:
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    selected: list[str] = []
    sidebar.conversationSelected.connect(selected.append)
    sidebar.set_conversations(ITEMS, current="c2")
    assert sidebar.ids() == ["c3", "c2", "c1"]
    assert sidebar.current_id() == "c2"
    assert selected == []  # filling the list is not a user choice


def test_clicking_a_row_selects_that_conversation(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    with qtbot.waitSignal(sidebar.conversationSelected) as blocker:
        sidebar.list.setCurrentRow(2)
    assert blocker.args == ["c1"]


def test_new_chat_button(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    with qtbot.waitSignal(sidebar.newRequested):
        qtbot.mouseClick(sidebar.new_button, Qt.MouseButton.LeftButton)


def test_rename_in_place(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    sidebar.begin_rename("c2")
    editor = sidebar.list.findChild(type(sidebar.search))
    assert editor is not None
    qtbot.waitUntil(editor.hasFocus)
    editor.selectAll()
    qtbot.keyClicks(editor, "  Trip   plans ")
    # The item delegate commits on the next turn of the event loop.
    with qtbot.waitSignal(sidebar.renameRequested) as blocker:
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert blocker.args == ["c2", "Trip plans"]
    assert sidebar.title_of("c2") == "Trip plans"


def test_rename_to_blank_keeps_the_old_title(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    renamed: list[tuple[str, str]] = []
    sidebar.renameRequested.connect(lambda cid, title: renamed.append((cid, title)))
    item = sidebar.list.item(1)
    item.setText("   ")  # what an emptied editor commits
    assert renamed == []
    assert item.text() == "Middle"


def test_delete_key_asks_to_delete_and_undo_bar_undoes(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    deleted: list[str] = []
    undone: list[bool] = []
    sidebar.deleteRequested.connect(deleted.append)
    sidebar.undoRequested.connect(lambda: undone.append(True))
    sidebar.list.setFocus()
    qtbot.waitUntil(sidebar.list.hasFocus)
    qtbot.keyClick(sidebar.list, Qt.Key.Key_Delete)
    assert deleted == ["c2"]

    sidebar.show_undo("Middle")
    assert sidebar.undo_bar.isVisible()
    assert "Middle" in sidebar.undo_bar.label.text()
    qtbot.mouseClick(sidebar.undo_bar.button, Qt.MouseButton.LeftButton)
    assert undone == [True]
    assert not sidebar.undo_bar.isVisible()


def test_undo_bar_goes_away_by_itself(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop_app.qt.sidebar as sidebar_module

    monkeypatch.setattr(sidebar_module, "UNDO_SECONDS", 0.05)
    sidebar = _sidebar(qtbot)
    sidebar.show_undo("Middle")
    with qtbot.waitSignal(sidebar.undo_bar.expired, timeout=2000):
        pass
    assert not sidebar.undo_bar.isVisible()


def test_search_is_debounced_and_results_replace_the_list(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    queries: list[str] = []
    sidebar.searchChanged.connect(queries.append)
    with qtbot.waitSignal(sidebar.searchChanged, timeout=2000):
        qtbot.keyClicks(sidebar.search, "pasta")
    assert queries == ["pasta"]  # one query for five keystrokes

    sidebar.show_search_results([ConversationItem("c1", "Oldest", "…fresh pasta…")])
    assert sidebar.searching
    assert sidebar.ids() == ["c1"]
    assert sidebar.empty_label.isHidden()

    sidebar.show_search_results([])
    assert sidebar.ids() == []
    assert not sidebar.empty_label.isHidden()

    with qtbot.waitSignal(sidebar.searchChanged, timeout=2000) as blocker:
        sidebar.search.clear()
    assert blocker.args == [""]


def test_streaming_mark(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    sidebar.set_streaming("c1", True)
    assert sidebar.list.item(2).text() == "Oldest" + STREAMING_MARK
    assert sidebar.title_of("c1") == "Oldest"
    sidebar.set_conversations(ITEMS, current="c2")  # a refresh keeps the mark
    assert sidebar.list.item(2).text() == "Oldest" + STREAMING_MARK
    sidebar.set_streaming("c1", False)
    assert sidebar.list.item(2).text() == "Oldest"


def test_controls_have_accessible_names(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    for widget in (sidebar.new_button, sidebar.search, sidebar.list, sidebar.undo_bar.button):
        assert widget.accessibleName()


def test_clear_current_lets_the_same_row_be_chosen_again(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    sidebar.clear_current()
    assert sidebar.current_id() is None
    with qtbot.waitSignal(sidebar.conversationSelected) as blocker:
        sidebar.list.setCurrentRow(1)
    assert blocker.args == ["c2"]


def test_a_long_title_is_elided_without_a_horizontal_scroll_bar(qtbot: QtBot) -> None:
    sidebar = _sidebar(qtbot)
    long = ConversationItem("c9", "/scenario drop_mid_stream tell me about streams " * 4, "now")
    sidebar.set_conversations([long, *ITEMS], current="c9")
    view = sidebar.list
    # The rows ask for no more than the list's width (the title is elided when painted),
    # so there is nothing to scroll sideways; and no bar is ever shown for it.
    assert view.sizeHintForColumn(0) <= view.viewport().width()
    assert view.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
