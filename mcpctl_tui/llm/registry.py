"""Adapter lookup by LLM type (the ``type`` column of an LLM row)."""

from __future__ import annotations

from collections.abc import Callable

from mcpctl_tui.llm.anthropic import AnthropicAdapter
from mcpctl_tui.llm.base import Adapter
from mcpctl_tui.llm.echo import EchoAdapter
from mcpctl_tui.llm.ollama import OllamaAdapter
from mcpctl_tui.llm.openai import OpenAIAdapter


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


_FACTORIES: dict[str, Callable[[], Adapter]] = {
    **dict.fromkeys(OPENAI_ALIASES, OpenAIAdapter),
    "anthropic": AnthropicAdapter,
    "ollama": OllamaAdapter,
    "echo": EchoAdapter,
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
