"""Text hygiene for anything untrusted we display: controls, bidi, long runs, URLs.

Owns the rules that make model or server text safe and cheap to show in Qt:
control characters and NULs become visible pictures, bidirectional overrides
become visible markers, lone surrogates become U+FFFD, very long unbroken
runs get break opportunities, and only absolute http(s) URLs count as safe.

Must not: import Qt or parse Markdown.
"""

from __future__ import annotations

import html
import re

# Qt lays a word with no break opportunity out in quadratic time: give runs of
# non-space characters longer than this a zero-width space every so often.
LONG_RUN = 400
_ZWSP = "\u200b"
SAFE_SCHEMES = ("http", "https")

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


# Qt relayouts a whole paragraph when anything in it changes: plain text shows
# its lines cut to at most this many characters (display only).
PLAIN_LINE_LIMIT = 4_000


def chop_lines(text: str) -> str:
    """Cut lines longer than ``PLAIN_LINE_LIMIT`` (display only)."""
    if len(text) <= PLAIN_LINE_LIMIT:
        return text
    out = []
    for line in text.split("\n"):
        while len(line) > PLAIN_LINE_LIMIT:
            out.append(line[:PLAIN_LINE_LIMIT])
            line = line[PLAIN_LINE_LIMIT:]
        out.append(line)
    return "\n".join(out)
