"""Untrusted text on its way to a terminal: control sequences never pass raw.

Model output and server data are untrusted. An escape sequence in an answer
could recolour, retitle or clear the user's terminal, rewrite what was shown
(cursor moves, ``\\r``), write to the clipboard (OSC 52) or, on some
terminals, answer back into the shell. ``TerminalSanitizer`` removes them from
a stream of text pieces; a sequence split across pieces is still removed whole.

- To a terminal (``strict=True``): ESC sequences (CSI, OSC, DCS, SOS, PM, APC
  and two-character escapes), C1 controls (U+0080-U+009F), DEL, every C0
  control except ``\\n`` and ``\\t``, and the bidirectional embedding,
  override and isolate controls (U+202A-U+202E, U+2066-U+2069: they reorder
  what the terminal shows, as in "Trojan Source", CVE-2021-42574) are dropped.
- To a pipe or file (``strict=False``): ESC sequences and C1 controls are
  dropped (a later ``cat`` to a terminal stays safe); other C0 controls
  (``\\r``, ``\\b`` ...) are kept, since the bytes are data there.

It does no I/O; the caller writes what ``feed`` returns.
"""

from __future__ import annotations

_ESC = "\x1b"
_BEL = "\x07"
_ST = "\x9c"  # C1 string terminator
_CSI_C1 = "\x9b"
_STRING_C1 = frozenset("\x90\x98\x9d\x9e\x9f")  # DCS, SOS, OSC, PM, APC
_STRING_INTRODUCERS = frozenset("]PX^_")  # after ESC: OSC, DCS, SOS, PM, APC
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_CSI = 64  # a real CSI sequence is short; beyond this it was not one
_MAX_STRING = 4096  # OSC 52 clipboard payloads can be long; stop swallowing text after this

_NORMAL, _AFTER_ESC, _CSI, _STRING, _STRING_ESC = range(5)


class TerminalSanitizer:
    """Feed text pieces in order; write out what comes back."""

    def __init__(self, *, strict: bool) -> None:
        self._strict = strict
        self._state = _NORMAL
        self._held = 0  # characters swallowed in the current sequence

    def feed(self, text: str) -> str:
        if self._state == _NORMAL and _is_plain(text, self._strict):
            return text  # the common case: nothing to look at twice
        out: list[str] = []
        for ch in text:
            self._step(ch, out)
        return "".join(out)

    def _step(self, ch: str, out: list[str]) -> None:
        state = self._state
        if state == _AFTER_ESC:
            if ch == "[":
                self._enter(_CSI)
            elif ch in _STRING_INTRODUCERS:
                self._enter(_STRING)
            elif ch == _ESC:
                pass  # ESC ESC: still one escape pending
            else:
                self._state = _NORMAL  # a two-character escape (ESC c, ESC 7 ...): dropped
            return
        if state == _CSI:
            self._held += 1
            if "\x40" <= ch <= "\x7e":
                self._state = _NORMAL  # the final byte ends it
            elif not ("\x20" <= ch <= "\x3f") or self._held > _MAX_CSI:
                self._state = _NORMAL  # not a CSI after all: treat ch as text
                self._text(ch, out)
            return
        if state in (_STRING, _STRING_ESC):
            self._held += 1
            if ch in (_BEL, _ST) or (state == _STRING_ESC and ch == "\\"):
                self._state = _NORMAL
            elif ch == "\n" or self._held > _MAX_STRING:
                self._state = _NORMAL  # an unterminated string: give the text back
                self._text(ch, out)
            else:
                self._state = _STRING_ESC if ch == _ESC else _STRING
            return
        self._text(ch, out)

    def _text(self, ch: str, out: list[str]) -> None:
        if ch == _ESC:
            self._state = _AFTER_ESC
        elif ch == _CSI_C1:
            self._enter(_CSI)
        elif ch in _STRING_C1:
            self._enter(_STRING)
        elif _is_control(ch, self._strict):
            pass
        else:
            out.append(ch)

    def _enter(self, state: int) -> None:
        self._state = state
        self._held = 0


def _is_control(ch: str, strict: bool) -> bool:
    code = ord(ch)
    if 0x80 <= code <= 0x9F or code == 0x1B:
        return True
    if not strict:
        return False
    return (code < 0x20 and ch not in "\n\t") or code == 0x7F or ch in _BIDI_CONTROLS


def _is_plain(text: str, strict: bool) -> bool:
    """True when ``text`` holds nothing the sanitizer would touch (checked in C, not per char)."""
    if text.isascii():
        if text.isprintable():
            return True
        if not strict:
            return _ESC not in text
        return text.replace("\n", "").replace("\t", "").isprintable()
    if strict and not _BIDI_CONTROLS.isdisjoint(text):
        return False
    return not any(
        _is_control(ch, strict) for ch in text if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F
    )


def sanitize(text: str, *, strict: bool = True) -> str:
    """One-shot form of ``TerminalSanitizer(strict=...).feed(text)``."""
    return TerminalSanitizer(strict=strict).feed(text)
