"""Markdown -> Qt HTML: what hostile model output can and cannot do.

Model output is untrusted (issue 6, "Hostile answers"): raw HTML is escaped,
only http(s) links become anchors, images are never embedded or fetched,
control and bidi characters are made visible, deep nesting cannot blow the
stack. The fetch check runs a real loopback HTTP server and counts requests.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.qt import markdown
from desktop_app.qt.chat_view import ChatView, MessageView
from desktop_app.qt.markdown import HtmlStyle, render_block, render_markdown, sanitize_text
from desktop_app.qt.markdown_body import MarkdownSegment


def anchors(rendered: str) -> list[str]:
    hrefs = []
    for piece in rendered.split('<a href="')[1:]:
        hrefs.append(html.unescape(piece.split('"', 1)[0]))
    return hrefs


# ------------------------------------------------------------------ raw HTML


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<style>body{background:url(http://127.0.0.1/x)}</style>",
        "<iframe src=http://example.com></iframe>",
        "Inline <b>bold</b> and <img src='http://127.0.0.1:9/x.png'>",
        "```\n</pre><script>x</script>\n```",
        "`<img src=http://127.0.0.1:9/y>`",
    ],
)
def test_raw_html_is_escaped_never_passed_through(source: str) -> None:
    out = render_markdown(source)
    for tag in ("<script", "<img", "<iframe", "<style", "<b>bold"):
        assert tag not in out
    # What the user sees is the source text itself, not nothing.
    assert "&lt;" in out


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](file:///etc/passwd)",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](data:image/png;base64,iVBORw0KGgo=)",
        "[x](/relative/path)",
        "[x](ftp://example.com/f)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_only_http_links_become_anchors(link: str) -> None:
    out = render_markdown(link)
    assert anchors(out) == []
    assert "x" in out or "javascript" in out


def test_http_and_https_links_are_clickable_and_escaped() -> None:
    out = render_markdown('[a](https://example.com/?q="1"&r=2) and <http://example.org>')
    assert anchors(out) == ["https://example.com/?q=%221%22&r=2", "http://example.org"]
    assert '"1"' not in out.split("<a href=")[1].split(">")[0]


def test_images_become_text_links_and_are_never_embedded() -> None:
    out = render_markdown(
        "![a chart](https://example.com/c.png) ![x](file:///etc/passwd) ![](http://h/i)"
    )
    assert "<img" not in out
    assert "[image: a chart]" in out
    assert "![x](file:///etc/passwd)" in out  # refused by the parser: shown as typed
    assert "[image]" in out
    assert anchors(out) == ["https://example.com/c.png", "http://h/i"]


# ------------------------------------------------------------------ characters


def test_control_characters_and_nul_are_shown_as_pictures() -> None:
    text = sanitize_text("a\x00b\x1b[31mred\x07\x7f\x85 tab\tnew\nline\r\nend\rx")
    assert text == "a␀b␛[31mred␇␡\ufffd tab\tnew\nline\nend\nx"


def test_bidi_overrides_are_made_visible() -> None:
    trojan = "access = 'user\u202e \u2066// admin\u2069\u2066'"
    shown = sanitize_text(trojan)
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert char not in shown
    assert "‹U+202E›" in shown
    assert "‹U+2066›" in shown
    assert "‹U+202E›" in render_markdown(trojan)


def test_lone_surrogates_become_replacement_characters() -> None:
    assert sanitize_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert "\ufffd" in render_markdown("x \ud83d y")


def test_long_unbroken_runs_get_break_opportunities() -> None:
    out = render_markdown("a" * 5_000)
    assert "\u200b" in out
    assert out.count("\u200b") >= 5_000 // markdown.LONG_RUN


# ------------------------------------------------------------------ structure


def test_commonmark_and_gfm_features_render() -> None:
    source = (
        "# Title\n\nSome **bold**, *em*, ~~gone~~ and `code`.\n\n"
        "> quoted\n\n1. one\n2. two\n   - nested\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n---\n"
    )
    out = render_markdown(source)
    for fragment in ("<h1", "<b>bold</b>", "<i>em</i>", "<s>gone</s>", "<code", "<blockquote"):
        assert fragment in out
    assert "<ol" in out
    assert "<ul" in out
    assert "<table" in out
    assert 'align="right"' in out
    assert "<hr/>" in out


def test_fenced_code_is_highlighted_and_copyable() -> None:
    rendered = render_block(
        "```python\ndef f():\n    return 1\n```\n\n```\nplain\n```", HtmlStyle(), code_prefix="b7."
    )
    assert '<span style="color:' in rendered.html
    assert "copy-code:b7.0" in rendered.html
    assert "copy-code:b7.1" in rendered.html
    assert rendered.codes == {"b7.0": "def f():\n    return 1", "b7.1": "plain"}
    assert "<pre" in rendered.html


def test_unknown_or_hostile_language_names_are_plain_and_escaped() -> None:
    out = render_markdown('```"><script>x</script>\ncode\n```')
    assert "<script" not in out
    assert "code" in out


def test_huge_code_is_shown_without_highlighting() -> None:
    code = "x = 1\n" * (markdown.HIGHLIGHT_LINE_LIMIT + 10)
    started = time.perf_counter()
    out = render_markdown(f"```python\n{code}```")
    assert "<span style=" not in out.split("<pre", 1)[1]
    assert time.perf_counter() - started < 5  # loose: only proves it did not lex


@pytest.mark.parametrize(
    "source",
    [
        ">" * 10_000 + " deep quote",
        "\n".join("  " * i + "- deep list" for i in range(400)),
        "\n".join(">" * i + " q" for i in range(1, 300)),
        "[" * 5_000 + "x",
        "*" * 5_000 + "x" + "*" * 5_000,
    ],
)
def test_hostile_nesting_renders_as_text_without_recursion_errors(source: str) -> None:
    out = render_markdown(source)
    assert "deep" in out or "q" in out or "x" in out


def test_nesting_beyond_the_cap_is_flattened() -> None:
    depth = markdown.MAX_SHOWN_NESTING + 6
    source = "\n".join("  " * i + f"- level {i}" for i in range(depth))
    out = render_markdown(source)
    assert out.count("<ul") == markdown.MAX_SHOWN_NESTING
    assert f"level {depth - 1}" in out  # deeper levels are still shown, as text


def test_blocks_beyond_the_markdown_limit_are_plain_text() -> None:
    big = "**not bold** " * (markdown.MARKDOWN_LIMIT // 12)
    out = render_markdown(big)
    assert "<b>" not in out
    assert "**not bold**" in out


# ------------------------------------------------------------------ nothing is fetched


class _CountingHandler(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def loopback_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_loopback_server_counts_requests(loopback_server: tuple[str, list[str]]) -> None:
    # The probe works: a real request is seen (so zero hits below means something).
    import urllib.request

    base, hits = loopback_server
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base}/probe", timeout=5) as response:
        response.read()
    assert hits == ["/probe"]


def test_images_and_img_tags_are_never_fetched(
    qtbot: QtBot, loopback_server: tuple[str, list[str]]
) -> None:
    base, hits = loopback_server
    hostile = (
        f"![tracker]({base}/md-image.png)\n\n"
        f"<img src={base}/raw-img.png>\n\n"
        f'<p style="background-image:url({base}/css.png)">x</p>\n\n'
        f"[![nested]({base}/nested.png)]({base}/link)\n\n"
        f"```\n<img src={base}/in-code.png>\n```"
    )
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.set_messages([MessageView("a", "assistant", hostile)])
    view.begin_stream("a")
    view.append_text("a", f"\n\n![streamed]({base}/streamed.png)")
    view.flush()
    # A segment given raw <img> HTML directly does not fetch either (no loadResource override).
    segment = MarkdownSegment()
    qtbot.addWidget(segment)
    segment.setHtml(f'<img src="{base}/direct.png"><p>t</p>')
    segment.show()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:  # give any fetch a chance to happen
        qtbot.wait(50)
    assert hits == []
    assert "[image: tracker]" in view.displayed_text("a")
