"""The resource views: each one's name, the names ``:`` takes for it, and its columns.

A view's rows come from ``UiData.lines(view)`` (values by column key); a column here
picks a key and says how its cells read. ``kind`` is the manifest kind behind a view
(y, e and Ctrl+D go through manifests); threads and providers have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mcpctl_tui.store.manifest.documents import Kind
from mcpctl_tui.store.usage import Figure


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str


@dataclass(frozen=True, slots=True)
class View:
    name: str
    aliases: tuple[str, ...]
    columns: tuple[Column, ...]
    kind: Kind | None = None


def _cols(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, header) for key, header in pairs)


VIEWS: tuple[View, ...] = (
    View(
        "agents",
        ("agent", "ag", "a"),
        _cols(
            ("name", "NAME"),
            ("project", "PROJECT"),
            ("llm", "LLM"),
            ("personality", "PERSONALITY"),
            ("threads", "THREADS"),
            ("activity", "LAST ACTIVITY"),
            ("tokens", "TOKENS"),
            ("cost", "COST"),
        ),
        Kind.AGENT,
    ),
    View(
        "llms",
        ("llm", "l"),
        _cols(
            ("name", "NAME"),
            ("type", "TYPE"),
            ("model", "MODEL"),
            ("url", "URL"),
            ("kind", "KIND"),
            ("status", "STATUS"),
            ("agents", "AGENTS"),
            ("tokens", "TOKENS"),
            ("cost", "COST"),
        ),
        Kind.LLM,
    ),
    View(
        "projects",
        ("project", "proj"),
        _cols(
            ("name", "NAME"),
            ("agents", "AGENTS"),
            ("prompts", "PROMPTS"),
            ("description", "DESCRIPTION"),
        ),
        Kind.PROJECT,
    ),
    View(
        "prompts",
        ("prompt", "pr"),
        _cols(
            ("name", "NAME"), ("scope", "SCOPE"), ("priority", "PRIORITY"), ("content", "CONTENT")
        ),
        Kind.PROMPT,
    ),
    View(
        "personalities",
        ("personality", "pers", "persona", "personas"),
        _cols(("name", "NAME"), ("agent", "AGENT"), ("prompts", "PROMPTS"), ("default", "DEFAULT")),
        Kind.PERSONALITY,
    ),
    View(
        "mcpservers",
        ("mcpserver", "mcp", "servers"),
        _cols(
            ("name", "NAME"),
            ("project", "PROJECT"),
            ("transport", "TRANSPORT"),
            ("where", "COMMAND / URL"),
            ("description", "DESCRIPTION"),
        ),
        Kind.MCPSERVER,
    ),
    View(
        "threads",
        ("thread", "th"),
        _cols(
            ("id", "ID"),
            ("agent", "AGENT"),
            ("title", "TITLE"),
            ("turns", "TURNS"),
            ("last", "LAST TURN"),
            ("tokens", "TOKENS"),
            ("cost", "COST"),
        ),
    ),
    View(
        "providers",
        ("provider", "prov", "sessions"),
        _cols(
            ("session", "SESSION"),
            ("state", "STATE"),
            ("llms", "LLMS"),
            ("agents", "AGENTS"),
            ("heartbeat", "LAST HEARTBEAT"),
            ("tasks", "TASKS IN FLIGHT"),
        ),
    ),
)

# ``:search`` is no table: it opens the search view (ui/screens/search.py).
SEARCH, SEARCH_ALIASES = "search", ("find", "grep")
NAMES: tuple[str, ...] = (*(v.name for v in VIEWS), SEARCH)
# What ``:`` completes: the names first, then every alias.
COMPLETIONS: list[str] = [*NAMES, *(a for v in VIEWS for a in v.aliases), *SEARCH_ALIASES]
_BY_NAME = {n: v for v in VIEWS for n in (v.name, *v.aliases)}


def is_search(text: str) -> bool:
    return text.strip().lower() in (SEARCH, *SEARCH_ALIASES)


def resolve(text: str) -> View | None:
    """The view ``text`` names (a name or an alias, any case), or None."""
    return _BY_NAME.get(text.strip().lower())


CELL_WIDTH = 60  # a cell longer than this (a prompt's content) ends in an ellipsis


def cell(value: Any) -> str:
    """A value as its cell reads: none as ``-``, a time to the minute (UTC), one line."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Figure):
        return value.text
    text = " ".join(str(value).split())
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def sort_key(value: Any) -> tuple[int, Any]:
    """Order within a column: numbers and times by value, text case-insensitively; an
    empty cell sorts after everything else (in either direction, see ``sorted_lines``)."""
    if isinstance(value, str):
        return (0, value.casefold())
    if isinstance(value, Figure):
        return (0, value.value)
    return (0, value)


def is_empty(value: Any) -> bool:
    return value is None or value == ""
