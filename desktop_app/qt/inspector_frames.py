"""The inspector's frame table: ``FrameTableModel`` over an ``InspectorModel``'s frames.

One row per SSE frame kept by the core model (``core.inspector_model``):
its number, arrival time, connection, event type, id, the raw lines on one
line, and the typed events it became. ``refresh()`` brings the rows up to
date with the least change it can (rows appended while streaming; the oldest
rows of the "latest" half removed when the core model drops them), so a
live stream does not reset the view's selection and scroll. ``FrameFilter``
shows the frames of one event type, or those that became one kind of event.

It must not decode or parse anything (the core model did), and never
awaits.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

from desktop_app.core.inspector_model import FrameRecord, InspectorModel
from desktop_app.core.inspector_words import kinds_of

COLUMNS = ("#", "Time (s)", "Conn", "Type", "ID", "Became", "Raw lines")
COL_INDEX, COL_TIME, COL_CONN, COL_TYPE, COL_ID, COL_TYPED, COL_RAW = range(len(COLUMNS))
FRAME_ROLE = Qt.ItemDataRole.UserRole + 1
KINDS_ROLE = Qt.ItemDataRole.UserRole + 2  # "|text|usage|": what the frame became, for filtering
RAW_PREVIEW_CHARS = 300
_NEWLINE_MARK = " ⏎ "

Index = QModelIndex | QPersistentModelIndex


class FrameTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source: InspectorModel | None = None
        self._frames: list[FrameRecord] = []
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    # ------------------------------------------------------------ source

    def set_source(self, source: InspectorModel | None) -> None:
        self.beginResetModel()
        self._source = source
        self._frames = list(source.frames) if source is not None else []
        self.endResetModel()

    def frame(self, row: int) -> FrameRecord | None:
        return self._frames[row] if 0 <= row < len(self._frames) else None

    def refresh(self) -> None:
        """Catch up with the source's frames (cheap when nothing or only new rows came)."""
        new = self._source.frames if self._source is not None else []
        old = self._frames
        if len(new) >= len(old) and (not old or new[len(old) - 1].index == old[-1].index):
            if len(new) > len(old):  # the common case while streaming: rows appended
                self.beginInsertRows(QModelIndex(), len(old), len(new) - 1)
                self._frames = list(new)
                self.endInsertRows()
            return
        # The source dropped its oldest "latest" rows: remove those, then append.
        first = next(
            (k for k, (a, b) in enumerate(zip(old, new, strict=False)) if a.index != b.index), None
        )
        if first is None or first >= len(new):
            self.set_source(self._source)
            return
        resume = next((j for j in range(first, len(old)) if old[j].index == new[first].index), None)
        if resume is None:
            self.set_source(self._source)
            return
        self.beginRemoveRows(QModelIndex(), first, resume - 1)
        del self._frames[first:resume]
        self.endRemoveRows()
        kept = len(self._frames)
        if any(a.index != b.index for a, b in zip(self._frames, new, strict=False)):
            self.set_source(self._source)
            return
        if len(new) > kept:
            self.beginInsertRows(QModelIndex(), kept, len(new) - 1)
            self._frames = list(new)
            self.endInsertRows()

    # ------------------------------------------------------------ the Qt model

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._frames)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.parent().isValid():
            return None
        frame = self.frame(index.row())
        column = index.column()
        if frame is None or not 0 <= column < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(frame, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (COL_RAW, COL_TYPED):
            return frame.raw() if column == COL_RAW else "\n".join(frame.typed) or None
        if role == Qt.ItemDataRole.FontRole and column in (COL_RAW, COL_ID):
            return QFont(self._mono)
        if role == Qt.ItemDataRole.ForegroundRole and frame.keepalive:
            palette = QApplication.palette()
            return QBrush(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_TYPED and _is_error(frame):
            return QBrush(QColor("#c5221f"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_INDEX, COL_TIME, COL_CONN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == FRAME_ROLE:
            return frame
        if role == KINDS_ROLE:
            return "|" + "|".join(kinds_of(frame.typed)) + "|"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def _display(frame: FrameRecord, column: int) -> str:
    if column == COL_INDEX:
        return str(frame.index + 1)
    if column == COL_TIME:
        return f"{frame.t:.3f}"
    if column == COL_CONN:
        return str(frame.connection)
    if column == COL_TYPE:
        return frame.event_type
    if column == COL_ID:
        return frame.event_id
    if column == COL_RAW:
        text = _NEWLINE_MARK.join(frame.lines)
        return text if len(text) <= RAW_PREVIEW_CHARS else text[: RAW_PREVIEW_CHARS - 1] + "…"
    return "; ".join(frame.typed) if frame.typed else "—"


def _is_error(frame: FrameRecord) -> bool:
    return any(t.startswith(("protocol error", "server error")) for t in frame.typed)


class FrameFilter(QSortFilterProxyModel):
    """Shows every frame, only those of one SSE event type (``set_event_type``), or only those
    that became one kind of typed event (``set_kind``: "text", "usage", "tool call"...)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(COL_TYPE)

    def set_event_type(self, event_type: str | None) -> None:
        self.setFilterKeyColumn(COL_TYPE)
        self.setFilterRole(Qt.ItemDataRole.DisplayRole)
        exact = "" if event_type is None else "^" + QRegularExpression.escape(event_type) + "$"
        self.setFilterRegularExpression(QRegularExpression(exact))

    def set_kind(self, kind: str | None) -> None:
        self.setFilterKeyColumn(COL_TYPED)
        self.setFilterRole(KINDS_ROLE)
        pattern = "" if kind is None else QRegularExpression.escape(f"|{kind}|")
        self.setFilterRegularExpression(QRegularExpression(pattern))
