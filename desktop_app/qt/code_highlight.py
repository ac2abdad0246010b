"""Pygments highlighting as inline-styled HTML spans Qt understands.

Owns the lexer lookup (by the fence's language name; unknown names give plain
text), the token -> inline CSS mapping of a Pygments style (QTextDocument
knows no classes), the size caps beyond which code is not coloured, and
chunked, cached highlighting for code that is still streaming.

Must not: import Qt, or produce anything but spans and escaped text.
"""

from __future__ import annotations

import functools
from typing import Any

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound

from desktop_app.qt.text_hygiene import chop_lines, escape

# Code longer than this is shown without colours (Pygments ~1 us per char).
HIGHLIGHT_CHAR_LIMIT = 100_000
HIGHLIGHT_LINE_LIMIT = 3_000
# Streaming code is highlighted in chunks of this many lines, each cached, so
# a growing code block costs only its newest chunk per flush.
HIGHLIGHT_CHUNK_LINES = 40

# (style name, Pygments token type) -> inline CSS; filled lazily.
_CSS_CACHE: dict[tuple[str, _TokenType], str] = {}


def _token_css(style_name: str, ttype: _TokenType) -> str:
    css = _CSS_CACHE.get((style_name, ttype))
    if css is None:
        style = get_style_by_name(style_name)
        spec = style.style_for_token(ttype)
        parts = []
        if spec["color"]:
            parts.append(f"color:#{spec['color']}")
        if spec["bold"]:
            parts.append("font-weight:bold")
        if spec["italic"]:
            parts.append("font-style:italic")
        css = ";".join(parts)
        _CSS_CACHE[(style_name, ttype)] = css
    return css


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    name = language.strip().lower()
    if not name or len(name) > 40:
        return None
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _format_tokens(tokens: Any, style_name: str) -> str:
    out: list[str] = []
    pending_css = ""
    pending: list[str] = []
    for ttype, value in tokens:
        css = _token_css(style_name, ttype)
        if css != pending_css and pending:
            out.append(_span(pending_css, "".join(pending)))
            pending = []
        pending_css = css
        pending.append(value)
    if pending:
        out.append(_span(pending_css, "".join(pending)))
    return "".join(out)


def _span(css: str, text: str) -> str:
    escaped = escape(text)
    return f'<span style="{css}">{escaped}</span>' if css else escaped


@functools.lru_cache(maxsize=512)
def _highlight_chunk(code: str, language: str, style_name: str) -> str:
    lexer = _lexer(language)
    if lexer is None:
        return escape(code)
    return _format_tokens(lexer.get_tokens(code), style_name)


def highlight(code: str, language: str, style_name: str, *, chunked: bool = False) -> str:
    """Code -> coloured HTML spans (no wrapper). Plain escaped text when too big
    or the language is unknown. ``chunked`` highlights per ``HIGHLIGHT_CHUNK_LINES``
    lines with a cache, for code that is still growing (colours may be off where
    a string spans a chunk edge until the block closes and is highlighted whole)."""
    if (
        len(code) > HIGHLIGHT_CHAR_LIMIT
        or code.count("\n") > HIGHLIGHT_LINE_LIMIT
        or _lexer(language) is None
    ):
        return escape(chop_lines(code))
    if not chunked:
        return _highlight_chunk(code, language, style_name)
    lines = code.splitlines(keepends=True)
    parts = []
    for start in range(0, len(lines), HIGHLIGHT_CHUNK_LINES):
        chunk = "".join(lines[start : start + HIGHLIGHT_CHUNK_LINES])
        parts.append(_highlight_chunk(chunk, language, style_name))
    return "".join(parts)
