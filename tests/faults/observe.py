"""Turning what a layer did into the words of the matrix: text kinds, stable sentences.

The matrix compares observations with data, so what varies between runs
(the port of a loopback server, a random completion id) is replaced by a
fixed token here, and the text a layer kept is named by its relation to the
whole answer ("whole answer", "partial answer", "nothing").
"""

from __future__ import annotations

import re

from desktop_app.cli.terminal import sanitize
from tests.faults.matrix_model import NOTHING, PARTIAL, WHOLE, WHOLE_C1_REMOVED

_PORT = re.compile(r"127\.0\.0\.1:\d+")
_COMPLETION_ID = re.compile(r"chatcmpl-[0-9a-f]+")


def stable(sentence: str | None) -> str:
    """A sentence with run-dependent parts fixed (port -> PORT, completion ids)."""
    if not sentence:
        return ""
    sentence = _PORT.sub("127.0.0.1:PORT", sentence)
    return _COMPLETION_ID.sub("chatcmpl-ID", sentence)


def text_kind(text: str, full: str, partial: str | None = None) -> str:
    """How ``text`` relates to the whole answer ``full``.

    ``partial``: when the test knows exactly what the server sent before the
    fault, a partial answer must be exactly that.
    """
    if not text:
        return NOTHING
    if text == full:
        return WHOLE
    if text == sanitize(full, strict=False):
        return WHOLE_C1_REMOVED
    if full.startswith(text) and (partial is None or text == partial):
        return PARTIAL
    return f"unexpected text: {text[:80]!r}"
