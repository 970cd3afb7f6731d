"""Read objects back as manifest documents (``get``): what ``apply`` reads, and facts.

``document`` is exactly what apply takes (lifecycle columns left out, API keys only as
their reference), so ``get -o yaml`` re-applies to the same state. ``facts`` are the
read-only things a table shows beside it (kind, status, provider session, counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.catalog import get_project_by_name
from mcpctl_tui.store.errors import NotFound
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
    label,
)
from mcpctl_tui.store.manifest.lookup import pick_bound_prompt, prompts_named
from mcpctl_tui.store.manifest.schema import shown_key_ref, to_mapping
from mcpctl_tui.store.models import (
    Agent,
    ChatThread,
    Llm,
    McpServer,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.types import LlmKind


@dataclass(frozen=True, slots=True)
class Exported:
    doc: Document
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return label(self.doc)

    @property
    def document(self) -> dict[str, Any]:
        return to_mapping(self.doc)


def _lifecycle(row: Llm | Agent) -> dict[str, Any]:
    return {
        "kind": row.kind.value,
        "status": row.status.value,
        "providerSession": row.provider_session_id,
    }


def _virtual(row: Llm | Agent) -> dict[str, Any]:
    """A provider's row is marked in its document, so that applying an export elsewhere
    skips it instead of creating a public LLM (or agent) with nothing behind it."""
    if row.kind != LlmKind.VIRTUAL:
        return {}
    return {"virtual": True, "provider_session": row.provider_session_id}


async def _llms(s: AsyncSession, name: str | None) -> list[Exported]:
    users = select(Agent.llm_id, func.count().label("n")).group_by(Agent.llm_id).subquery("users")
    q = select(Llm, func.coalesce(users.c.n, 0)).outerjoin(users, users.c.llm_id == Llm.id)
    if name is not None:
        q = q.where(Llm.name == name)
    out = []
    for row, n in (await s.execute(q.order_by(Llm.name))).all():
        doc = LlmDoc(
            name=row.name,
            type=row.type,
            model=row.model,
            url=row.url,
            api_key_ref=shown_key_ref(row.api_key_ref),
            tier=row.tier,
            description=row.description,
            prices=row.prices,
            **_virtual(row),
        )
        out.append(Exported(doc, {**_lifecycle(row), "agents": n}))
    return out


async def _projects(s: AsyncSession, name: str | None) -> list[Exported]:
    q = select(Project).order_by(Project.name)
    if name is not None:
        q = q.where(Project.name == name)
    projects = (await s.execute(q)).scalars().all()
    agents = dict(
        (await s.execute(select(Agent.project_id, func.count()).group_by(Agent.project_id))).all()
    )
    prompts = dict(
        (await s.execute(select(Prompt.project_id, func.count()).group_by(Prompt.project_id))).all()
    )
    return [
        Exported(
            ProjectDoc(name=p.name, description=p.description),
            {"agents": agents.get(p.id, 0), "prompts": prompts.get(p.id, 0)},
        )
        for p in projects
    ]


async def _mcpservers(s: AsyncSession, name: str | None, project: str | None) -> list[Exported]:
    q = (
        select(McpServer, Project.name)
        .join(Project, Project.id == McpServer.project_id)
        .order_by(Project.name, McpServer.name)
    )
    if name is not None:
        q = q.where(McpServer.name == name)
    if project is not None:
        q = q.where(Project.name == project)
    return [
        Exported(
            McpServerDoc(
                name=m.name,
                project=project_name,
                transport=m.transport,
                command=list(m.command or []),
                env={k: shown_key_ref(v) or "" for k, v in (m.env or {}).items()},
                cwd=m.cwd,
                url=m.url,
                headers={k: shown_key_ref(v) or "" for k, v in (m.headers or {}).items()},
                description=m.description,
            ),
            {"where": m.url or " ".join(m.command or [])},
        )
        for m, project_name in (await s.execute(q)).all()
    ]


async def _agents(s: AsyncSession, name: str | None) -> list[Exported]:
    default = aliased(Personality)
    q = (
        select(Agent, Llm.name, Project.name, default.name)
        .join(Llm, Llm.id == Agent.llm_id)
        .outerjoin(Project, Project.id == Agent.project_id)
        .outerjoin(default, default.id == Agent.default_personality_id)
        .order_by(Agent.name)
    )
    if name is not None:
        q = q.where(Agent.name == name)
    rows = (await s.execute(q)).all()
    personalities = dict(
        (
            await s.execute(
                select(Personality.agent_id, func.count()).group_by(Personality.agent_id)
            )
        ).all()
    )
    threads = dict(
        (
            await s.execute(select(ChatThread.agent_id, func.count()).group_by(ChatThread.agent_id))
        ).all()
    )
    out = []
    for agent, llm_name, project_name, personality_name in rows:
        doc = AgentDoc(
            name=agent.name,
            llm=llm_name,
            project=project_name,
            description=agent.description,
            system_prompt=agent.system_prompt,
            default_params=dict(agent.default_params or {}),
            extras=dict(agent.extras or {}),
            default_personality=personality_name,
            **_virtual(agent),
        )
        facts = {
            **_lifecycle(agent),
            "personalities": personalities.get(agent.id, 0),
            "threads": threads.get(agent.id, 0),
        }
        out.append(Exported(doc, facts))
    return out


async def _prompts(
    s: AsyncSession, name: str | None, agent: str | None, project: str | None
) -> list[Exported]:
    owner = aliased(Agent)
    q = (
        select(Prompt, owner.name, Project.name)
        .outerjoin(owner, owner.id == Prompt.agent_id)
        .outerjoin(Project, Project.id == Prompt.project_id)
    )
    if name is not None:
        q = q.where(Prompt.name == name)
    if agent is not None:
        q = q.where(owner.name == agent)
    if project is not None:
        q = q.where(Project.name == project)
    q = q.order_by(Prompt.name, owner.name.nulls_first(), Project.name.nulls_first())
    out = []
    for prompt, agent_name, project_name in (await s.execute(q)).all():
        doc = PromptDoc(
            name=prompt.name,
            content=prompt.content,
            priority=prompt.priority,
            project=project_name,
            agent=agent_name,
        )
        scope = (
            f"agent {agent_name}"
            if agent_name
            else f"project {project_name}"
            if project_name
            else "global"
        )
        out.append(Exported(doc, {"scope": scope}))
    return out


async def _personalities(s: AsyncSession, name: str | None, agent: str | None) -> list[Exported]:
    """Personalities with their bindings: three queries however many there are."""
    where = []
    if name is not None:
        where.append(Personality.name == name)
    if agent is not None:
        where.append(Agent.name == agent)
    q = select(Personality, Agent).join(Agent, Agent.id == Personality.agent_id).where(*where)
    rows = (await s.execute(q.order_by(Agent.name, Personality.name))).all()
    if not rows:
        return []
    chosen = select(Personality.id).join(Agent, Agent.id == Personality.agent_id).where(*where)
    owner, project = aliased(Agent), aliased(Project)
    bq = (
        select(PersonalityPrompt.personality_id, PersonalityPrompt.priority, Prompt)
        .add_columns(owner.name, project.name)
        .join(Prompt, Prompt.id == PersonalityPrompt.prompt_id)
        .outerjoin(owner, owner.id == Prompt.agent_id)
        .outerjoin(project, project.id == Prompt.project_id)
        .where(PersonalityPrompt.personality_id.in_(chosen))
        .order_by(PersonalityPrompt.id)
    )
    bound = (await s.execute(bq)).all()
    # Every prompt sharing a bound prompt's name, to see whether the rule finds it again.
    candidates: dict[str, list[Prompt]] = {}
    for p in await prompts_named(s, {b[2].name for b in bound}):
        candidates.setdefault(p.name, []).append(p)
    bindings: dict[int, list[BindingDoc]] = {}
    by_id = {personality.id: a for personality, a in rows}
    for personality_id, priority, prompt, owner_name, project_name in bound:
        a = by_id[personality_id]
        found = pick_bound_prompt(candidates.get(prompt.name, []), a.id, a.project_id)
        if found is not None and found.id == prompt.id:  # the rule finds it: no scope needed
            binding = BindingDoc(name=prompt.name, priority=priority)
        elif owner_name is not None:
            binding = BindingDoc(name=prompt.name, priority=priority, agent=owner_name)
        elif project_name is not None:
            binding = BindingDoc(name=prompt.name, priority=priority, project=project_name)
        else:
            binding = BindingDoc(name=prompt.name, priority=priority, global_=True)
        bindings.setdefault(personality_id, []).append(binding)
    out = []
    for personality, a in rows:
        doc = PersonalityDoc(
            name=personality.name,
            agent=a.name,
            description=personality.description,
            priority=personality.priority,
            prompts=tuple(bindings.get(personality.id, [])),
        )
        out.append(Exported(doc, {"default": a.default_personality_id == personality.id}))
    return out


async def get_objects(
    s: AsyncSession,
    kind: Kind,
    name: str | None = None,
    *,
    agent: str | None = None,
    project: str | None = None,
) -> list[Exported]:
    """Objects of ``kind`` (one name, or all), as documents plus display facts.

    ``agent`` filters prompts (agent-direct ones) and personalities; ``project`` filters
    prompts and MCP servers. A named agent/project filter that does not exist, or a ``name`` that
    matches nothing, raises NotFound.
    """
    if agent is not None and await get_agent_by_name(s, agent) is None:
        raise NotFound("agent", agent)
    if project is not None and await get_project_by_name(s, project) is None:
        raise NotFound("project", project)
    if kind is Kind.LLM:
        found = await _llms(s, name)
    elif kind is Kind.PROJECT:
        found = await _projects(s, name)
    elif kind is Kind.AGENT:
        found = await _agents(s, name)
    elif kind is Kind.PROMPT:
        found = await _prompts(s, name, agent, project)
    elif kind is Kind.MCPSERVER:
        found = await _mcpservers(s, name, project)
    else:
        found = await _personalities(s, name, agent)
    if name is not None and not found:
        raise NotFound(kind.value, name)
    return found


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (system prompts, prompt content) as literal blocks, readable and
    # still exact; PyYAML falls back to quoting when a block cannot represent it.
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


if TYPE_CHECKING:
    _SafeDumper = yaml.SafeDumper
else:  # libyaml's emitter when PyYAML has it; the representers stay Python
    _SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_SafeDumper):
    pass


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(items: Sequence[Exported]) -> str:
    """Multi-document YAML that ``apply -f`` takes back unchanged."""
    return yaml.dump_all(
        [item.document for item in items],
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        explicit_start=True,
        width=100,
    )
