"""Markdown -> HTML that Qt's rich-text engine can show, safely.

Owns: turning untrusted model output (Markdown) into the subset of HTML that
``QTextDocument`` understands, with Pygments highlighting for code, and the
text hygiene every displayed string needs (``sanitize_text``).

Safety rules (model output is untrusted, research/ecosystem.md section 6):
- raw HTML in the source is escaped, never passed through (markdown-it
  ``html=False``);
- only ``http``/``https`` links become anchors; everything else
  (``javascript:``, ``file:``, ``data:``, ``vbscript:``, relative) is text;
- images are never embedded: ``![alt](url)`` becomes a link "[image: alt]";
  no ``<img>`` tag is ever produced, so Qt has nothing to load;
- control characters, NULs and bidirectional overrides are made visible;
- nesting is capped so a hostile 10,000-deep list cannot blow the stack.

Must not: import Qt (so it can be unit-tested and run on a worker thread),
read the network or disk, or keep state between calls beyond caches.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound

# markdown-it's own nesting guard: content nested deeper than this is dropped
# by the parser, so a block that reaches it is shown as plain text instead.
MAX_PARSE_NESTING = 40
# Lists and quotes deeper than this are flattened when shown.
MAX_SHOWN_NESTING = 12
# Blocks longer than this are shown as plain text: markdown-it's worst cases
# cost ~20 us per character (research: "[" * n), Qt's layout more.
MARKDOWN_LIMIT = 200_000
# Code longer than this is shown without colours (Pygments ~1 us per char).
HIGHLIGHT_CHAR_LIMIT = 100_000
HIGHLIGHT_LINE_LIMIT = 3_000
# Streaming code is highlighted in chunks of this many lines, each cached, so
# a growing code block costs only its newest chunk per flush.
HIGHLIGHT_CHUNK_LINES = 40
# Qt lays a word with no break opportunity out in quadratic time: give runs of
# non-space characters longer than this a zero-width space every so often.
LONG_RUN = 400
_ZWSP = "\u200b"

SAFE_SCHEMES = ("http", "https")
COPY_CODE_SCHEME = "copy-code"


@dataclass(frozen=True, slots=True)
class HtmlStyle:
    """The colours and fonts the HTML uses (built from the Qt theme by ``theme.py``)."""

    dark: bool = False
    link: str = "#0b57d0"
    muted: str = "#5f6368"
    code_background: str = "#f1f3f4"
    inline_code_background: str = "#eceff1"
    table_border: str = "#c4c7c5"
    quote: str = "#5f6368"
    code_font_family: str = "monospace"
    pygments_style: str = "default"


@dataclass(slots=True)
class RenderedBlock:
    """HTML for one piece of Markdown plus the raw text of its code blocks (for copy)."""

    html: str
    codes: dict[str, str] = field(default_factory=dict)  # copy-code id -> raw code


# ------------------------------------------------------------------ hygiene

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LONG_RUN = re.compile(rf"\S{{{LONG_RUN},}}")


def _control_picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 CONTROL PICTURES: NUL -> "␀", ESC -> "␛"
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls have no pictures


def sanitize_text(text: str) -> str:
    """Make untrusted text safe to show: visible controls, visible bidi overrides.

    Line ends are normalised to ``\\n``; tabs and newlines are kept. Lone
    surrogates (possible from JSON ``"\\ud800"``) become U+FFFD so Qt never
    sees invalid UTF-16. Bidi embedding/override/isolate characters would let
    a model reorder what the user reads (Trojan Source, CVE-2021-42574), so
    they are replaced by a visible marker such as ``‹U+202E›``.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_control_picture, text)
    text = _BIDI.sub(lambda m: f"‹U+{ord(m.group()):04X}›", text)
    return _SURROGATE.sub("\ufffd", text)


def breakable(text: str) -> str:
    """Add zero-width spaces inside very long unbroken runs (display only)."""
    if len(text) < LONG_RUN:
        return text

    def split(match: re.Match[str]) -> str:
        run = match.group()
        step = LONG_RUN // 2
        return _ZWSP.join(run[i : i + step] for i in range(0, len(run), step))

    return _LONG_RUN.sub(split, text)


def escape(text: str) -> str:
    """Escape text for Qt HTML (after making long runs breakable)."""
    return html.escape(breakable(text), quote=False)


def is_safe_url(url: str) -> bool:
    """True for absolute http(s) URLs, the only ones we ever make clickable."""
    scheme, sep, rest = url.partition(":")
    return bool(sep) and scheme.strip().lower() in SAFE_SCHEMES and rest.startswith("//")


# ------------------------------------------------------------------ highlighting


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
        return escape(_chop_lines(code))
    if not chunked:
        return _highlight_chunk(code, language, style_name)
    lines = code.splitlines(keepends=True)
    parts = []
    for start in range(0, len(lines), HIGHLIGHT_CHUNK_LINES):
        chunk = "".join(lines[start : start + HIGHLIGHT_CHUNK_LINES])
        parts.append(_highlight_chunk(chunk, language, style_name))
    return "".join(parts)


def code_block_html(
    code: str, language: str, code_id: str, style: HtmlStyle, *, streaming: bool = False
) -> str:
    """A fenced code block: a header line (language, Copy link) over a shaded <pre>.

    A ``<pre>`` (not a table) because Qt lays tables out ~3x slower, and the
    streaming tail re-renders its open code block on every flush.
    """
    if code.endswith("\n"):
        code = code[:-1]  # the fence's last newline is not a line of code
    body = highlight(code, language, style.pygments_style, chunked=streaming)
    label = escape(language.strip()[:30]) or "code"
    box = f"background-color:{style.code_background}"
    return (
        f'<p style="margin:0;{box};font-size:small">'
        f'<span style="color:{style.muted}">&nbsp;{label}</span>&nbsp;&nbsp;&nbsp;'
        f'<a href="{COPY_CODE_SCHEME}:{code_id}" style="color:{style.link}">Copy</a></p>'
        f'<pre style="margin:0 0 8px 0;{box};font-family:{style.code_font_family}">'
        f"{body}</pre>"
    )


# ------------------------------------------------------------------ markdown


@functools.cache
def _parser() -> MarkdownIt:
    # js-default: raw HTML escaped, javascript:/vbscript:/file:/data: links
    # refused by validateLink, tables and strikethrough on.
    return MarkdownIt("js-default", {"maxNesting": MAX_PARSE_NESTING})


_BLOCK = "margin:0 0 8px 0"
_HEADING_SIZES = {"h1": "x-large", "h2": "large", "h3": "medium", "h4": "medium"}


class _HtmlWriter:
    """Walks markdown-it's flat token stream (no recursion) and writes Qt HTML."""

    def __init__(self, style: HtmlStyle, code_prefix: str, streaming: bool) -> None:
        self.style = style
        self.code_prefix = code_prefix
        self.streaming = streaming
        self.codes: dict[str, str] = {}
        self.out: list[str] = []
        self.depth = 0  # open lists + quotes
        self.flattened = 0  # containers beyond MAX_SHOWN_NESTING, not shown
        # Per open <li>: is it still open? Qt shows a list nested inside an <li>
        # after a blank line, so the item is closed before a nested list starts.
        self.items: list[bool] = []

    def write(self, tokens: list[Token]) -> str:
        for token in tokens:
            handler = getattr(self, "_" + token.type, None)
            if handler is not None:
                handler(token)
        return "".join(self.out)

    # containers --------------------------------------------------------
    def _close_item_early(self) -> None:
        if self.items and self.items[-1]:
            self.out.append("</li>")
            self.items[-1] = False

    def _open_container(self, tag: str) -> None:
        self.depth += 1
        if self.depth > MAX_SHOWN_NESTING:
            self.flattened += 1
            return
        if tag != "blockquote":
            self._close_item_early()
        nested = self.depth > 1
        margin = "margin:0" if nested and tag != "blockquote" else _BLOCK
        if tag == "blockquote":
            self.out.append(f'<blockquote style="margin:0 0 8px 16px;color:{self.style.quote}">')
        else:
            self.out.append(f'<{tag} style="{margin}">')

    def _close_container(self, tag: str) -> None:
        self.depth -= 1
        if self.flattened:
            self.flattened -= 1
            return
        self.out.append(f"</{tag}>")

    def _bullet_list_open(self, token: Token) -> None:
        self._open_container("ul")

    def _bullet_list_close(self, token: Token) -> None:
        self._close_container("ul")

    def _ordered_list_open(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_SHOWN_NESTING:
            self.flattened += 1
            return
        self._close_item_early()
        start = token.attrGet("start")
        start_attr = f' start="{int(start)}"' if isinstance(start, int | str) and start else ""
        margin = "margin:0" if self.depth > 1 else _BLOCK
        self.out.append(f'<ol{start_attr} style="{margin}">')

    def _ordered_list_close(self, token: Token) -> None:
        self._close_container("ol")

    def _list_item_open(self, token: Token) -> None:
        if not self.flattened:
            self.out.append("<li>")
            self.items.append(True)

    def _list_item_close(self, token: Token) -> None:
        if not self.flattened and self.items.pop():
            self.out.append("</li>")

    def _blockquote_open(self, token: Token) -> None:
        self._open_container("blockquote")

    def _blockquote_close(self, token: Token) -> None:
        self._close_container("blockquote")

    # leaf blocks -------------------------------------------------------
    def _paragraph_open(self, token: Token) -> None:
        if token.hidden and not self.flattened:
            return
        margin = "margin:0" if self.depth and token.hidden else _BLOCK
        self.out.append(f'<p style="{margin}">')

    def _paragraph_close(self, token: Token) -> None:
        if token.hidden and not self.flattened:
            return
        self.out.append("</p>")

    def _heading_open(self, token: Token) -> None:
        size = _HEADING_SIZES.get(token.tag, "medium")
        self.out.append(f'<{token.tag} style="{_BLOCK};font-size:{size}">')

    def _heading_close(self, token: Token) -> None:
        self.out.append(f"</{token.tag}>")

    def _hr(self, token: Token) -> None:
        self.out.append("<hr/>")

    def _fence(self, token: Token) -> None:
        language = token.info.split(maxsplit=1)[0] if token.info.strip() else ""
        self._code(token.content, language)

    def _code_block(self, token: Token) -> None:
        self._code(token.content, "")

    def _code(self, code: str, language: str) -> None:
        code_id = f"{self.code_prefix}{len(self.codes)}"
        self.codes[code_id] = code[:-1] if code.endswith("\n") else code
        self.out.append(
            code_block_html(code, language, code_id, self.style, streaming=self.streaming)
        )

    # tables ------------------------------------------------------------
    def _table_open(self, token: Token) -> None:
        self.out.append(
            # Qt drops the bottom margin of the block before a table: space it here.
            '<table cellspacing="0" cellpadding="4" '
            'style="margin-top:8px;margin-bottom:8px;border-collapse:collapse">'
        )

    def _table_close(self, token: Token) -> None:
        self.out.append("</table>")

    def _tr_open(self, token: Token) -> None:
        self.out.append("<tr>")

    def _tr_close(self, token: Token) -> None:
        self.out.append("</tr>")

    def _cell_open(self, token: Token) -> None:
        align = ""
        css = token.attrGet("style")
        if isinstance(css, str) and css.startswith("text-align:"):
            align = f' align="{html.escape(css.split(":", 1)[1].strip())}"'
        border = f"border:1px solid {self.style.table_border}"
        self.out.append(f'<{token.tag}{align} style="{border}">')

    def _cell_close(self, token: Token) -> None:
        self.out.append(f"</{token.tag}>")

    _th_open = _td_open = _cell_open
    _th_close = _td_close = _cell_close

    # inline ------------------------------------------------------------
    def _inline(self, token: Token) -> None:
        self.out.append(self._inline_html(token.children or []))

    def _inline_html(self, children: list[Token]) -> str:
        out: list[str] = []
        link_open: list[bool] = []  # per open link: did we emit an <a>?
        for child in children:
            kind = child.type
            if kind in ("text", "text_special", "html_inline"):
                out.append(escape(child.content))
            elif kind == "softbreak":
                out.append(" ")
            elif kind == "hardbreak":
                out.append("<br/>")
            elif kind == "code_inline":
                out.append(
                    f'<code style="background-color:{self.style.inline_code_background}">'
                    f"{escape(child.content)}</code>"
                )
            elif kind in ("em_open", "strong_open", "s_open"):
                out.append({"em_open": "<i>", "strong_open": "<b>", "s_open": "<s>"}[kind])
            elif kind in ("em_close", "strong_close", "s_close"):
                out.append({"em_close": "</i>", "strong_close": "</b>", "s_close": "</s>"}[kind])
            elif kind == "link_open":
                href = str(child.attrGet("href") or "")
                safe = is_safe_url(href)
                link_open.append(safe)
                if safe:
                    out.append(f'<a href="{html.escape(href)}" style="color:{self.style.link}">')
            elif kind == "link_close":
                if link_open and link_open.pop():
                    out.append("</a>")
            elif kind == "image":
                out.append(self._image(child))
        return "".join(out)

    def _image(self, token: Token) -> str:
        # Never an <img>: Qt would try to load it. A link the user may choose to open.
        alt = "".join(c.content for c in token.children or [])
        label = escape(f"[image: {alt.strip()}]" if alt.strip() else "[image]")
        src = str(token.attrGet("src") or "")
        if is_safe_url(src):
            return f'<a href="{html.escape(src)}" style="color:{self.style.link}">{label}</a>'
        return label


# Qt relayouts a whole paragraph when anything in it changes: plain text shows
# its lines cut to at most this many characters (display only).
PLAIN_LINE_LIMIT = 4_000


def _chop_lines(text: str) -> str:
    if len(text) <= PLAIN_LINE_LIMIT:
        return text
    out = []
    for line in text.split("\n"):
        while len(line) > PLAIN_LINE_LIMIT:
            out.append(line[:PLAIN_LINE_LIMIT])
            line = line[PLAIN_LINE_LIMIT:]
        out.append(line)
    return "\n".join(out)


def plain_html(text: str) -> str:
    """Text shown as is (wrapped, proportional font): for blocks too big for Markdown."""
    return (
        f'<pre style="{_BLOCK};white-space:pre-wrap;font-family:inherit">'
        f"{escape(_chop_lines(sanitize_text(text)))}</pre>"
    )


_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})([^`\n]*)\n")


def lone_fence(text: str) -> tuple[str, str] | None:
    """(language, code) when the text is one fenced code block (closed or not)."""
    match = _FENCE_LINE.match(text)
    if match is None:
        return None
    marker = match.group(1)
    body = text[match.end() :]
    stripped = body.rstrip()
    last_newline = stripped.rfind("\n")
    last_line = stripped[last_newline + 1 :].strip()
    if last_line and set(last_line) == {marker[0]} and len(last_line) >= len(marker):
        body = stripped[: max(last_newline, 0)] + "\n" if last_newline >= 0 else ""
    info = match.group(2).strip()
    return (info.split(maxsplit=1)[0] if info else ""), body


def render_block(
    text: str, style: HtmlStyle, *, code_prefix: str = "", streaming: bool = False
) -> RenderedBlock:
    """Render one piece of Markdown (a block, a tail, or a whole message).

    Code blocks get ``copy-code:<code_prefix><n>`` links (n from 0);
    ``streaming`` says the text is still growing (chunked, cached highlighting).
    """
    text = sanitize_text(text)
    if len(text) > MARKDOWN_LIMIT:
        fence = lone_fence(text)
        if fence is None:
            return RenderedBlock(plain_html(text))
        language, code = fence
        code_id = f"{code_prefix}0"
        html_code = code_block_html(code, language, code_id, style, streaming=streaming)
        return RenderedBlock(html_code, {code_id: code.removesuffix("\n")})
    tokens = _parser().parse(text)
    if any(token.level >= MAX_PARSE_NESTING - 2 for token in tokens):
        # markdown-it stopped descending and dropped the deep content: show it all as text.
        return RenderedBlock(plain_html(text))
    writer = _HtmlWriter(style, code_prefix, streaming)
    return RenderedBlock(writer.write(tokens), writer.codes)


def render_markdown(text: str, style: HtmlStyle | None = None) -> str:
    """Convenience: the HTML of a whole Markdown text rendered at once."""
    return render_block(text, style or HtmlStyle()).html


WARM_UP_LANGUAGES = ("python", "bash", "javascript", "typescript", "json", "rust", "go", "c", "cpp")


def warm_up() -> None:
    """Build the parser and compile the common lexers (~0.1 s each the first
    time): run it on a worker thread at start so the first answer does not pay."""
    style = HtmlStyle()
    for language in WARM_UP_LANGUAGES:
        render_block(f"# w\n\n- a **b** `c`\n\n```{language}\nx = 1\n```\n", style)
