"""Server profiles and app settings: what they are, what is valid, the built-in ones.

Owns: ``Profile`` (how to reach one server: format, address, model,
generation settings, network options), ``Settings`` (theme, font size, last
profile), their validation (``ConfigError`` with a sentence), the built-in
templates (OpenAI, Anthropic, Ollama, LM Studio, llama.cpp, OpenRouter) and
the "Offline demo" profile, and their files ``profiles.toml`` and
``settings.toml`` (safe reading and writing is ``core.config_file``'s).

Must not: hold or write an API key. A profile says only *where* its key
comes from: ``api_key_env`` (an environment variable's name) or the
keychain (``has_key``, a non-secret flag so the UI need not unlock the
keychain to know).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from desktop_app.core import config_file, paths
from desktop_app.core.errors import ConfigError

PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "generic")
THEMES: tuple[str, ...] = ("system", "light", "dark")
OFFLINE_DEMO = "Offline demo"

Theme = Literal["system", "light", "dark"]

# Header names that carry credentials: those belong in the keychain.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "x-goog-api-key"}
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: a valid header name
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Profile:
    """How to reach one server. There is deliberately no key field.

    ``proxy``: None = the system's (environment) proxy, "" = no proxy, or a
    proxy URL. ``embedded``: the built-in offline stub; its base URL is
    filled in at run time.
    """

    name: str
    provider: str = "openai"
    base_url: str = ""
    model: str = ""
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    proxy: str | None = None
    ca_bundle: str | None = None
    stream_url: str | None = None
    api_key_env: str | None = None
    has_key: bool = False
    embedded: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    theme: Theme = "system"
    font_size: int | None = None  # None: the system's size
    last_profile: str | None = None


# ---------------------------------------------------------------- templates

TEMPLATES: Mapping[str, Profile] = {
    "openai": Profile(
        name="OpenAI",
        provider="openai",
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
    ),
    "anthropic": Profile(
        name="Anthropic",
        provider="anthropic",
        base_url="https://api.anthropic.com/v1",
        model="claude-sonnet-4-5",
        max_tokens=4096,  # the Messages API requires max_tokens
    ),
    "ollama": Profile(
        name="Ollama",
        provider="openai",
        base_url="http://localhost:11434/v1",
        model="llama3.2",
    ),
    "lmstudio": Profile(
        name="LM Studio",
        provider="openai",
        base_url="http://localhost:1234/v1",
        model="",  # LM Studio answers with the model it has loaded
    ),
    "llamacpp": Profile(
        name="llama.cpp",
        provider="openai",
        base_url="http://localhost:8080/v1",
        model="",  # llama-server serves the one model it was started with
    ),
    "openrouter": Profile(
        name="OpenRouter",
        provider="openai",
        base_url="https://openrouter.ai/api/v1",
        model="openai/gpt-4o-mini",
        api_key_env="OPENROUTER_API_KEY",
    ),
}

OFFLINE_DEMO_PROFILE = Profile(name=OFFLINE_DEMO, provider="openai", model="demo", embedded=True)


def default_profiles() -> list[Profile]:
    """What a new user sees: the offline demo first, then the common servers."""
    return [OFFLINE_DEMO_PROFILE, *TEMPLATES.values()]


def from_template(template: str, name: str | None = None, **changes: Any) -> Profile:
    """A new profile from a template name (``openai``, ``ollama``...), with changes."""
    base = TEMPLATES.get(template.strip().lower())
    if base is None:
        raise ConfigError(
            f"There is no profile template called “{template}”.",
            hint="Choose one of: " + ", ".join(TEMPLATES) + ".",
        )
    return dataclasses.replace(base, name=name or base.name, **changes)


# ---------------------------------------------------------------- validation


def validate(profile: Profile) -> Profile:
    """Return the profile if it is usable; else raise ``ConfigError`` saying what to fix."""
    name = profile.name.strip()
    if not name:
        raise ConfigError("A profile needs a name.")
    if len(name) > 80 or _has_control(name):
        raise ConfigError("A profile name must be one line of at most 80 characters.")
    where = f"Profile “{name}”"
    if profile.provider not in PROVIDERS:
        raise ConfigError(
            f"{where}: “{profile.provider}” is not a provider format Streamdesk knows.",
            hint="Choose openai, anthropic or generic.",
        )
    if not profile.embedded or profile.base_url:
        _check_url(profile.base_url, f"{where}: the base URL")
    if profile.stream_url is not None:
        _check_url(profile.stream_url, f"{where}: the stream URL")
    if _has_control(profile.model):
        raise ConfigError(f"{where}: the model name must be one line.")
    if profile.temperature is not None and (
        isinstance(profile.temperature, bool)
        or not isinstance(profile.temperature, int | float)
        or not math.isfinite(profile.temperature)
        or not 0 <= profile.temperature <= 2
    ):
        raise ConfigError(f"{where}: the temperature must be a number from 0 to 2.")
    if profile.max_tokens is not None and (
        isinstance(profile.max_tokens, bool)
        or not isinstance(profile.max_tokens, int)
        or profile.max_tokens < 1
    ):
        raise ConfigError(f"{where}: the maximum number of tokens must be a whole number above 0.")
    for header, header_value in profile.extra_headers.items():
        _check_header(where, header, header_value)
    if profile.proxy:
        _check_url(profile.proxy, f"{where}: the proxy", proxy=True)
    if profile.ca_bundle is not None and not profile.ca_bundle.strip():
        raise ConfigError(f"{where}: the CA bundle path is empty.")
    if profile.api_key_env is not None and not _ENV_NAME.fullmatch(profile.api_key_env):
        raise ConfigError(
            f"{where}: “{profile.api_key_env}” is not an environment variable name.",
            hint="Use letters, digits and underscores, e.g. OPENAI_API_KEY.",
        )
    return dataclasses.replace(profile, name=name) if name != profile.name else profile


def validate_all(profiles: Iterable[Profile]) -> list[Profile]:
    """Validate each profile and refuse two with the same name (case does not matter)."""
    result: list[Profile] = []
    seen: set[str] = set()
    for profile in profiles:
        checked = validate(profile)
        folded = checked.name.casefold()
        if folded in seen:
            raise ConfigError(
                f"There are two profiles named “{checked.name}”.",
                hint="Give each profile its own name.",
            )
        seen.add(folded)
        result.append(checked)
    return result


def find(profiles: Iterable[Profile], name: str) -> Profile:
    folded = name.strip().casefold()
    for profile in profiles:
        if profile.name.casefold() == folded:
            return profile
    raise ConfigError(
        f"There is no profile named “{name}”.", hint="`streamdesk profile list` shows them."
    )


def _check_url(url: str, what: str, *, proxy: bool = False) -> None:
    schemes = ("http", "https")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{what} is not a valid URL.") from None
    if parts.scheme.lower() not in schemes:
        raise ConfigError(
            f"{what} must start with http:// or https://.",
            hint="For example https://api.openai.com/v1 or http://localhost:11434/v1.",
        )
    if not host:
        raise ConfigError(f"{what} has no server name.")
    if parts.username is not None or parts.password is not None:
        hint = (
            "Leave the proxy empty and set HTTPS_PROXY in the environment instead."
            if proxy
            else "Put the API key in the keychain or an environment variable."
        )
        # Credentials would sit in plain text in the config file.
        raise ConfigError(f"{what} must not contain a user name or password.", hint=hint)
    if _has_control(url):
        raise ConfigError(f"{what} must be one line.")


def _check_header(where: str, name: str, text: str) -> None:
    if not _TOKEN.fullmatch(name):
        raise ConfigError(f"{where}: “{name}” is not a valid header name.")
    if name.lower() in _SECRET_HEADERS:
        raise ConfigError(
            f"{where}: the {name} header would keep a credential in the config file.",
            hint="Store the API key in the keychain or name an environment variable instead.",
        )
    if any(ch in text for ch in "\r\n\x00"):
        raise ConfigError(f"{where}: the value of the {name} header must be one line.")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


# ---------------------------------------------------------------- profiles.toml

_PROFILES_HEADER = """\
# Streamdesk server profiles. Edit here or in Settings; Streamdesk rewrites
# this file when profiles change (comments other than this header are not kept).
#
# API keys are never stored in this file. A profile's key comes from the
# environment variable named by api_key_env, the provider's usual variable
# (OPENAI_API_KEY, ANTHROPIC_API_KEY) for its official server, or the system
# keychain (has_key = true means one was saved there).
#
# provider: openai, anthropic or generic      proxy: "" = none; absent = system proxy
# temperature: 0 to 2                        ca_bundle: a PEM file of extra trusted CAs
"""


def dumps_profiles(profiles: Sequence[Profile]) -> str:
    """The text of ``profiles.toml`` (stable: same profiles, same bytes)."""
    lines = [_PROFILES_HEADER]
    for profile in validate_all(profiles):
        lines.append("[[profiles]]")
        for name in _FIELD_NAMES:
            item = getattr(profile, name)
            # Left out when unset; an empty model or proxy ("" = no proxy) means something.
            if item is None or item is False or (name not in _KEEP_EMPTY and item in ("", {})):
                continue
            lines.append(
                config_file.assignment(name, dict(item) if name == "extra_headers" else item)
            )
        lines.append("")
    return "\n".join(lines)


def loads_profiles(data: Mapping[str, Any], *, source: str = "profiles.toml") -> list[Profile]:
    entries = data.get("profiles", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: “profiles” must be a list of [[profiles]] tables.")
    profiles = []
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: profile {index} is not a table.")
        profiles.append(_profile_from(entry, f"{source}, profile {index}"))
    try:
        return validate_all(profiles)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}", hint=exc.hint or None) from None


def _profile_from(entry: Mapping[str, Any], where: str) -> Profile:
    values = config_file.typed_table(entry, _KINDS, where)
    if "name" not in values:
        raise ConfigError(f"{where} has no name.")
    headers = values.get("extra_headers", {})
    if not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{where}: “extra_headers” must be a table of text values.")
    if "temperature" in values:
        values["temperature"] = float(values["temperature"])
    return Profile(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Profile))
_KEEP_EMPTY = frozenset({"name", "model", "proxy"})
_TEXT: config_file.Kind = (str, "text")
_KINDS: dict[str, config_file.Kind] = {
    "name": _TEXT,
    "provider": _TEXT,
    "base_url": _TEXT,
    "model": _TEXT,
    "system_prompt": _TEXT,
    "temperature": ((int, float), "a number"),
    "max_tokens": (int, "a whole number"),
    "extra_headers": (dict, "a table of text values"),
    "proxy": _TEXT,
    "ca_bundle": _TEXT,
    "stream_url": _TEXT,
    "api_key_env": _TEXT,
    "has_key": (bool, "true or false"),
    "embedded": (bool, "true or false"),
}
assert set(_KINDS) == set(_FIELD_NAMES)  # every Profile field has a kind


def load_profiles(path: Path | None = None) -> list[Profile]:
    """The saved profiles; the defaults when there is no file yet.

    Raises ``ConfigError`` for a broken file (it is left as it is; the next
    save copies it aside before writing).
    """
    file = path or paths.profiles_path()
    data = config_file.read(file)
    if data is None:
        return default_profiles()
    return loads_profiles(data, source=str(file))


def save_profiles(profiles: Sequence[Profile], path: Path | None = None) -> Path | None:
    """Write the profiles; returns the backup made of a broken previous file, if any."""
    return config_file.write(path or paths.profiles_path(), dumps_profiles(profiles))


# ---------------------------------------------------------------- settings.toml

_SETTINGS_HEADER = """\
# Streamdesk settings. theme: system, light or dark; font_size: points (absent = system).
"""


def dumps_settings(settings: Settings) -> str:
    settings = validate_settings(settings)
    lines = [_SETTINGS_HEADER, config_file.assignment("theme", settings.theme)]
    if settings.font_size is not None:
        lines.append(config_file.assignment("font_size", settings.font_size))
    if settings.last_profile is not None:
        lines.append(config_file.assignment("last_profile", settings.last_profile))
    return "\n".join(lines) + "\n"


def validate_settings(settings: Settings) -> Settings:
    if settings.theme not in THEMES:
        raise ConfigError(f"“{settings.theme}” is not a theme: choose system, light or dark.")
    size = settings.font_size
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or not 6 <= size <= 48
    ):
        raise ConfigError("The font size must be a whole number from 6 to 48.")
    return settings


def loads_settings(data: Mapping[str, Any], *, source: str = "settings.toml") -> Settings:
    theme = data.get("theme", "system")
    size = data.get("font_size")
    last = data.get("last_profile")
    if last is not None and not isinstance(last, str):
        raise ConfigError(f"{source}: “last_profile” must be text.")
    try:
        return validate_settings(Settings(theme=theme, font_size=size, last_profile=last))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_settings(path: Path | None = None) -> Settings:
    file = path or paths.settings_path()
    data = config_file.read(file)
    return Settings() if data is None else loads_settings(data, source=str(file))


def save_settings(settings: Settings, path: Path | None = None) -> Path | None:
    return config_file.write(path or paths.settings_path(), dumps_settings(settings))
