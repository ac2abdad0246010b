"""One read-only rich-text box of a message, as tall as its content.

Owns the widget details every piece of shown Markdown shares: no scrollbars
and a fixed height that follows the document, links never followed by Qt
itself (``setOpenLinks(False)``; the body decides), the link target shown as
a tooltip before a click, wheel events handed to the chat's scroll area, and
the paragraph cutting applied to text appended as plain text.

Must not: decide what a link does or what text to show.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QResizeEvent,
    QTextBlockFormat,
    QTextCursor,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QFrame,
    QSizePolicy,
    QTextBrowser,
    QWidget,
)

from desktop_app.qt.markdown import COPY_CODE_SCHEME

# Qt relayouts a whole paragraph when it changes and lays out unbroken text
# in quadratic time: appended plain text is cut into paragraphs this long.
MAX_APPENDED_PARAGRAPH = 4_000


def chop_paragraphs(text: str, current: int, limit: int = MAX_APPENDED_PARAGRAPH) -> str:
    """``text`` with newlines added so no line (the first continuing one of
    ``current`` characters) exceeds ``limit``; cuts between words if it can."""
    out: list[str] = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        while current + len(line) > limit:
            room = limit - current
            space = line.rfind(" ", 0, room) if room > 0 else -1
            if space >= 0:
                out.append(line[: space + 1])
                line = line[space + 1 :]
            elif current <= limit // 2:
                out.append(line[:room])  # one giant word: cut it
                line = line[room:]
            out.append("\n")  # (else: the word starts on a new paragraph)
            current = 0
        out.append(line)
        current += len(line)
        if number < len(lines) - 1:
            out.append("\n")
            current = 0
    return "".join(out)


class MarkdownSegment(QTextBrowser):
    """A read-only rich-text box as tall as its content, with safe link handling."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        document = self.document()
        document.setDocumentMargin(0)
        document.setUndoRedoEnabled(False)  # appends would otherwise pile up undo steps
        document.documentLayout().documentSizeChanged.connect(self.fit)
        self.highlighted.connect(self._show_target)
        self.setFixedHeight(0)

    def set_link_colour(self, colour: str) -> None:
        """Links in HTML set from now on use ``colour`` (the theme's link colour).

        The generated HTML colours its own anchors; this default covers any
        anchor that does not, and the palette covers Qt's own link drawing.
        """
        self.document().setDefaultStyleSheet(f"a {{ color: {colour}; }}")
        palette = self.palette()
        for role in (QPalette.ColorRole.Link, QPalette.ColorRole.LinkVisited):
            palette.setColor(role, QColor(colour))
        self.setPalette(palette)

    def append_plain(self, text: str) -> None:
        """Append ``text`` as plain lines that continue the last block's look.

        Qt gives inserted text the format of the character before it and new
        lines the format of the block they split: a streamed code block would
        carry on in the colour and italics of its last comment, with a
        paragraph's spacing under every line. The new text gets the last
        character's font and background only, and the new lines no spacing
        between them (the last keeps the block's).
        """
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        look = cursor.charFormat()
        look.clearForeground()
        look.setFontItalic(False)
        look.setFontWeight(QFont.Weight.Normal)
        look.setFontUnderline(False)
        look.setAnchor(False)
        look.setAnchorHref("")
        bottom = cursor.blockFormat().bottomMargin()
        cursor.beginEditBlock()
        if bottom and "\n" in text:
            tight = QTextBlockFormat()
            tight.setBottomMargin(0)
            cursor.mergeBlockFormat(tight)  # the lines split from it inherit this
        cursor.insertText(text, look)
        if bottom and "\n" in text:
            spaced = QTextBlockFormat()
            spaced.setBottomMargin(bottom)
            cursor.mergeBlockFormat(spaced)  # the cursor is on the last line
        cursor.endEditBlock()
        self.fit()

    def fit(self) -> None:
        """Be exactly as tall as the document, now.

        ``document().size()`` finishes Qt's lazy layout first: the document
        otherwise lays out the first ~1,000 characters and reports the rest
        from a timer, and a frame painted in between clips the last lines.
        """
        height = math.ceil(self.document().size().height())
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit()  # new width, new line breaks

    def _show_target(self, url: QUrl) -> None:
        # Show where a link goes before it is clicked.
        text = url.toString()
        self.setToolTip("" if text.startswith(COPY_CODE_SCHEME) else text[:500])

    def wheelEvent(self, event: QWheelEvent) -> None:
        # This box never scrolls itself: hand the wheel to the chat's scroll area
        # (explicitly: Qt does not propagate synthesized wheel events), and never
        # zoom on Ctrl+wheel.
        outer = self.parentWidget()
        while outer is not None and not isinstance(outer, QAbstractScrollArea):
            outer = outer.parentWidget()
        if outer is None:
            event.ignore()
            return
        target = outer.viewport()
        position = QPointF(target.mapFromGlobal(event.globalPosition().toPoint()))
        forwarded = QWheelEvent(
            position,
            event.globalPosition(),
            event.pixelDelta(),
            event.angleDelta(),
            event.buttons(),
            Qt.KeyboardModifier.NoModifier,
            event.phase(),
            event.inverted(),
        )
        QApplication.sendEvent(target, forwarded)
        event.accept()
