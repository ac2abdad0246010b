"""Where ``streamdesk ask`` sends its prompt: flags, a saved profile, the key.

``resolve_target`` turns the command line into an ``AskTarget``. Without
``--profile`` everything comes from the flags (``--provider`` defaults to
openai, ``--model`` is required) and the key from an environment variable.
With ``--profile NAME`` the saved profile (``core.profiles``) fills in what
the flags leave out: format, base URL, model, system prompt, temperature,
max tokens, extra headers, stream URL, proxy and CA bundle; its key comes
from ``core.secrets.resolve_api_key`` (its variable, the provider's usual one
for the official server, or the system keychain). A flag always wins. The
"Offline demo" profile is served by the bundled stub, started here in-process.
The base URL is checked here (scheme, host, port), so a malformed one is a
usage error, not a traceback or a misleading "could not find the server".
Text from the command line that was not valid UTF-8 is mended with U+FFFD
(``command_line_text``): it must still go out as JSON and into the history.

Must not: print, or hold the key anywhere but the ``Endpoint`` (which keeps
it out of its repr).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from desktop_app.cli.hints import command_line_hint
from desktop_app.core.errors import ConfigError, SecretStoreError
from desktop_app.core.network import NetworkSettings, is_loopback, network_settings
from desktop_app.core.profiles import Profile, find, load_profiles
from desktop_app.core.providers.base import Endpoint, Provider
from desktop_app.core.providers.registry import get_provider

DEFAULT_PROVIDER = "openai"
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
}
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
# The official hosts always want a key: asking without one is a usage error, not a 401.
OFFICIAL_HOSTS = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
# Long enough to type a keychain password at an unlock prompt; a CLI may wait for a person.
KEYCHAIN_TIMEOUT = 60.0


class UsageError(Exception):
    """A problem with the command line or the configuration it names (exit code 2)."""


@dataclass(frozen=True, slots=True)
class AskTarget:
    """Everything a turn needs, resolved from the command line and the profile."""

    provider: Provider
    endpoint: Endpoint
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    profile: str | None = None  # the profile's name, saved with the answer
    network: NetworkSettings = field(default_factory=NetworkSettings)
    embedded: bool = False  # served by the bundled stub, started by the caller


@dataclass(frozen=True, slots=True)
class _Choice:
    """The flags and the profile merged; the key and the embedded stub's URL still to come."""

    profile: Profile | None
    provider: str
    base_url: str
    model: str


def resolve_target(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    read_key: Callable[[Profile], str | None] | None = None,
    stub_url: Callable[[], str] | None = None,
) -> AskTarget:
    """The target of ``args``; raises ``UsageError`` with a sentence.

    ``read_key`` reads a profile's key (default: the keychain, via
    ``resolve_api_key``); ``stub_url`` starts the bundled stub for the
    offline demo profile and returns its URL.
    """
    choice = _merge(args)
    profile = choice.profile
    embedded = profile is not None and profile.embedded and not args.base_url
    base_url = choice.base_url
    if embedded:
        if stub_url is None:
            raise UsageError(f"The profile “{profile.name}” needs the bundled stub.")  # type: ignore[union-attr]
        base_url = stub_url().rstrip("/") + "/v1"
    if not base_url:
        where = f" (the profile “{profile.name}” has none)" if profile is not None else ""
        raise UsageError(f"--base-url is required with --provider {choice.provider}{where}.")
    _check_base_url(base_url, None if args.base_url else profile)
    if profile is None and not args.model:
        raise UsageError("--model is required (the model name the server knows).")
    key = _api_key(args, choice, base_url, environ, read_key)
    system = (
        command_line_text(args.system)
        if args.system is not None
        else (profile.system_prompt if profile else "")
    )
    max_tokens: int | None = args.max_tokens
    if max_tokens is None and profile is not None:
        max_tokens = profile.max_tokens  # --max-tokens wins, as every flag does
    network = (
        network_settings(profile, base_url)
        if profile is not None
        else NetworkSettings(trust_env=not is_loopback(base_url))
    )
    return AskTarget(
        provider=get_provider(choice.provider),
        endpoint=Endpoint(
            base_url,
            api_key=key,
            extra_headers=dict(profile.extra_headers) if profile else {},
            stream_url=profile.stream_url if profile else None,
        ),
        model=command_line_text(choice.model),
        system=system or None,
        temperature=profile.temperature if profile else None,
        max_tokens=max_tokens,
        profile=profile.name if profile else None,
        network=network,
        embedded=embedded,
    )


def command_line_text(text: str) -> str:
    """``text`` from argv with the bytes that were not UTF-8 as U+FFFD.

    Python decodes argv with surrogateescape, so ``$'caf\\xe9'`` arrives as
    ``"caf\\udce9"``, which no JSON encoder or SQLite will take. Re-encoding
    gives back the bytes; decoding them with ``replace`` keeps every valid
    character. (Other lone surrogates, from a Windows command line, go the
    same way through ``surrogatepass``.)
    """
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def _check_base_url(base_url: str, profile: Profile | None) -> None:
    """A ``UsageError`` naming ``base_url`` unless it is an http(s) URL with a host and a port
    in range; ``profile``: the profile it came from (not from --base-url)."""
    where = f"The base URL of the profile “{profile.name}”" if profile else "--base-url"
    shown = _without_secrets(base_url)
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:  # an unclosed IPv6 bracket, for one
        reason = str(exc)[:1].lower() + str(exc)[1:]
        raise UsageError(f"{where} is not a valid URL: {reason} (got {shown!r}).") from None
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number
        port = 0
    problem = ""
    if parts.scheme not in ("http", "https"):
        problem = "must start with http:// or https://"
    elif not parts.hostname:
        problem = "has no host name"
    elif port == 0:
        problem = "has a port that is not a number from 1 to 65535"
    if problem:
        raise UsageError(f"{where} {problem} (got {shown!r}).")


def _without_secrets(url: str) -> str:
    """``url`` as it may be echoed: no user:password@, no query (``?key=...`` servers)."""
    url = re.sub(r"//[^/?#@]*@", "//***@", url, count=1)
    return re.sub(r"\?.*$", "?…", url)


def _merge(args: argparse.Namespace) -> _Choice:
    profile: Profile | None = None
    if args.profile:
        try:
            profile = find(load_profiles(), args.profile)
        except ConfigError as exc:
            raise UsageError(f"{exc} {exc.hint}".strip()) from None
    provider = args.provider or (profile.provider if profile else DEFAULT_PROVIDER)
    base_url = args.base_url or (profile.base_url if profile else "")
    if not base_url and (profile is None or not profile.embedded):
        base_url = DEFAULT_BASE_URLS.get(provider, "")
    model = args.model or (profile.model if profile else "")
    return _Choice(profile, provider, base_url, model)


def _api_key(
    args: argparse.Namespace,
    choice: _Choice,
    base_url: str,
    environ: Mapping[str, str],
    read_key: Callable[[Profile], str | None] | None,
) -> str | None:
    variable = args.api_key_env or (None if choice.profile else KEY_VARIABLES.get(choice.provider))
    key = (environ.get(variable) or "").strip() if variable else ""
    if args.api_key_env and not key:
        raise UsageError(f"The environment variable {args.api_key_env} is not set or is empty.")
    if not key and choice.profile is not None and not args.api_key_env:
        # The profile as overridden by the flags: the provider's usual variable is
        # used only for its official server, whichever way the URL was given.
        profile = dataclasses.replace(
            choice.profile, provider=choice.provider, base_url=base_url, model=choice.model
        )
        key = _profile_key(profile, environ, read_key)
        variable = KEY_VARIABLES.get(choice.provider)
    official = OFFICIAL_HOSTS.get(choice.provider)
    if not key and official and urlsplit(base_url).hostname == official:
        hint = "(or name another variable with --api-key-env)"
        if choice.profile is not None:
            raise UsageError(
                f"No API key for the profile “{choice.profile.name}”: save one with "
                f"`streamdesk profile set-key`, or set {variable} {hint}."
            )
        raise UsageError(f"No API key: set {variable} {hint}.")
    return key or None


def _profile_key(
    profile: Profile,
    environ: Mapping[str, str],
    read_key: Callable[[Profile], str | None] | None,
) -> str:
    try:
        key = read_key(profile) if read_key is not None else keychain_key(profile, environ)
    except SecretStoreError as exc:
        raise UsageError(
            f"The key of the profile “{profile.name}” could not be read: {exc} "
            f"{command_line_hint(exc)}".strip()
        ) from None
    return (key or "").strip()


def keychain_key(profile: Profile, environ: Mapping[str, str]) -> str | None:
    """The profile's key from its variable or the system keychain, with a timeout."""
    import asyncio

    from desktop_app.core.errors import NoKeychain
    from desktop_app.core.secrets import (
        KeyringSecretStore,
        aresolve_api_key,
        choose_secret_store,
        key_source,
        run_blocking,
    )

    async def read() -> str | None:
        if key_source(profile, environ) == "the system keychain":
            store = await run_blocking(choose_secret_store, KEYCHAIN_TIMEOUT)
            if not isinstance(store, KeyringSecretStore):
                # Saved in a keychain this machine (or session) cannot reach.
                raise NoKeychain(hint="Give the key in an environment variable: --api-key-env VAR.")
            return await aresolve_api_key(profile, store, environ, KEYCHAIN_TIMEOUT)
        return await aresolve_api_key(profile, KeyringSecretStore(), environ, KEYCHAIN_TIMEOUT)

    return asyncio.run(read())
