"""Adapter lookup by LLM type (the ``type`` column of an LLM row)."""

from __future__ import annotations

import importlib

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


# Type -> (module, class), imported on first use: the HTTP adapters pull in httpx, which a
# chat on the echo LLM (or a verb that only names the types) need not pay for.
_FACTORIES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(OPENAI_ALIASES, ("openai", "OpenAIAdapter")),
    "anthropic": ("anthropic", "AnthropicAdapter"),
    "ollama": ("ollama", "OllamaAdapter"),
    "echo": ("echo", "EchoAdapter"),
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
        module, name = factory
        made: Adapter = getattr(importlib.import_module(f"mcpctl_tui.llm.{module}"), name)()
        adapter = _CACHE[key] = made
    return adapter
