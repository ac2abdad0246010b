"""``describe``: every error reads as a sentence with what to do next; nothing leaks a traceback."""

from __future__ import annotations

import asyncio

from desktop_app.core import errors as core
from desktop_app.qt.errors import describe, retry_status


def test_core_errors_keep_their_sentence_and_hint() -> None:
    sentence, hint = describe(core.ConnectionFailed())
    assert sentence == "Could not connect to the server."
    assert hint == "Check the server address and that the server is running."


def test_the_servers_words_are_added_once() -> None:
    quoted = core.AuthFailed(
        "The server example.com refused the API key (HTTP 401): Invalid key.",
        status=401,
        server_message="Invalid key.",
    )
    assert describe(quoted)[0].count("Invalid key") == 1
    bare = core.ServerError(status=500, server_message="model crashed")
    sentence, hint = describe(bare)
    assert sentence == "The server had an internal error. The server said: “model crashed”"
    assert hint == "Try again later."


def test_rate_limits_say_how_long_to_wait() -> None:
    sentence, hint = describe(core.RateLimited(retry_after=3))
    assert "rate limiting" in sentence
    assert hint == "The server asks to wait 3 s before trying again."


def test_stream_errors_suggest_retry() -> None:
    assert describe(core.ProviderError("overloaded, try later"))[0] == (
        "The server reported an error: overloaded, try later."
    )
    assert describe(core.ProviderError("overloaded"))[1] == "Use Retry to ask again."
    assert describe(core.StreamProtocolError())[1] == "Use Retry to ask again."
    assert "Continue" in describe(core.Interrupted())[1]


def test_anything_else_gets_a_calm_sentence() -> None:
    sentence, hint = describe(KeyError("secret internals"))
    assert sentence == "Streamdesk hit an unexpected problem (KeyError)."
    assert "secret internals" not in sentence + hint
    assert describe(asyncio.CancelledError()) == ("Stopped.", "")
    assert describe(None)[0] == "Something went wrong."


def test_retry_status_is_one_short_line() -> None:
    long_reason = "The server 127.0.0.1:1234 is rate limiting requests (HTTP 429): " + "x" * 300
    line = retry_status(2, 3.2, long_reason)
    assert (
        line == "Retrying in 3 s (attempt 2): The server 127.0.0.1:1234 is rate limiting requests"
    )
    assert retry_status(3, 0.2) == "Retrying in a moment (attempt 3)"
