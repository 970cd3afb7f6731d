"""Listing a server's models: the LLM editor's "test connection".

One GET per wire format that has a model list (OpenAI-compatible ``{base}/v1/models``,
Anthropic ``/v1/models``, Ollama ``/api/tags``), the URL derived by the same rule the
chat request uses, so a base URL that chats is a base URL that lists. The answer is
untrusted: every field is type-checked, names are returned as plain strings, sorted.
A failure is one line (``ModelListError``) naming the URL and what went wrong, never the
response body (an upstream may echo the key back) and never the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from mcpctl_tui.llm.anthropic import anthropic_headers, messages_url
from mcpctl_tui.llm.events import one_line
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.ollama import chat_url, ollama_headers
from mcpctl_tui.llm.openai import chat_completions_url, openai_headers
from mcpctl_tui.llm.registry import OPENAI_ALIASES
from mcpctl_tui.llm.request import Endpoint
from mcpctl_tui.secrets import mask

MAX_MODELS = 1_000  # a list longer than this is cut (a form shows it, not a catalogue)


class ModelListError(Exception):
    """The server could not be asked, or its answer is not a model list (one line)."""


def _replace_tail(url: str, old: str, new: str) -> str:
    return url[: -len(old)] + new if url.endswith(old) else url + new


def _openai_names(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return (
        [m.get("id") for m in data]
        if isinstance(data, list) and all(isinstance(m, dict) for m in data)
        else _refuse("data[]")
    )


def _ollama_names(body: Any) -> list[Any]:
    models = body.get("models") if isinstance(body, dict) else None
    return (
        [m.get("name") for m in models]
        if isinstance(models, list) and all(isinstance(m, dict) for m in models)
        else _refuse("models[]")
    )


def _refuse(field: str) -> list[Any]:
    raise ModelListError(f"the answer is not a model list (no {field})")


_Lister = tuple[
    Callable[[str], str], Callable[[Endpoint], dict[str, str]], Callable[[Any], list[Any]]
]

_LISTERS: dict[str, _Lister] = {
    **dict.fromkeys(
        OPENAI_ALIASES,
        (
            lambda base: _replace_tail(chat_completions_url(base), "/chat/completions", "/models"),
            openai_headers,
            _openai_names,
        ),
    ),
    "anthropic": (
        lambda base: _replace_tail(messages_url(base), "/messages", "/models"),
        anthropic_headers,
        _openai_names,  # the same shape: {"data": [{"id": ...}]}
    ),
    "ollama": (
        lambda base: _replace_tail(chat_url(base), "/chat", "/tags"),
        ollama_headers,
        _ollama_names,
    ),
}


def has_model_list(llm_type: str) -> bool:
    return llm_type.strip().lower() in _LISTERS


def models_url(endpoint: Endpoint) -> str:
    return _LISTERS[endpoint.type.strip().lower()][0](endpoint.url)


async def list_models(endpoint: Endpoint, *, client: httpx.AsyncClient | None = None) -> list[str]:
    """The model names the server at ``endpoint`` offers, sorted; ``ModelListError``."""
    kind = endpoint.type.strip().lower()
    if kind not in _LISTERS:
        raise ModelListError(f"an LLM of type {endpoint.type} has no model list to ask for")
    to_url, headers_of, names_of = _LISTERS[kind]
    url = to_url(endpoint.url)
    headers = {**headers_of(endpoint), "accept": "application/json"}
    own = client is None
    http = client or make_client()
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ModelListError(f"{url}: {type(exc).__name__} (no answer)") from None
    finally:
        if own:
            await http.aclose()
    if response.status_code != 200:
        reason = mask(response.reason_phrase or "error", endpoint.api_key)  # server's text
        raise ModelListError(f"{url}: HTTP {response.status_code} {one_line(reason, 80)}")
    try:
        body = response.json()
    except ValueError:
        raise ModelListError(f"{url}: the answer is not JSON") from None
    names = names_of(body)
    if not all(isinstance(n, str) for n in names):
        raise ModelListError(f"{url}: a model name is not text")
    return sorted(set(names))[:MAX_MODELS]
