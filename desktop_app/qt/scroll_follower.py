"""Follow the bottom while the user is there; otherwise keep what they read still.

Owns the scrolling policy of the chat (users.md T2, "scroll hijacking"):
- following: while the view is within ``FOLLOW_SLOP`` pixels of the bottom,
  every growth of the content scrolls to the new bottom;
- a user scroll away from the bottom stops following (programmatic scrolls
  never count as the user's);
- scroll anchoring (CSS ``overflow-anchor``): when not following, the widget
  at the top of the viewport (the finest one: a text segment, else its
  message) keeps its position on screen whatever changes above or inside it
  (a stream ending, reasoning collapsing, earlier messages loading);
  ``anchor_to`` puts a chosen widget there (a search hit);
- when the column does not reach the newest item (``at_latest`` is false),
  its bottom is not "the bottom": nothing follows, and ``nearBottom`` asks for
  the next items.

Must not: know what the items are beyond being widgets in a column.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal
from PySide6.QtWidgets import QScrollArea, QToolButton, QVBoxLayout, QWidget

# Within this many pixels of the bottom counts as "at the bottom".
FOLLOW_SLOP = 8
# ``nearTop`` is emitted when the view is this close to the top.
NEAR_TOP_MARGIN = 400


class ScrollFollower(QObject):
    """Drives one QScrollArea whose widget is a column of items."""

    followingChanged = Signal(bool)
    positionChanged = Signal()  # scrolled, or the content's height changed
    nearTop = Signal()
    nearBottom = Signal()  # only while the column does not reach the newest item

    def __init__(
        self,
        scroll: QScrollArea,
        items: Callable[[], Sequence[QWidget]],
        fine: tuple[type[QWidget], ...] = (),
        at_latest: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(scroll)
        self._scroll = scroll
        self._items = items  # the column's items, top to bottom
        self._fine = fine  # widget types inside items that make better anchors
        self._at_latest = at_latest
        self._following = True
        self._programmatic = 0
        self._anchor: list[tuple[QWidget, int]] = []  # finest first
        bar = scroll.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    @property
    def following(self) -> bool:
        return self._following

    @property
    def distance_from_bottom(self) -> int:
        bar = self._scroll.verticalScrollBar()
        return bar.maximum() - bar.value()

    def set_following(self, following: bool) -> None:
        if following:
            self._anchor = []
        if following != self._following:
            self._following = following
            self.followingChanged.emit(following)
        self.positionChanged.emit()

    def scroll_to_bottom(self) -> None:
        self._set_scroll(self._scroll.verticalScrollBar().maximum())

    def keep_still(self) -> None:
        """About to change the content: make sure an anchor is held (if not following)."""
        if not self._following and not self._anchor:
            self.capture_anchor()

    def placed(self) -> None:
        """The column has placed its items (call from its layout's setGeometry)."""
        if not self._following:
            self._restore_anchor()

    def forget(self) -> None:
        self._anchor = []

    def anchor_to(self, widget: QWidget, offset: int) -> None:
        """Stop following and keep ``widget`` ``offset`` pixels below the viewport's top."""
        self.set_following(False)
        self._anchor = [(widget, offset)]
        self._restore_anchor()

    # ------------------------------------------------------------------ internals
    def _set_scroll(self, value: int) -> None:
        bar = self._scroll.verticalScrollBar()
        if bar.value() == value:
            return
        self._programmatic += 1
        try:
            bar.setValue(value)
        finally:
            self._programmatic -= 1

    def _on_scrolled(self, value: int) -> None:
        if not self._programmatic:
            following = self.distance_from_bottom <= FOLLOW_SLOP and self._at_latest()
            self.set_following(following)
            if not following:
                self.capture_anchor()
        else:
            self.positionChanged.emit()
        if value < NEAR_TOP_MARGIN:
            self.nearTop.emit()
        if self.distance_from_bottom < NEAR_TOP_MARGIN and not self._at_latest():
            self.nearBottom.emit()

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._following:
            self._set_scroll(maximum)
        else:
            self._restore_anchor()
        self.positionChanged.emit()

    def capture_anchor(self) -> None:
        """Remember what is at the top of the viewport, finest widget first."""
        container = self._scroll.widget()
        top = self._scroll.verticalScrollBar().value()
        item = self._item_at(top)
        if item is None or container is None:
            self._anchor = []
            return
        chain: list[tuple[QWidget, int]] = []
        probe = container.childAt(QPoint(item.x() + item.width() // 2, top))
        while probe is not None and probe is not item:
            if isinstance(probe, self._fine):
                chain.append((probe, self._y_of(probe) - top))
            probe = probe.parentWidget()
        chain.append((item, item.y() - top))
        self._anchor = chain

    def _item_at(self, y: int) -> QWidget | None:
        items = self._items()
        if not items:
            return None
        tops = [item.y() for item in items]
        return items[max(0, bisect.bisect_right(tops, y) - 1)]

    def _y_of(self, widget: QWidget) -> int:
        container = self._scroll.widget()
        assert container is not None  # set once in ChatView.__init__
        return widget.mapTo(container, QPoint(0, 0)).y()

    def _restore_anchor(self) -> None:
        container = self._scroll.widget()
        if container is None:
            return
        for widget, offset in self._anchor:
            if (
                shiboken6.isValid(widget)
                and container.isAncestorOf(widget)
                and widget.isVisibleTo(container)
            ):
                self._set_scroll(self._y_of(widget) - offset)
                return


class FollowedColumn(QVBoxLayout):
    """The scrolled column: tells the follower whenever it has placed its widgets."""

    def __init__(self, parent: QWidget, placed: Callable[[], None]) -> None:
        super().__init__(parent)
        self._placed = placed

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._placed()


class JumpToLatestButton(QToolButton):
    """The floating "Jump to latest" button over the bottom of the chat."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("jumpToLatest")
        self.setText("Jump to latest")
        self.setAccessibleName("Jump to latest")
        self.setToolTip("Scroll to the newest text and follow it (Ctrl+End)")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setVisible(False)

    def place(self) -> None:
        """Centre it near the bottom of its parent, above everything else."""
        parent = self.parentWidget()
        if parent is None:
            return
        hint = self.sizeHint()
        self.setGeometry(
            (parent.width() - hint.width()) // 2,
            parent.height() - hint.height() - 16,
            hint.width(),
            hint.height(),
        )
        self.raise_()
