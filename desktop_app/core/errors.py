"""Every error Streamdesk reports, as one tree (in the manner of httpx ``_exceptions.py``).

``str(error)`` is always a sentence a user understands; ``error.hint`` says what
to do next. The transport wraps every httpx exception at its boundary, so
nothing above it sees httpx types. ``asyncio.CancelledError`` is never wrapped
or swallowed: cancelling is not an error.

    StreamdeskError
    ├── TransportError ............ no usable stream came back
    │   ├── ConnectionFailed ...... refused, unreachable, DNS
    │   │   └── CertificateError .. TLS verification failed
    │   ├── TimedOut
    │   │   ├── ConnectTimeout .... the server did not accept the connection in time
    │   │   ├── FirstTokenTimeout . connected, but no answer began in time
    │   │   └── IdleTimeout ....... the stream went silent mid-answer
    │   ├── HTTPStatusError ....... a non-2xx status, with the server's own message
    │   │   ├── AuthFailed ........ 401 / 403
    │   │   ├── NotFound .......... 404: wrong URL or model
    │   │   ├── RateLimited ....... 429 (retry_after)
    │   │   └── ServerError ....... 5xx
    │   │       └── Overloaded .... 529 / 503 "overloaded"
    │   └── UnexpectedResponse .... 2xx but not an event stream (wrong content type)
    ├── StreamProtocolError ....... the bytes are not the format the provider speaks
    ├── ProviderError ............. the server reported an error inside the stream
    ├── Interrupted ............... the stream ended before its terminator
    ├── StorageError
    │   ├── DatabaseCorrupt ....... the history file is damaged (kept untouched)
    │   ├── DatabaseTooNew ........ written by a newer Streamdesk (kept untouched)
    │   └── DiskFull .............. no space left; nothing half-written
    ├── SecretStoreError
    │   └── NoKeychain ............ no OS keychain (or it did not answer in time)
    └── ConfigError ............... a profile or setting is invalid

This module does no I/O and imports nothing but the standard library.
"""

from __future__ import annotations


class StreamdeskError(Exception):
    """Base of every error Streamdesk raises on purpose."""

    default_message = "Something went wrong."
    hint = ""

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        super().__init__(message or self.default_message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------- transport


class TransportError(StreamdeskError):
    default_message = "The server could not be reached."


class ConnectionFailed(TransportError):
    default_message = "Could not connect to the server."
    hint = "Check the server address and that the server is running."


class CertificateError(ConnectionFailed):
    default_message = "The server's security certificate could not be verified."
    hint = (
        "If your company uses its own certificates, add its CA bundle to this profile in Settings."
    )


class TimedOut(TransportError):
    default_message = "The server took too long to answer."
    hint = "Try again; if it keeps happening, the server may be overloaded."


class ConnectTimeout(TimedOut):
    default_message = "The server did not accept the connection in time."


class FirstTokenTimeout(TimedOut):
    default_message = "The server accepted the request but did not start answering in time."


class IdleTimeout(TimedOut):
    default_message = "The answer stopped arriving: the server went silent mid-stream."


class HTTPStatusError(TransportError):
    """A non-2xx response. ``server_message`` is the server's own words, if any."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int,
        server_message: str = "",
        body: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.server_message = server_message
        self.body = body


class AuthFailed(HTTPStatusError):
    default_message = "The server refused the API key."
    hint = "Check the API key for this profile in Settings."


class NotFound(HTTPStatusError):
    default_message = "The server does not know this address or model."
    hint = "Check the base URL and the model name of this profile."


class RateLimited(HTTPStatusError):
    default_message = "The server is rate limiting requests."
    hint = "Wait a moment and try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int = 429,
        server_message: str = "",
        body: str = "",
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, server_message=server_message, body=body, hint=hint
        )
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    default_message = "The server had an internal error."
    hint = "Try again later."


class Overloaded(ServerError):
    default_message = "The server is overloaded."
    hint = "Try again in a little while."


class UnexpectedResponse(TransportError):
    default_message = "The server answered, but not with a stream of events."
    hint = "Check that the base URL points at the API, not at a web page or a proxy."


# ---------------------------------------------------------------- stream content


class StreamProtocolError(StreamdeskError):
    default_message = "The server sent data Streamdesk could not understand."


class ProviderError(StreamdeskError):
    """An error the server reported inside the stream (``kind``: e.g. ``overloaded_error``)."""

    default_message = "The server reported an error while answering."

    def __init__(
        self,
        message: str | None = None,
        *,
        kind: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.code = code


class Interrupted(StreamdeskError):
    default_message = "The answer was cut off before it finished."
    hint = "Use Continue to pick up where it stopped, or Regenerate to start again."


# ---------------------------------------------------------------- storage, secrets, config


class StorageError(StreamdeskError):
    default_message = "The chat history could not be read or saved."


class DatabaseCorrupt(StorageError):
    default_message = "The chat history file is damaged."
    hint = "Streamdesk left the file as it is and started a new one beside it."


class DatabaseTooNew(StorageError):
    default_message = "The chat history was written by a newer version of Streamdesk."
    hint = "Update Streamdesk to open it; the file was not changed."


class DiskFull(StorageError):
    default_message = "The disk is full, so the chat could not be saved."
    hint = "Free some disk space; what was already saved is safe."


class SecretStoreError(StreamdeskError):
    default_message = "The system keychain could not be used."


class NoKeychain(SecretStoreError):
    default_message = "No system keychain is available on this computer."
    hint = "Give the key in an environment variable, or keep it in memory for this session only."


class ConfigError(StreamdeskError):
    default_message = "A setting is not valid."
