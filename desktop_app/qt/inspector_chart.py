"""The inspector's timeline chart: a small QPainter drawing of one stream.

Time runs left to right from the first request. Each token is a bar as tall
as the gap before it (the inter-token gap) on a logarithmic scale, so the
10-50 ms rhythm of a healthy stream and a 2 s stall are both legible on one
plot (on a linear scale the stall threshold flattens every ordinary gap to
the axis); the stall threshold is a dashed line, stalls are shaded red, keep-alives are
grey ticks under the axis, reconnects orange dashed lines labelled with
their ``Last-Event-ID``, and vertical marks show the first byte, the first
token and the end (green complete, orange interrupted, red failed, grey
stopped). Tokens are drawn one line per pixel column (the tallest gap in
it, each column's run of tokens found by bisection), so a 100,000-token
stream paints as fast as a short one.

It must not compute figures (``core.inspector_timeline`` does) and never
awaits. ``now`` (seconds since the first request) extends a live stream's
right edge so an ongoing silence shows.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.core.events import TurnState
from desktop_app.core.inspector_timeline import Timeline

TOKEN = QColor("#1a73e8")
STALL = QColor(217, 48, 37, 45)
STALL_EDGE = QColor("#d93025")
KEEPALIVE = QColor("#80868b")
RECONNECT = QColor("#e37400")
MARK = QColor("#188038")
END_COLORS = {
    TurnState.COMPLETE: QColor("#188038"),
    TurnState.INTERRUPTED: QColor("#e37400"),
    TurnState.FAILED: QColor("#d93025"),
    TurnState.CANCELLED: QColor("#80868b"),
}
END_WORDS = {
    TurnState.COMPLETE: "end",
    TurnState.INTERRUPTED: "dropped",
    TurnState.FAILED: "failed",
    TurnState.CANCELLED: "stopped",
}
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 22, 30
FLOOR = 0.001  # the gap at the bottom of the log scale; shorter gaps sit on the axis
Scale = Callable[[float], float]  # seconds to pixels


class TimelineChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.now: float | None = None
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Stream timeline")

    def sizeHint(self) -> QSize:
        return QSize(420, 170)

    def set_timeline(self, timeline: Timeline | None, now: float | None = None) -> None:
        self.timeline = timeline
        self.now = now
        self.setAccessibleDescription(describe(timeline))
        self.setToolTip(describe(timeline))
        self.update()

    # ------------------------------------------------------------ geometry

    def _span(self, timeline: Timeline) -> float:
        right = max(timeline.last_event, self.now or 0.0)
        return max(right, 0.001) * 1.03

    def _ceiling(self, timeline: Timeline) -> float:
        """The gap at the top of the plot: the largest gap, at least 1.5x the threshold."""
        top = max(timeline.max_gap or 0.0, timeline.threshold * 1.5, FLOOR * 10)
        if self.now is not None and timeline.tokens and timeline.end is None:
            top = max(top, self.now - timeline.tokens[-1])  # an ongoing silence
        return top * 1.3

    # ------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        plot = QRectF(LEFT, TOP, self.width() - LEFT - RIGHT, self.height() - TOP - BOTTOM)
        timeline = self.timeline
        if timeline is None or plot.width() < 20 or plot.height() < 20:
            painter.setPen(text)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No stream yet")
            painter.end()
            return
        span, ceiling = self._span(timeline), self._ceiling(timeline)

        def x(t: float) -> float:
            return plot.left() + plot.width() * min(max(t, 0.0), span) / span

        decades = math.log10(ceiling / FLOOR)

        def y(gap: float) -> float:
            if gap <= FLOOR:
                return plot.bottom()
            return plot.bottom() - plot.height() * math.log10(min(gap, ceiling) / FLOOR) / decades

        self._axes(painter, plot, span, ceiling, text, x, y)
        metrics = painter.fontMetrics()
        for stall in timeline.stalls:
            left, right = x(stall.start), x(stall.start + stall.length)
            painter.fillRect(QRectF(left, plot.top(), max(1.0, right - left), plot.height()), STALL)
            label = f"stall {_seconds(stall.length)}"
            if right - left > metrics.horizontalAdvance(label) + 4:
                painter.setPen(STALL_EDGE)
                painter.drawText(QPointF(left + 3, plot.bottom() - 4), label)
        if self.now is not None and timeline.end is None and timeline.tokens:
            silence = self.now - timeline.tokens[-1]
            if silence > timeline.threshold:  # a stall happening now
                left = x(timeline.tokens[-1])
                painter.fillRect(QRectF(left, plot.top(), x(self.now) - left, plot.height()), STALL)
        threshold_pen = QPen(STALL_EDGE, 1, Qt.PenStyle.DashLine)
        painter.setPen(threshold_pen)
        painter.drawLine(
            QLineF(plot.left(), y(timeline.threshold), plot.right(), y(timeline.threshold))
        )
        self._tokens(painter, plot, timeline, x, y)
        self._keepalives(painter, plot, timeline, x)
        self._marks(painter, plot, timeline, x, text)
        painter.end()

    def _axes(
        self,
        painter: QPainter,
        plot: QRectF,
        span: float,
        ceiling: float,
        text: QColor,
        x: Scale,
        y: Scale,
    ) -> None:
        painter.setPen(QPen(text, 1))
        painter.drawLine(QLineF(plot.bottomLeft(), plot.bottomRight()))
        painter.drawLine(QLineF(plot.bottomLeft(), plot.topLeft()))
        step = _nice_step(span / 6)
        t = 0.0
        metrics = painter.fontMetrics()
        while t <= span:
            px = x(t)
            painter.drawLine(QLineF(px, plot.bottom(), px, plot.bottom() + 3))
            label = _seconds(t)
            painter.drawText(
                QPointF(
                    px - metrics.horizontalAdvance(label) / 2, plot.bottom() + 3 + metrics.ascent()
                ),
                label,
            )
            t += step
        grid = QPen(QColor(text.red(), text.green(), text.blue(), 40), 1)
        for decade in range(math.ceil(math.log10(ceiling / FLOOR))):
            gap = FLOOR * 10**decade  # one line a decade: 1 ms, 10 ms, 100 ms, 1 s ...
            py = y(gap)
            painter.setPen(grid)
            painter.drawLine(QLineF(plot.left(), py, plot.right(), py))
            painter.setPen(text)
            label = f"{gap * 1000:.0f} ms" if gap < 1 else f"{gap:.0f} s"
            painter.drawText(
                QPointF(
                    plot.left() - 4 - metrics.horizontalAdvance(label),
                    py + metrics.ascent() / 2 - 1,
                ),
                label,
            )
        painter.setPen(text)
        painter.drawText(QPointF(4, TOP - 8), "gap before each token (log scale)")

    def _tokens(
        self, painter: QPainter, plot: QRectF, timeline: Timeline, x: Scale, y: Scale
    ) -> None:
        # Arrival times only grow, so each pixel column holds a run of tokens: find each
        # run's end by bisection and take the tallest gap in C, never token by token.
        columns: dict[int, float] = {}
        tokens, gaps = timeline.tokens, timeline.gaps
        start = 0
        while start < len(tokens):
            column = int(x(tokens[start]))
            end = bisect.bisect_left(tokens, column + 1, start + 1, key=lambda t: int(x(t)))
            # Token i's gap is gaps[i - 1]; the first token's is 0 (the default).
            columns[column] = max(gaps[max(start - 1, 0) : end - 1], default=0.0)
            start = end
        floor = plot.bottom()
        lines = [QLineF(c + 0.5, floor, c + 0.5, min(y(g), floor - 2)) for c, g in columns.items()]
        painter.setPen(QPen(TOKEN, 1))
        painter.drawLines(lines)

    def _keepalives(self, painter: QPainter, plot: QRectF, timeline: Timeline, x: Scale) -> None:
        if not timeline.keepalives:
            return
        painter.setPen(QPen(KEEPALIVE, 1))
        base = plot.bottom() + BOTTOM - 6
        columns = {int(x(t)) for t in timeline.keepalives}
        painter.drawLines([QLineF(c + 0.5, base - 5, c + 0.5, base + 1) for c in sorted(columns)])
        # The row's label goes where no tick is: at the left, else at the right end.
        label = "keep-alive"
        width = painter.fontMetrics().horizontalAdvance(label)
        left = 2.0
        if min(columns) < left + width + 4 and max(columns) < plot.right() - width - 4:
            left = plot.right() - width
        painter.drawText(QPointF(left, base + 1), label)

    def _marks(
        self, painter: QPainter, plot: QRectF, timeline: Timeline, x: Scale, text: QColor
    ) -> None:
        labels: list[tuple[float, str, QColor]] = []
        for number, t in enumerate(timeline.requests[1:], 2):
            labels.append((t, f"request {number}", text))
        if timeline.first_byte is not None:
            labels.append((timeline.first_byte, "first byte", MARK))
        if timeline.first_token is not None:
            labels.append((timeline.first_token, "first token", MARK))
        for t, last_id in timeline.reconnects:
            labels.append((t, f"reconnect, Last-Event-ID {last_id or '—'}", RECONNECT))
        if timeline.end is not None and timeline.end_state is not None:
            state = timeline.end_state
            labels.append(
                (timeline.end, END_WORDS.get(state, state.value), END_COLORS.get(state, text))
            )
        metrics = painter.fontMetrics()
        background = self.palette().color(QPalette.ColorRole.Base)
        row_right: list[float] = []  # labels stack in rows so they never overlap
        for t, label, color in sorted(labels, key=lambda item: item[0]):
            px = x(t)
            painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QLineF(px, plot.top(), px, plot.bottom()))
            width = metrics.horizontalAdvance(label)
            left = min(px + 3, plot.right() - width)
            row = next((r for r, edge in enumerate(row_right) if edge < left), len(row_right))
            if row == len(row_right):
                row_right.append(0.0)
            row_right[row] = left + width + 6
            top = plot.top() + row * metrics.height()
            # A backing keeps the threshold line and the other marks from striking the words.
            painter.fillRect(QRectF(left - 1, top, width + 2, metrics.height()), background)
            painter.setPen(color)
            painter.drawText(QPointF(left, top + metrics.ascent()), label)


def describe(timeline: Timeline | None) -> str:
    """The chart in words, for screen readers and the tooltip."""
    if timeline is None:
        return "No stream yet."
    parts = [f"{timeline.token_count} tokens"]
    if timeline.first_token is not None:
        parts.append(f"first token at {_seconds(timeline.first_token)}")
    if timeline.max_gap is not None:
        parts.append(f"longest gap {_seconds(timeline.max_gap)}")
    parts.append(_count(len(timeline.stalls), "stall"))
    parts.append(_count(len(timeline.keepalives), "keep-alive"))
    if timeline.reconnects:
        parts.append(_count(len(timeline.reconnects), "reconnect"))
    ending = timeline.ending()
    return ", ".join(parts) + "." + (f" {ending}" if ending else "")


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(f * power for f in (1.0, 2.0, 5.0, 10.0) if f * power >= raw * 0.999)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _seconds(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    if value < 0.9995:
        return f"{value * 1000:.0f} ms"
    return f"{value:.3g} s" if value < 10 else f"{value:.0f} s"
