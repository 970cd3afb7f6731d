"""Adapter lookup by LLM type (the ``type`` column of an LLM row)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mcpctl_tui.llm.base import Adapter


class UnknownLlmType(ValueError):
    """No adapter for this LLM type; the message lists the known types."""


# Everything that speaks OpenAI's /chat/completions shares one adapter.
OPENAI_ALIASES = (
    "openai",
    "vllm",
    "deepseek",
    "lmstudio",
    "llamacpp",
    "openrouter",
    "litellm",
    "ollama-openai",
)


def _lazy(module: str, cls: str) -> Callable[[], Adapter]:
    # Import a wire format only when an LLM of that type is used.
    def make() -> Adapter:
        adapter: Adapter = getattr(importlib.import_module(module), cls)()
        return adapter

    return make


_openai = _lazy("mcpctl_tui.llm.openai", "OpenAIAdapter")
_anthropic = _lazy("mcpctl_tui.llm.anthropic", "AnthropicAdapter")
_ollama = _lazy("mcpctl_tui.llm.ollama", "OllamaAdapter")
_echo = _lazy("mcpctl_tui.llm.echo", "EchoAdapter")

_FACTORIES: dict[str, Callable[[], Adapter]] = {
    **dict.fromkeys(OPENAI_ALIASES, _openai),
    "anthropic": _anthropic,
    "ollama": _ollama,
    "echo": _echo,
}
_CACHE: dict[str, Adapter] = {}


def known_types() -> list[str]:
    return sorted(_FACTORIES)


def get_adapter(llm_type: str) -> Adapter:
    """The adapter for an LLM type (case-insensitive); adapters are stateless and shared."""
    key = llm_type.strip().lower()
    factory = _FACTORIES.get(key)
    if factory is None:
        raise UnknownLlmType(
            f"unknown LLM type {llm_type!r}; known types: {', '.join(known_types())}"
        )
    adapter = _CACHE.get(key)
    if adapter is None:
        adapter = _CACHE[key] = factory()
    return adapter
