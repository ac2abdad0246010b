"""Which messages of the open conversation have widgets: one contiguous window of them.

Owns the conversation as the shell gave it (a list of ``MessageView``, by id
too) and the window ``[first, end)`` of it that has ``MessageWidget``s in the
chat's column. Opening shows the newest page; pages are added at either edge
as the user scrolls. A jump to a far message (a search hit in a long
conversation) moves the window there instead of creating every widget in
between: widgets cost 2 to 7 ms each, more as the column grows, so reaching
message 0 of 10,000 page by page would take minutes.

Before a widget is dropped, what it holds that the view does not (the text
a stream has delivered so far) is written back to its view, so re-creating
it later shows the same text.

Must not: scroll, flush streams, or decide what the shell's messages mean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QBoxLayout

from desktop_app.qt.message_view import MessageView
from desktop_app.qt.message_widget import MessageWidget

# Messages given widgets at a time (the newest page first, then other pages).
PAGE_SIZE = 25
# A jump to a message at most this many pages outside the window loads those
# pages; a farther one moves the window.
NEAR_PAGES = 2


class MessagePages:
    """The views of one conversation and the widgets of a window of them."""

    def __init__(
        self,
        column: QBoxLayout,
        make: Callable[[MessageView], MessageWidget],
        leading_items: int = 1,
    ) -> None:
        self._column = column
        self._make = make
        self._leading = leading_items  # column items before the first message
        self.views: list[MessageView] = []
        self._positions: dict[str, int] = {}
        self.loaded: list[MessageWidget] = []  # widgets of views[first:end]
        self._widgets: dict[str, MessageWidget] = {}
        self.first = 0
        self.end = 0

    # ------------------------------------------------------------------ queries
    @property
    def at_start(self) -> bool:
        return self.first == 0

    @property
    def at_end(self) -> bool:
        """True when the newest message has a widget (the bottom is the latest)."""
        return self.end == len(self.views)

    def position(self, message_id: str) -> int | None:
        return self._positions.get(message_id)

    def view(self, message_id: str) -> MessageView | None:
        position = self._positions.get(message_id)
        return self.views[position] if position is not None else None

    def widget(self, message_id: str) -> MessageWidget | None:
        return self._widgets.get(message_id)

    # ------------------------------------------------------------------ changes
    def open(self, views: Sequence[MessageView]) -> list[MessageWidget]:
        """A new conversation: widgets for the newest page."""
        self.clear()
        self.views = [dataclasses.replace(v) for v in views]
        self._positions = {v.id: i for i, v in enumerate(self.views)}
        self.first = self.end = len(self.views)
        return self._load(max(0, len(self.views) - PAGE_SIZE), len(self.views))

    def clear(self) -> None:
        for widget in self.loaded:
            self._column.removeWidget(widget)
            widget.deleteLater()
        self.loaded = []
        self._widgets = {}
        self.views = []
        self._positions = {}
        self.first = self.end = 0

    def append(self, view: MessageView) -> MessageWidget | None:
        """Add a message at the end; it gets a widget if the window reaches the end."""
        at_end = self.at_end
        self._positions[view.id] = len(self.views)
        self.views.append(view)
        if not at_end:
            return None
        return self._load(self.end, self.end + 1)[0]

    def load_earlier(self) -> list[MessageWidget]:
        return self._load(max(0, self.first - PAGE_SIZE), self.first)

    def load_later(self) -> list[MessageWidget]:
        return self._load(self.end, min(len(self.views), self.end + PAGE_SIZE))

    def show_latest(self) -> list[MessageWidget]:
        """Make the newest page part of the window (moving it if it is far)."""
        return self.reach(len(self.views) - 1) if self.views else []

    def reach(self, position: int) -> list[MessageWidget]:
        """Give ``views[position]`` a widget; returns the widgets created."""
        if self.first <= position < self.end:
            return []
        near = NEAR_PAGES * PAGE_SIZE
        if self.first - near <= position < self.first:
            start = max(0, min(position, self.first - PAGE_SIZE))
            return self._load(start, self.first)
        if self.end <= position < self.end + near:
            stop = min(len(self.views), max(position + 1, self.end + PAGE_SIZE))
            return self._load(self.end, stop)
        # Far away: a new window, the target in its first half.
        for widget in self.loaded:
            self._drop(widget)
        self.loaded = []
        self._widgets = {}
        start = max(0, min(position - PAGE_SIZE // 4, len(self.views) - PAGE_SIZE))
        self.first = self.end = start
        return self._load(start, min(len(self.views), start + PAGE_SIZE))

    def remove_after(self, position: int) -> list[MessageView]:
        """Drop every message after ``position``; returns the dropped views."""
        removed = self.views[position + 1 :]
        del self.views[position + 1 :]
        for view in removed:
            self._positions.pop(view.id, None)
            widget = self._widgets.pop(view.id, None)
            if widget is not None:
                self.loaded.remove(widget)
                self._column.removeWidget(widget)
                widget.deleteLater()
        self.end = min(self.end, len(self.views))
        self.first = min(self.first, self.end)
        return removed

    def store(self, widget: MessageWidget) -> None:
        """Write what ``widget`` shows back into its view (a stream's text so far)."""
        position = self._positions[widget.message_id]
        self.views[position] = dataclasses.replace(
            widget.view, text=widget.raw_text(), reasoning=widget.raw_reasoning()
        )

    # ------------------------------------------------------------------ internals
    def _load(self, start: int, stop: int) -> list[MessageWidget]:
        """Widgets for ``views[start:stop]``, a range just before or after the window."""
        if start >= stop:
            return []
        widgets = [self._make(v) for v in self.views[start:stop]]
        for widget in widgets:
            self._widgets[widget.message_id] = widget
        if stop <= self.first or not self.loaded:
            index = self._leading
            self.loaded[:0] = widgets
            self.first = start
            self.end = max(self.end, stop)
        else:
            index = self._leading + len(self.loaded)
            self.loaded.extend(widgets)
            self.end = stop
        for offset, widget in enumerate(widgets):
            self._column.insertWidget(index + offset, widget)
            # Now, not from the queued call the layout would make: the column
            # can then be laid out (and painted) with it in one go.
            widget.show()
        return widgets

    def _drop(self, widget: MessageWidget) -> None:
        if widget.message_id in self._positions:
            self.store(widget)
        self._column.removeWidget(widget)
        widget.deleteLater()
