"""Cut an answer into tokens the size a real model streams (1 to 6 characters).

Owns the deterministic tokenizer only: the same text and seed always give the same tokens, so
tests can assert exact deltas. It never cuts inside a code point (tokens are ``str``); cutting
inside a UTF-8 sequence on the wire is the ``split_utf8`` scenario's job, not this module's.
"""

from __future__ import annotations

import functools
import random
import re

# Newline runs stand alone (real tokenizers give "\n\n" its own token); otherwise leading
# spaces stick to the word that follows them, like BPE's "Ġword".
_PIECES = re.compile(r"\n+|[^\S\n]*\S+|[^\S\n]+")
_MAX = 6


def _is_wide(ch: str) -> bool:
    # CJK, kana and hangul come one or two characters per token in real tokenizers.
    return "\u2e80" <= ch <= "\ud7ff" or "\uf900" <= ch <= "\uffdc"


@functools.lru_cache(maxsize=128)
def tokenize(text: str, seed: int) -> tuple[str, ...]:
    """Return tokens whose concatenation is exactly ``text``."""
    rng = random.Random(seed)
    out: list[str] = []
    append = out.append
    for piece in _PIECES.findall(text):
        n = len(piece)
        wide = any(_is_wide(c) for c in piece)
        if n <= _MAX and not wide and rng.random() < 0.85:
            append(piece)
            continue
        i = 0
        while i < n:
            size = rng.randint(1, 2) if _is_wide(piece[i]) else rng.randint(2, _MAX)
            append(piece[i : i + size])
            i += size
    return tuple(out)
