"""Which provider format a profile names: ``get_provider("openai" | "anthropic" | "generic")``.

Owns: the list of format names and the mapping to their ``Provider``.
Must not: hold per-stream state (providers are stateless; parsers are per stream).
"""

from __future__ import annotations

from desktop_app.core.errors import ConfigError
from desktop_app.core.providers.anthropic import AnthropicProvider
from desktop_app.core.providers.base import Provider
from desktop_app.core.providers.generic import GenericProvider
from desktop_app.core.providers.openai_chat import OpenAIChatProvider

PROVIDER_NAMES: tuple[str, ...] = ("openai", "anthropic", "generic")

_PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIChatProvider(),
    "anthropic": AnthropicProvider(),
    "generic": GenericProvider(),
}


def get_provider(name: str) -> Provider:
    """The provider for a format name (case and surrounding spaces do not matter).

    Raises ``ConfigError`` for a name that is not one of ``PROVIDER_NAMES``.
    """
    provider = _PROVIDERS.get(name.strip().lower())
    if provider is None:
        choices = ", ".join(PROVIDER_NAMES[:-1]) + " or " + PROVIDER_NAMES[-1]
        raise ConfigError(
            f"“{name}” is not a provider format Streamdesk knows.",
            hint=f"Choose {choices}.",
        )
    return provider
