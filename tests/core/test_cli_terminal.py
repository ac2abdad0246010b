"""The terminal sanitizer: model output never drives the user's terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.cli.terminal import TerminalSanitizer, sanitize

HOSTILE = "A\x1b[2J\x1b]0;pwned\x07B\x9b31mC\x1b]52;c;ZXZpbA==\x1b\\D\rE\x07F"


@pytest.mark.parametrize(
    ("raw", "strict", "piped"),
    [
        ("plain text, ünïcödé, 世界 🎉\n\tok", "plain text, ünïcödé, 世界 🎉\n\tok", None),
        ("red \x1b[31mtext\x1b[0m", "red text", None),
        ("title \x1b]0;pwned\x07after", "title after", None),
        ("clip \x1b]52;c;ZXZpbA==\x1b\\after", "clip after", None),
        ("8-bit \x9b2J\x9d0;t\x9cx", "8-bit x", None),
        ("reset \x1bc done", "reset  done", None),
        ("cr\rbs\b del\x7f nul\x00", "crbs del nul", "cr\rbs\b del\x7f nul\x00"),
        ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line", None),
        ("\x1b[" + "1;" * 100 + "text", "1;" * 68 + "text", None),
    ],
)
def test_sanitizer(raw: str, strict: str, piped: str | None) -> None:
    assert sanitize(raw, strict=True) == strict
    assert sanitize(raw, strict=False) == (strict if piped is None else piped)


def test_a_sequence_split_anywhere_is_removed_whole() -> None:
    for strict in (True, False):
        whole = sanitize(HOSTILE, strict=strict)
        for cut in range(len(HOSTILE) + 1):
            for cut2 in range(cut, len(HOSTILE) + 1):
                s = TerminalSanitizer(strict=strict)
                pieces = (HOSTILE[:cut], HOSTILE[cut:cut2], HOSTILE[cut2:])
                assert "".join(s.feed(p) for p in pieces) == whole


@given(st.lists(st.text(max_size=20), max_size=6))
def test_no_control_ever_reaches_a_terminal(pieces: list[str]) -> None:
    for strict in (True, False):
        s = TerminalSanitizer(strict=strict)
        out = "".join(s.feed(p) for p in pieces)
        assert "\x1b" not in out
        assert not any(0x80 <= ord(c) <= 0x9F for c in out)
        if strict:
            assert all(c in "\n\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in out)
