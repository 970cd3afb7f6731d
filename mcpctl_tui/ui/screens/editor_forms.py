"""The editors' forms: which fields each kind of object has, their values, the document.

A form builds the same document a manifest holds (``build_doc``), so a save is the
manifest's validation and rules. The API key field takes a reference (``env:NAME`` /
``keyring:SERVICE/USER``); a literal key is refused by validation and a stored one is
never shown (``values_of`` shows the reference only).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    McpServerDoc,
    PersonalityDoc,
    ProjectDoc,
    PromptDoc,
)
from mcpctl_tui.store.manifest.schema import shown_key_ref
from mcpctl_tui.store.types import Prices
from mcpctl_tui.ui.data import Choices

FieldKind = Literal["text", "multiline", "int", "json", "choice", "bindings"]
NONE = "(none)"


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    kind: FieldKind = "text"
    choices: Sequence[str] = ()
    help: str = ""
    create_only: bool = False


def fields_for(kind: Kind, c: Choices) -> list[Field]:
    if kind is Kind.LLM:
        return [
            Field("name", "Name", create_only=True),
            Field("type", "Type", "choice", c.llm_types),
            Field("url", "URL", help="base URL, e.g. http://127.0.0.1:8000/v1 (echo: empty)"),
            Field("model", "Model"),
            Field("api_key_ref", "API key reference", help="env:NAME or keyring:SERVICE/USER"),
            Field(
                "prices",
                "Prices",
                help="per million tokens: INPUT OUTPUT [CURRENCY], e.g. 2.50 10 USD (empty: none)",
            ),
            Field("description", "Description"),
        ]
    if kind is Kind.PROJECT:
        return [Field("name", "Name", create_only=True), Field("description", "Description")]
    if kind is Kind.AGENT:
        return [
            Field("name", "Name", create_only=True),
            Field("llm", "LLM", "choice", c.llms),
            Field("project", "Project", "choice", [NONE, *c.projects]),
            Field("description", "Description"),
            Field("system_prompt", "System prompt", "multiline"),
            Field("default_params", "Default params (JSON object)", "json"),
            Field("default_personality", "Default personality", "choice", [NONE, *c.personalities]),
        ]
    if kind is Kind.PROMPT:
        scopes = (
            ["global"] + [f"project:{p}" for p in c.projects] + [f"agent:{a}" for a in c.agents]
        )
        return [
            Field("name", "Name", create_only=True),
            Field("scope", "Scope", "choice", scopes, create_only=True),
            Field("priority", "Priority", "int", help="higher comes first"),
            Field("content", "Content", "multiline"),
        ]
    return [
        Field("name", "Name", create_only=True),
        Field("agent", "Agent", "choice", c.agents, create_only=True),
        Field("description", "Description"),
        Field("priority", "Priority", "int"),
        Field(
            "prompts",
            "Bound prompts",
            "bindings",
            help="one per line: NAME or NAME:PRIORITY (the binding's priority override)",
        ),
    ]


def values_of(doc: Document | None, kind: Kind) -> dict[str, Any]:
    """Form values for ``doc`` (None: a new one)."""
    if doc is None:
        base: dict[str, Any] = {"priority": 0, "default_params": {}}
        return base
    if isinstance(doc, LlmDoc):
        return {
            "name": doc.name,
            "type": doc.type,
            "url": doc.url,
            "model": doc.model,
            "api_key_ref": shown_key_ref(doc.api_key_ref) or "",
            "prices": prices_text(doc.prices),
            "description": doc.description,
        }
    if isinstance(doc, ProjectDoc):
        return {"name": doc.name, "description": doc.description}
    if isinstance(doc, AgentDoc):
        return {
            "name": doc.name,
            "llm": doc.llm,
            "project": doc.project or NONE,
            "description": doc.description,
            "system_prompt": doc.system_prompt,
            "default_params": doc.default_params,
            "default_personality": doc.default_personality or NONE,
        }
    if isinstance(doc, PromptDoc):
        scope = (
            f"agent:{doc.agent}"
            if doc.agent
            else f"project:{doc.project}"
            if doc.project
            else "global"
        )
        return {"name": doc.name, "scope": scope, "priority": doc.priority, "content": doc.content}
    if isinstance(doc, McpServerDoc):
        raise ValueError("an MCP server has no form: edit its YAML (e in :mcpservers)")
    return {
        "name": doc.name,
        "agent": doc.agent,
        "description": doc.description,
        "priority": doc.priority,
        "prompts": "\n".join(
            b.name if b.priority is None else f"{b.name}:{b.priority}" for b in doc.prompts
        ),
    }


def prices_text(prices: Prices | None) -> str:
    return "" if prices is None else f"{prices.input:g} {prices.output:g} {prices.currency}"


def parse_prices(text: str) -> Prices | None:
    """``INPUT OUTPUT [CURRENCY]`` per million tokens; empty: not priced. The numbers'
    range and the currency's form are the manifest's rules (checked on save)."""
    parts = text.split()
    if not parts:
        return None
    if len(parts) not in (2, 3):
        raise FormError("prices: INPUT OUTPUT [CURRENCY], e.g. 2.50 10 USD", "prices")
    try:
        inp, out = float(parts[0]), float(parts[1])
    except ValueError:
        raise FormError("prices: INPUT and OUTPUT must be numbers", "prices") from None
    return Prices(inp, out, *(p.upper() for p in parts[2:]))


class FormError(ValueError):
    """A value the form itself refuses; ``key``: the form field at fault."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def parse_bindings(text: str) -> tuple[BindingDoc, ...]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        name, sep, prio = line.rpartition(":") if ":" in line else (line, "", "")
        if not sep:
            out.append(BindingDoc(name=line))
            continue
        try:
            out.append(BindingDoc(name=name.strip(), priority=int(prio)))
        except ValueError:
            reason = f"bound prompts, line {n}: priority {prio!r} is not a number"
            raise FormError(reason, "prompts") from None
    return tuple(out)


# What a document holds that its form does not show: saving keeps the stored value (a
# document is the whole object: left out, apply would reset it).
_NOT_IN_FORM: dict[Kind, tuple[str, ...]] = {
    Kind.LLM: ("tier",),
    Kind.AGENT: ("extras",),
}


def build_doc(kind: Kind, v: dict[str, Any], base: Document | None = None) -> Document:
    """A document from form values, with what the form does not show kept from ``base``
    (the stored one; None: a new one); FormError for what the form itself can tell."""
    doc = _doc_from_form(kind, v)
    kept = _NOT_IN_FORM.get(kind, ())
    if base is None or not kept:
        return doc
    return dataclasses.replace(doc, **{a: getattr(base, a) for a in kept})


def _doc_from_form(kind: Kind, v: dict[str, Any]) -> Document:

    def opt(key: str) -> str | None:
        value = v.get(key)
        return None if value in (None, "", NONE) else str(value)

    def integer(key: str) -> int:
        raw = str(v.get(key, "0")).strip() or "0"
        try:
            return int(raw)
        except ValueError:
            raise FormError(f"{key}: {raw!r} is not a whole number", key) from None

    name = str(v.get("name", "")).strip()
    if not name:
        raise FormError("name: required", "name")
    if kind is Kind.LLM:
        return LlmDoc(
            name=name,
            type=str(v.get("type") or ""),
            url=str(v.get("url", "")).strip(),
            model=str(v.get("model", "")).strip(),
            api_key_ref=opt("api_key_ref"),
            prices=parse_prices(str(v.get("prices") or "")),
            description=str(v.get("description", "")),
        )
    if kind is Kind.PROJECT:
        return ProjectDoc(name=name, description=str(v.get("description", "")))
    if kind is Kind.AGENT:
        raw = str(v.get("default_params", "")).strip() or "{}"
        try:
            params = json.loads(raw)
        except json.JSONDecodeError as exc:
            reason = f"default params: not JSON ({exc.msg}, line {exc.lineno})"
            raise FormError(reason, "default_params") from None
        except ValueError:  # valid JSON Python will not read: an integer over 4300 digits
            reason = "default params: a number is too long (over 4300 digits)"
            raise FormError(reason, "default_params") from None
        if not isinstance(params, dict):
            raise FormError(
                'default params: must be a JSON object ({"key": value})', "default_params"
            )
        llm = opt("llm")
        if llm is None:
            raise FormError("llm: choose one (add an LLM first)", "llm")
        return AgentDoc(
            name=name,
            llm=llm,
            project=opt("project"),
            description=str(v.get("description", "")),
            system_prompt=str(v.get("system_prompt", "")),
            default_params=params,
            default_personality=opt("default_personality"),
        )
    if kind is Kind.PROMPT:
        scope = str(v.get("scope") or "global")
        where, _, owner = scope.partition(":")
        return PromptDoc(
            name=name,
            content=str(v.get("content", "")),
            priority=integer("priority"),
            agent=owner if where == "agent" else None,
            project=owner if where == "project" else None,
        )
    agent = opt("agent")
    if agent is None:
        raise FormError("agent: choose one", "agent")
    return PersonalityDoc(
        name=name,
        agent=agent,
        description=str(v.get("description", "")),
        priority=integer("priority"),
        prompts=parse_bindings(str(v.get("prompts", ""))),
    )
