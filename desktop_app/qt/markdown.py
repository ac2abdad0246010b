"""Markdown -> HTML that Qt's rich-text engine can show, safely.

Owns: turning untrusted model output (Markdown) into the subset of HTML that
``QTextDocument`` understands (code colours come from ``code_highlight``, the
character hygiene from ``text_hygiene``; both are re-exported here).

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

from markdown_it import MarkdownIt
from markdown_it.token import Token

from desktop_app.qt.code_highlight import (
    HIGHLIGHT_CHAR_LIMIT,
    HIGHLIGHT_CHUNK_LINES,
    HIGHLIGHT_LINE_LIMIT,
    highlight,
)
from desktop_app.qt.text_hygiene import (
    LONG_RUN,
    PLAIN_LINE_LIMIT,
    breakable,
    chop_lines,
    escape,
    is_safe_url,
    sanitize_text,
)

# Re-exported: callers see one module for "make text displayable".
__all__ = [
    "COPY_CODE_SCHEME",
    "HIGHLIGHT_CHAR_LIMIT",
    "HIGHLIGHT_CHUNK_LINES",
    "HIGHLIGHT_LINE_LIMIT",
    "LONG_RUN",
    "MARKDOWN_LIMIT",
    "MAX_PARSE_NESTING",
    "MAX_SHOWN_NESTING",
    "PLAIN_LINE_LIMIT",
    "HtmlStyle",
    "RenderedBlock",
    "breakable",
    "code_block_html",
    "escape",
    "is_safe_url",
    "lone_fence",
    "plain_html",
    "render_block",
    "render_markdown",
    "sanitize_text",
    "warm_up",
]

# markdown-it's own nesting guard: content nested deeper than this is dropped
# by the parser, so a block that reaches it is shown as plain text instead.
MAX_PARSE_NESTING = 40
# Lists and quotes deeper than this are flattened when shown.
MAX_SHOWN_NESTING = 12
# Blocks longer than this are shown as plain text: markdown-it's worst cases
# cost ~20 us per character (research: "[" * n), Qt's layout more.
MARKDOWN_LIMIT = 200_000

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


# ------------------------------------------------------------------ code


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


def plain_html(text: str) -> str:
    """Text shown as is (wrapped, proportional font): for blocks too big for Markdown."""
    return (
        f'<pre style="{_BLOCK};white-space:pre-wrap;font-family:inherit">'
        f"{escape(chop_lines(sanitize_text(text)))}</pre>"
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
