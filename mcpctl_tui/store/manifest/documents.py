"""Manifest documents: the typed dataclasses a manifest is read into, and its problems.

One dataclass per kind (llm, project, agent, prompt, personality, mcpserver), fields named as the
rows' attributes. A document is the WHOLE object: an optional field left out is reset to
its default on apply, which is what makes ``get -o yaml`` output re-apply to the same
state. References to other objects are by name (an agent's ``llm``, a prompt's
``agent``/``project``), resolved by ``apply`` inside its transaction.

The dataclasses do not check themselves: ``schema`` checks each field (``validate`` for a
document built in code) and ``parse`` reads YAML into them. Two documents with the same
``identity`` (kind, name, scope) in one manifest are an error. A problem names the
document's source, index and line (``Located`` keeps the line of every field, so a
problem found later points at the field itself); it never echoes a field's value, which
may be an API key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.types import Prices


class Kind(StrEnum):
    LLM = "llm"
    PROJECT = "project"
    AGENT = "agent"
    PROMPT = "prompt"
    PERSONALITY = "personality"
    MCPSERVER = "mcpserver"

    @property
    def plural(self) -> str:
        return "personalities" if self is Kind.PERSONALITY else f"{self.value}s"


_KIND_ALIASES: dict[str, Kind] = {
    **{k.value: k for k in Kind},
    **{k.plural: k for k in Kind},
    "proj": Kind.PROJECT,
    "personas": Kind.PERSONALITY,
    "mcp": Kind.MCPSERVER,
}


def parse_kind(text: str) -> Kind:
    """``llm``/``llms``/``LLM`` … -> Kind; anything else is Invalid."""
    kind = _KIND_ALIASES.get(text.strip().lower())
    if kind is None:
        raise Invalid(f"unknown kind {text!r}; expected one of: {', '.join(k.value for k in Kind)}")
    return kind


# --- the documents ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LlmDoc:
    KIND: ClassVar[Kind] = Kind.LLM
    name: str
    type: str
    model: str = ""
    url: str = ""
    api_key_ref: str | None = None
    tier: str | None = None
    description: str = ""
    prices: Prices | None = None
    # Set by ``get`` for a row a provider session publishes: ``apply`` skips the document
    # (applied elsewhere it would make a public LLM with no URL).
    virtual: bool = False
    provider_session: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectDoc:
    KIND: ClassVar[Kind] = Kind.PROJECT
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class AgentDoc:
    KIND: ClassVar[Kind] = Kind.AGENT
    name: str
    llm: str
    project: str | None = None
    description: str = ""
    system_prompt: str = ""
    default_params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # A personality of this agent, by name (the agent <-> personality cycle).
    default_personality: str | None = None
    virtual: bool = False  # as on LlmDoc: a provider's agent, skipped by apply
    provider_session: str | None = None


@dataclass(frozen=True, slots=True)
class PromptDoc:
    """A prompt is agent-direct (``agent``), project-scoped (``project``) or global (neither)."""

    KIND: ClassVar[Kind] = Kind.PROMPT
    name: str
    content: str
    priority: int = 0
    project: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class BindingDoc:
    """One entry of a personality's ``prompts:`` list.

    Without a scope the prompt ``name`` is looked up in the personality's agent's own
    prompts first, then the prompts of that agent's project, then the global prompts.
    ``agent: A``, ``project: P`` or ``global: true`` name the scope explicitly (export
    writes one only when the rule above would find a different prompt).
    """

    name: str
    priority: int | None = None
    agent: str | None = None
    project: str | None = None
    global_: bool = False


@dataclass(frozen=True, slots=True)
class PersonalityDoc:
    KIND: ClassVar[Kind] = Kind.PERSONALITY
    name: str
    agent: str
    description: str = ""
    priority: int = 0
    prompts: tuple[BindingDoc, ...] = ()


@dataclass(frozen=True, slots=True)
class McpServerDoc:
    """An MCP server of a project (named uniquely within it): ``stdio`` runs ``command``
    in ``cwd`` with ``env``; ``http`` speaks streamable HTTP to ``url`` with ``headers``.
    ``env`` and ``headers`` map names to key references, never to values."""

    KIND: ClassVar[Kind] = Kind.MCPSERVER
    name: str
    project: str
    transport: str
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    description: str = ""


Document = LlmDoc | ProjectDoc | AgentDoc | PromptDoc | PersonalityDoc | McpServerDoc


def identity(doc: Document) -> tuple[Kind, str, str]:
    """What a document names: two documents with one identity in one file is an error."""
    scope = ""
    if isinstance(doc, PromptDoc):
        scope = (
            f"agent {doc.agent}" if doc.agent else f"project {doc.project}" if doc.project else ""
        )
    elif isinstance(doc, PersonalityDoc):
        scope = f"agent {doc.agent}"
    elif isinstance(doc, McpServerDoc):
        scope = f"project {doc.project}"
    return doc.KIND, doc.name, scope


def label(doc: Document) -> str:
    """``llm/openai-main``, ``prompt/style (agent helper)`` — how output names a document."""
    kind, name, scope = identity(doc)
    return f"{kind.value}/{name}" + (f" ({scope})" if scope else "")


@dataclass(frozen=True, slots=True)
class Located:
    """A document and where it came from (1-based index within its source, and line).

    ``lines`` maps field paths (``llm``, ``prompts[2]``, ``extras.headers``) to their
    lines, so a problem found later (an unknown reference) points at the field itself.
    """

    doc: Document
    index: int
    line: int | None
    source: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    def where(self) -> str:
        return _where(self.source, self.index, self.line)

    def line_of(self, path: str) -> int | None:
        return line_of(self.lines, path, self.line)


_LAST_STEP = re.compile(r"(\.[^.\[]*|\[\d+\])$")


def line_of(lines: Mapping[str, int], path: str, default: int | None) -> int | None:
    """The line of ``path``, else of its nearest enclosing field, else ``default``."""
    while path:
        if path in lines:
            return lines[path]
        path = _LAST_STEP.sub("", path) if _LAST_STEP.search(path) else ""
    return default


def _where(source: str | None, index: int, line: int | None) -> str:
    text = f"document {index}" + (f" (line {line})" if line is not None else "")
    return f"{source}: {text}" if source else text


@dataclass(frozen=True, slots=True)
class Problem:
    source: str | None
    index: int
    line: int | None
    label: str | None
    reason: str
    field: str | None = None  # the document's attribute at fault (``default_params``), if one

    def __str__(self) -> str:
        what = f" {self.label}" if self.label else ""
        return f"{_where(self.source, self.index, self.line)}{what}: {self.reason}"


class ManifestError(Invalid):
    """One or more documents are bad; nothing from the manifest was written.

    The message is one line per problem, each naming the document's index (and line).
    Values of fields are never echoed (a literal API key must not reach a terminal or log).
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
