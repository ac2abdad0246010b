"""The stream inspector: a dock showing what came over the wire for one answer.

``StreamInspector(QDockWidget)`` shows an ``InspectorModel``
(``core.inspector_model``): figures and the timeline chart
(``inspector_chart``), every SSE frame in a table filterable by event type
(``inspector_frames``) with the selected frame in full, and the requests
and response heads (secrets already masked by the core). It follows a live
stream (the model's ``listener`` schedules a refresh, coalesced to one per
``REFRESH_MS``; the chart's right edge moves with the clock so a silence
shows as it happens) and shows finished ones the same way. Copy a frame,
copy the stream as raw text, save it as a recording.

It must not touch the network or the history, and never awaits (the save
dialog is opened with ``open()``).
"""

from __future__ import annotations

import time
import weakref

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.inspector_model import FrameRecord, InspectorModel
from desktop_app.qt.inspector_chart import TimelineChart
from desktop_app.qt.inspector_frames import (
    COL_RAW,
    COL_TYPED,
    FRAME_ROLE,
    FrameFilter,
    FrameTableModel,
)
from desktop_app.qt.inspector_text import http_text, summary_text

__all__ = ["StreamInspector", "add_inspector_dock", "http_text", "summary_text"]

REFRESH_MS = 100  # at most ten refreshes a second, whatever the token rate
LIVE_TICK_MS = 500  # while streaming, the chart's "now" moves on even when nothing arrives
ALL_TYPES = "All frames"
EVENT_PREFIX = "event: "  # frames of one SSE event name
KIND_PREFIX = "became: "  # frames that became one kind of typed event
NOTHING_SELECTED = "Select an answer to see what came over the wire."


class StreamInspector(QDockWidget):
    recordingSaved = Signal(str)  # the file written
    problemReported = Signal(str)  # a sentence, e.g. a recording that could not be written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stream inspector", parent)
        self.setObjectName("streamInspector")
        self._model: InspectorModel | None = None
        self._placeholder = NOTHING_SELECTED
        self._table = FrameTableModel(self)
        self._filter = FrameFilter(self)
        self._filter.setSourceModel(self._table)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(LIVE_TICK_MS)
        self._live_timer.timeout.connect(self._tick)
        # The model holds only a weak reference to us: a strong one would make a cycle
        # (dock -> model -> dock) that Python's collector may free on another thread,
        # destroying our timers there.
        this = weakref.WeakMethod(self._schedule_refresh)

        def listener() -> None:
            method = this()
            if method is not None:
                method()

        self._listener = listener
        self._build()
        self.show_model(None)

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.subject = QLabel(body)
        self.subject.setObjectName("inspectorSubject")
        self.subject.setTextFormat(Qt.TextFormat.PlainText)
        self.subject.setAccessibleName("The answer inspected")
        self.subject.hide()
        self.summary = QLabel(body)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = TimelineChart(body)
        self.note = QLabel(body)
        self.note.setWordWrap(True)
        self.note.setObjectName("inspectorNote")
        self.note.hide()

        frames_page = QWidget(body)
        frames_layout = QVBoxLayout(frames_page)
        frames_layout.setContentsMargins(0, 4, 0, 0)
        filter_row = QHBoxLayout()
        self.type_filter = QComboBox(frames_page)
        self.type_filter.setAccessibleName("Show only the frames of one event type or kind")
        self.type_filter.addItem(ALL_TYPES)
        self.type_filter.currentIndexChanged.connect(self._filter_changed)
        self.count_label = QLabel(frames_page)
        filter_row.addWidget(self.type_filter)
        filter_row.addWidget(self.count_label, 1)
        frames_layout.addLayout(filter_row)
        self.table = QTableView(frames_page)
        self.table.setModel(self._filter)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Size the columns from the rows in view: by default Qt reads 1000 rows on every
        # insert, ~25k data() calls per live refresh, and a fast stream ran 3x slower.
        header.setResizeContentsPrecision(0)
        header.setSectionResizeMode(COL_TYPED, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_TYPED, 16 * self.fontMetrics().averageCharWidth())
        header.setSectionResizeMode(COL_RAW, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Frames as received")
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.detail = QPlainTextEdit(frames_page)
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("The selected frame")
        self.detail.setPlaceholderText("Select a frame to see it whole.")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.detail.setFont(mono)
        split = QSplitter(Qt.Orientation.Vertical, frames_page)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        frames_layout.addWidget(split, 1)

        self.http_text = QPlainTextEdit(body)
        self.http_text.setReadOnly(True)
        self.http_text.setFont(mono)
        self.http_text.setAccessibleName("Requests and responses")
        self.tabs = QTabWidget(body)
        self.tabs.addTab(frames_page, "Frames")
        self.tabs.addTab(self.http_text, "Request and response")

        buttons = QHBoxLayout()
        self.copy_frame_button = QPushButton("Copy frame", body)
        self.copy_frame_button.clicked.connect(self.copy_frame)
        self.copy_stream_button = QPushButton("Copy stream as text", body)
        self.copy_stream_button.clicked.connect(self.copy_stream)
        self.save_button = QPushButton("Save recording…", body)
        self.save_button.setToolTip("Save the stream as a recording for streamdesk-stub --replay")
        self.save_button.clicked.connect(self.choose_recording_file)
        for button in (self.copy_frame_button, self.copy_stream_button, self.save_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        copy = QAction("Copy frame", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_frame)
        self.table.addAction(copy)

        layout.addWidget(self.subject)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart)
        layout.addWidget(self.note)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.setWidget(body)

    # ------------------------------------------------------------ the model

    @property
    def model(self) -> InspectorModel | None:
        return self._model

    def show_model(self, model: InspectorModel | None, placeholder: str = "") -> None:
        """Inspect this answer's stream (live or finished).

        None shows an empty panel saying ``placeholder`` (or how to choose an answer).
        """
        self._placeholder = placeholder or NOTHING_SELECTED
        previous = self._model
        if previous is not None and previous.listener is self._listener:
            previous.listener = None
        self._model = model
        if model is not None:
            model.listener = self._listener
        self._table.set_source(model)
        self.type_filter.blockSignals(True)
        self.type_filter.clear()
        self.type_filter.addItem(ALL_TYPES)
        self.type_filter.blockSignals(False)
        self._filter.set_event_type(None)
        self.detail.clear()
        self.refresh()

    def set_subject(self, text: str) -> None:
        """Say which answer is shown (one line, elided), or nothing."""
        metrics = self.subject.fontMetrics()
        width = max(200, self.width() - 24)
        self.subject.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.subject.setToolTip(text)
        self.subject.setVisible(bool(text))

    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _live(self) -> bool:
        model = self._model
        return model is not None and bool(model.exchanges) and model.end_state is None

    def refresh(self) -> None:
        """Bring everything up to date with the model now."""
        model = self._model
        self._refresh_timer.stop()
        self._table.refresh()
        enabled = model is not None and bool(model.exchanges)
        for button in (self.copy_stream_button, self.save_button):
            button.setEnabled(enabled)
        self.copy_frame_button.setEnabled(self._current_frame() is not None)
        if model is None:
            self.summary.setText(self._placeholder)
            self.chart.set_timeline(None)
            self.http_text.setPlainText("")
            self.count_label.setText("")
            self.note.hide()
            self._live_timer.stop()
            return
        self._offer_filters(model)
        live = self._live()
        if live and not self._live_timer.isActive():
            self._live_timer.start()
        elif not live:
            self._live_timer.stop()
        self._tick()
        self.http_text.setPlainText(http_text(model.exchanges))
        shown, kept = self._filter.rowCount(), self._table.rowCount()
        counted = f"{model.frame_count} frames"
        self.count_label.setText(counted if shown == kept else f"{shown} of {counted}")
        notes = []
        if model.dropped_frames:
            notes.append(
                f"{model.dropped_frames:,} frames in the middle are not kept "
                "(the first and the latest are shown)."
            )
        if model.truncated_bytes:
            notes.append(
                f"The recording keeps the first bytes only ({model.truncated_bytes:,} bytes left out)."
            )
        if model.decoder_error:
            notes.append(model.decoder_error)
        if model.note:
            notes.append(model.note)
        self.note.setText(" ".join(notes))
        self.note.setVisible(bool(notes))

    def _tick(self) -> None:
        model = self._model
        if model is None:
            return
        timeline = model.timeline()
        now = model.recorder.time_of(None) if self._live() else None
        self.chart.set_timeline(timeline, now)
        self.summary.setText(summary_text(timeline))

    # ------------------------------------------------------------ frames

    def _offer_filters(self, model: InspectorModel) -> None:
        """SSE event names first, then what frames became: in OpenAI's format every frame is a
        ``message``, and only the second list tells text from tool calls, usage or the end."""
        offered = {self.type_filter.itemText(i) for i in range(self.type_filter.count())}
        wanted = [f"{EVENT_PREFIX}{name}" for name in model.event_types]
        wanted += [f"{KIND_PREFIX}{kind}" for kind in model.kinds]
        for label in wanted:
            if label not in offered:
                self.type_filter.addItem(label)

    def _filter_changed(self, index: int) -> None:
        label = self.type_filter.itemText(index) if index > 0 else ""
        if label.startswith(KIND_PREFIX):
            self._filter.set_kind(label.removeprefix(KIND_PREFIX))
        else:
            self._filter.set_event_type(label.removeprefix(EVENT_PREFIX) or None)
        self.refresh()

    def _current_frame(self) -> FrameRecord | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        frame = self._filter.data(rows[0], FRAME_ROLE)
        return frame if isinstance(frame, FrameRecord) else None

    def select_row(self, row: int) -> None:
        """Select the ``row``-th visible frame (keyboard users and tests)."""
        index = self._filter.index(row, 0)
        if index.isValid():
            self.table.selectRow(row)

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        frame = self._current_frame()
        self.copy_frame_button.setEnabled(frame is not None)
        if frame is None:
            self.detail.clear()
            return
        became = "\n".join(f"→ {t}" for t in frame.typed) or "→ nothing (no content)"
        where = f"frame {frame.index + 1} · {frame.t:.3f} s · connection {frame.connection}"
        self.detail.setPlainText(f"{frame.raw()}{became}\n\n{where}")

    def copy_frame(self) -> None:
        frame = self._current_frame()
        if frame is not None:
            QGuiApplication.clipboard().setText(frame.raw())

    def copy_stream(self) -> None:
        if self._model is not None:
            QGuiApplication.clipboard().setText(self._model.raw_text())

    # ------------------------------------------------------------ saving

    def choose_recording_file(self) -> None:
        if self._model is None:
            return
        dialog = QFileDialog(self, "Save the stream as a recording")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("Recordings (*.jsonl)")
        dialog.setDefaultSuffix("jsonl")
        dialog.selectFile(time.strftime("stream-%Y%m%d-%H%M%S.jsonl"))
        dialog.fileSelected.connect(self.save_recording)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def save_recording(self, path: str) -> bool:
        """Write the stream as a recording; False (and ``problemReported``) if it could not be."""
        if self._model is None:
            return False
        try:
            self._model.recording().save(path)
        except OSError as exc:
            self.problemReported.emit(
                f"The recording could not be saved to {path}: {exc.strerror or exc}."
            )
            return False
        self.recordingSaved.emit(path)
        return True


def add_inspector_dock(window: QMainWindow, menu: QMenu | None = None) -> StreamInspector:
    """The inspector docked on the right of ``window``, hidden, toggled from ``menu``
    ("Stream inspector", Ctrl+Shift+I anywhere in the window)."""
    dock = StreamInspector(window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setText("Stream &inspector")
    toggle.setObjectName("action_stream_inspector")
    toggle.setShortcut(QKeySequence("Ctrl+Shift+I"))
    toggle.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    toggle.setStatusTip("Show what came over the wire for the answer")
    window.addAction(toggle)
    if menu is not None:
        menu.addSeparator()
        menu.addAction(toggle)
    return dock
