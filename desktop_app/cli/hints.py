"""What to do next, in command-line words.

The core's ``error.hint`` is written for the window: "this profile in Settings", "Use Continue
... or Regenerate". A command-line user has none of those controls, so the commands print
``command_line_hint(error)`` instead: the same advice with the options and subcommands that do
the job. Only the hints that name a window control are reworded; a hint made for one case (a
damaged event, the server's own advice) is the core's and stays as it is.

Must not: change ``str(error)`` (the sentence is the same everywhere) or decide exit codes.
"""

from __future__ import annotations

from desktop_app.core.errors import (
    AuthFailed,
    CertificateError,
    Interrupted,
    NoKeychain,
    NotFound,
    StreamdeskError,
)


def command_line_hint(
    error: StreamdeskError, *, saved: bool = False, key_variable: str | None = None
) -> str:
    """``error.hint`` for a command-line user; ``saved``: the partial answer is in the history;
    ``key_variable``: the variable ``ask`` reads the key from by default for this format."""
    if error.hint != type(error).hint:
        return error.hint  # a hint written for this very case
    if isinstance(error, CertificateError):
        return (
            "If your company uses its own certificates, save the server as a profile with its "
            "CA bundle (streamdesk profile add NAME --base-url URL --ca-bundle FILE) and ask "
            "with --profile NAME."
        )
    if isinstance(error, AuthFailed):
        default = f" ({key_variable} by default)" if key_variable else ""
        return (
            f"Check the API key: the variable --api-key-env names{default}, or the profile's "
            "saved key (streamdesk profile set-key NAME)."
        )
    if isinstance(error, NotFound):
        return "Check the base URL and the model name (--base-url and --model, or the profile's)."
    if isinstance(error, Interrupted):
        if saved:
            return (
                "What arrived is printed above and saved; ask again, or carry on in the same "
                'conversation with: streamdesk ask --continue "Please continue"'
            )
        return "What arrived is printed above; ask again for the whole answer."
    if isinstance(error, NoKeychain):
        return "Give the key in an environment variable and name it with --api-key-env."
    return error.hint
