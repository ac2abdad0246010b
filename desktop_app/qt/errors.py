"""Errors in words a user understands: ``describe(exc) -> (sentence, hint)``.

This is the only place in the Qt layer that turns an exception into text for
the screen. It builds on the core's error tree (``core.errors``), whose
``str(err)`` is already a user sentence and ``err.hint`` what to do next; here
we only add what the window knows better (the server's own words, a wait
time) and give anything unexpected a calm sentence instead of a traceback.

It must not log, show dialogs or touch widgets; the callers place the words.
"""

from __future__ import annotations

import asyncio

from desktop_app.core import errors as core

# The server's own words are useful ("model 'gpt-5' does not exist") but can be
# long or HTML: keep one readable line.
_SERVER_WORDS_LIMIT = 200


def describe(exc: BaseException | None) -> tuple[str, str]:
    """A sentence saying what happened and a hint saying what to do next.

    The hint may be empty when there is nothing useful to suggest.
    """
    if exc is None:
        return ("Something went wrong.", "Try again.")
    if isinstance(exc, asyncio.CancelledError):
        return ("Stopped.", "")
    if isinstance(exc, core.StreamdeskError):
        return _describe_known(exc)
    if isinstance(exc, TimeoutError):
        return ("The operation took too long.", "Try again.")
    if isinstance(exc, OSError):
        # The core should have wrapped these; keep the system's own words.
        detail = exc.strerror or exc.__class__.__name__
        return (f"A system error stopped this: {detail}.", "Try again.")
    name = exc.__class__.__name__
    return (
        f"Streamdesk hit an unexpected problem ({name}).",
        "Try again; if it keeps happening, please report it with the steps that led here.",
    )


def _describe_known(exc: core.StreamdeskError) -> tuple[str, str]:
    sentence = _sentence(str(exc))
    hint = exc.hint or ""
    if isinstance(exc, core.HTTPStatusError):
        # The transport usually ends its sentence with the server's own words;
        # add them only when it did not.
        words = _server_words(exc.server_message)
        if words and words[:40].lower() not in sentence.lower():
            sentence = f"{sentence} The server said: “{words}”"
        generic = hint in ("", core.RateLimited.hint)
        if isinstance(exc, core.RateLimited) and exc.retry_after and generic:
            hint = f"The server asks to wait {_seconds(exc.retry_after)} before trying again."
    elif isinstance(exc, core.ProviderError):
        # The core puts the server's message in str(); make it read as a report.
        default = core.ProviderError.default_message
        if sentence != default and not sentence.lower().startswith("the server"):
            sentence = f"The server reported an error: {sentence}"
        if not hint:
            hint = "Use Retry to ask again."
    elif isinstance(exc, core.TransportError | core.StreamProtocolError) and not hint:
        hint = "Use Retry to ask again."
    return sentence, hint


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "Something went wrong."
    if text[-1] not in ".!?”\"'":
        text += "."
    return text


def _server_words(message: str) -> str:
    words = " ".join(message.split())
    if len(words) > _SERVER_WORDS_LIMIT:
        words = words[: _SERVER_WORDS_LIMIT - 1].rstrip() + "…"
    return words


def _seconds(value: float) -> str:
    whole = max(1, round(value))
    if whole < 90:
        return f"{whole} s"
    return f"{round(whole / 60)} min"


def retry_status(attempt: int, delay: float, reason: str = "") -> str:
    """The status line while waiting to try again: "Retrying in 3 s (attempt 2): overloaded".

    The reason is cut to its first clause: the status line is one short line
    (the full sentence is shown if the turn finally fails).
    """
    wait = f"{max(1, round(delay))} s" if delay >= 0.5 else "a moment"
    line = f"Retrying in {wait} (attempt {attempt})"
    short = _first_clause(reason)
    if short:
        line += f": {short}"
    return line  # no trailing ellipsis: the chat view animates dots after it


def _first_clause(text: str, limit: int = 60) -> str:
    words = " ".join(text.split())
    for stop in (" (", ": ", ". "):
        if stop in words:
            words = words.split(stop, 1)[0]
    words = words.rstrip(".")
    if len(words) > limit:
        words = words[: limit - 1].rstrip() + "…"
    return words
