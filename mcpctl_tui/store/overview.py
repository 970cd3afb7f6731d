"""The resource views' reads: one table per kind, and what uses a row ("describe").

Rules kept here:

- A manifest kind's lines come from ``manifest.export.get_objects`` (the documents ``get
  -o yaml`` prints), with the few facts a table adds beside them read in one query
  each (an agent's last activity, an LLM's last heartbeat, the tokens and cost of its
  replies: ``usage.tally_by``): a row of the table is exactly the object ``get`` names.
- Liveness is ``liveness.row_is_live`` (the provider's interval, the caller's timeout): an LLM shows
  offline exactly when a send to it would be refused.
- Threads are listed newest first, at most ``limit`` of them; providers are the
  sessions that published rows (``registration.list_sessions``' grouping), with the
  tasks they hold in flight (claimed or running).
- Values are plain (str, int, datetime, None): the UI formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mcpctl_tui.store.liveness import row_is_live
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    Document,
    Kind,
    LlmDoc,
    McpServerDoc,
    PersonalityDoc,
    ProjectDoc,
    PromptDoc,
)
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    InferenceTask,
    Llm,
    McpServer,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
    TaskStatus,
)
from mcpctl_tui.store.rows import as_utc
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.store.usage import NOTHING, Figure, Tally, tally_by

THREAD_LIMIT = 5_000  # the newest threads the threads view lists


@dataclass(frozen=True, slots=True)
class Line:
    """One row of a resource table: its values by column key, and what it is.

    ``doc``: the manifest document (None for threads and providers); ``owner``: the
    provider session that publishes a virtual row (it is not editable here);
    ``thread_id``: a thread's id."""

    key: str
    values: dict[str, Any]
    doc: Document | None = None
    owner: str | None = None
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What uses a row, by heading: ``("agents", ["ops", "writer"])``."""

    title: str
    groups: list[tuple[str, list[str]]] = field(default_factory=list)


def _utc(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)


def _spend(tally: Tally | None) -> dict[str, Figure | None]:
    """The tokens and cost columns (None, an empty cell, when nothing was replied)."""
    tally = tally or NOTHING
    return {"tokens": tally.tokens_figure(), "cost": tally.cost_figure()}


def _owner(facts: dict[str, Any]) -> str | None:
    if facts.get("kind") == LlmKind.VIRTUAL.value:
        return str(facts.get("providerSession") or "-")
    return None


async def lines(s: AsyncSession, view: str, *, heartbeat_timeout: float) -> list[Line]:
    """The rows of one view (``agents``, ``llms``, … ``threads``, ``providers``)."""
    if view == "threads":
        return await _threads(s)
    if view == "providers":
        return await _providers(s, heartbeat_timeout)
    kind = Kind(view.removesuffix("s").replace("personalitie", "personality"))
    found = await get_objects(s, kind)
    extra: dict[str, Any] = {}
    spent: dict[Any, Tally] = {}
    if kind is Kind.AGENT:
        q = select(Agent.name, func.max(ChatThread.last_turn_at)).join(
            ChatThread, ChatThread.agent_id == Agent.id
        )
        extra = {n: _utc(t) for n, t in (await s.execute(q.group_by(Agent.name))).all()}
        spent = await tally_by(s, "agent")
    elif kind is Kind.LLM:
        q2 = select(Llm.name, Llm.status, Llm.last_heartbeat_at, Llm.heartbeat_interval)
        extra = {n: (st, _utc(t), iv) for n, st, t, iv in (await s.execute(q2)).all()}
        spent = await tally_by(s, "llm")
    out = []
    for e in found:
        doc, facts = e.doc, e.facts
        values: dict[str, Any] = {"name": doc.name}
        if isinstance(doc, AgentDoc):
            values |= {
                "project": doc.project,
                "llm": doc.llm,
                "personality": doc.default_personality,
                "threads": facts["threads"],
                "activity": extra.get(doc.name),
                **_spend(spent.get(doc.name)),
            }
        elif isinstance(doc, LlmDoc):
            status, beat, interval = extra.get(doc.name, (LlmStatus.ACTIVE, None, None))
            virtual = facts["kind"] == LlmKind.VIRTUAL.value
            live = (
                row_is_live(status, beat, interval=interval, timeout=heartbeat_timeout)
                if virtual
                else None
            )
            values |= {
                "type": doc.type,
                "model": doc.model,
                "url": doc.url,
                "kind": facts["kind"],
                "status": ("live" if live else "offline") if virtual else facts["status"],
                "agents": facts["agents"],
                **_spend(spent.get(doc.name)),
            }
        elif isinstance(doc, ProjectDoc):
            values |= {
                "agents": facts["agents"],
                "prompts": facts["prompts"],
                "description": doc.description,
            }
        elif isinstance(doc, PromptDoc):
            values |= {"scope": facts["scope"], "priority": doc.priority, "content": doc.content}
        elif isinstance(doc, McpServerDoc):
            values |= {
                "project": doc.project,
                "transport": doc.transport,
                "where": facts["where"],
                "description": doc.description,
            }
        elif isinstance(doc, PersonalityDoc):
            values |= {
                "agent": doc.agent,
                "prompts": ", ".join(b.name for b in doc.prompts),
                "default": "yes" if facts["default"] else "",
            }
        out.append(Line(e.label, values, doc, _owner(facts)))
    return out


def newest_threads(limit: int = THREAD_LIMIT) -> Select[Any]:
    """The ids of the threads the threads view lists: the newest ``limit``."""
    return (
        select(ChatThread.id)
        .order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc())
        .limit(limit)
    )


async def _threads(s: AsyncSession, limit: int = THREAD_LIMIT) -> list[Line]:
    # Counted per listed thread (its turns' index range), not grouped over every turn.
    turns = (
        select(func.count())
        .where(ChatMessage.thread_id == ChatThread.id)
        .correlate(ChatThread)
        .scalar_subquery()
    )
    q = (
        select(ChatThread, Agent.name, turns)
        .join(Agent, Agent.id == ChatThread.agent_id)
        .order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc())
        .limit(limit)
    )
    rows = (await s.execute(q)).all()
    # The same threads as a subquery: thousands of ids as bound values cost more.
    spent = await tally_by(s, "thread", thread_ids=newest_threads(limit))
    return [
        Line(
            f"thread/{t.id}",
            {
                "id": t.id,
                "agent": agent,
                "title": t.title,
                "turns": n,
                "last": _utc(t.last_turn_at),
                **_spend(spent.get(t.id)),
            },
            thread_id=t.id,
        )
        for t, agent, n in rows
    ]


async def _providers(s: AsyncSession, heartbeat_timeout: float) -> list[Line]:
    sessions: dict[str, dict[str, Any]] = {}
    for model, key in ((Llm, "llms"), (Agent, "agents")):
        q = select(
            model.provider_session_id,
            model.name,
            model.status,
            model.last_heartbeat_at,
            model.heartbeat_interval,
        ).where(model.kind == LlmKind.VIRTUAL)
        for sid, name, status, beat, interval in (await s.execute(q)).all():
            at = sessions.setdefault(
                sid or "-",
                {"llms": [], "agents": [], "beat": None, "active": False, "interval": None},
            )
            at["interval"] = at["interval"] or interval
            at[key].append(name)
            beat = _utc(beat)
            if beat is not None and (at["beat"] is None or beat > at["beat"]):
                at["beat"] = beat
            at["active"] = at["active"] or status == LlmStatus.ACTIVE
    busy = (TaskStatus.CLAIMED, TaskStatus.RUNNING)
    q3 = (
        select(InferenceTask.claimed_by, func.count())
        .where(InferenceTask.status.in_(busy))
        .group_by(InferenceTask.claimed_by)
    )
    tasks = dict((await s.execute(q3)).all())
    out = []
    for sid, at in sorted(sessions.items()):
        if not at["active"]:
            state = "inactive"
        else:
            live = row_is_live(
                LlmStatus.ACTIVE, at["beat"], interval=at["interval"], timeout=heartbeat_timeout
            )
            state = "live" if live else "stale"
        values = {
            "session": sid,
            "state": state,
            "llms": ", ".join(sorted(at["llms"])),
            "agents": ", ".join(sorted(at["agents"])),
            "heartbeat": at["beat"],
            "tasks": tasks.get(sid, 0),
        }
        out.append(Line(f"provider/{sid}", values, owner=sid))
    return out


# --- describe ---------------------------------------------------------------------------


async def _names(s: AsyncSession, q: Any) -> list[str]:
    return [str(n) for n in (await s.execute(q)).scalars().all()]


async def _agent_id(s: AsyncSession, name: str) -> int | None:
    return (await s.execute(select(Agent.id).where(Agent.name == name))).scalar_one_or_none()


async def describe(s: AsyncSession, line: Line) -> Usage:
    """What uses ``line``'s row (agents of an LLM or project, threads of an agent …)."""
    doc = line.doc
    if line.thread_id is not None:
        return await _describe_thread(s, line.thread_id)
    if doc is None:  # a provider session: what it publishes
        v = line.values
        return Usage(
            line.key,
            [
                ("llms", v["llms"].split(", ") if v["llms"] else []),
                ("agents", v["agents"].split(", ") if v["agents"] else []),
            ],
        )
    usage = Usage(line.key)
    if line.owner is not None:
        usage.groups.append(("published by provider session", [line.owner]))
    if isinstance(doc, LlmDoc):
        q = select(Agent.name).join(Llm, Llm.id == Agent.llm_id).where(Llm.name == doc.name)
        usage.groups.append(("agents", await _names(s, q.order_by(Agent.name))))
    elif isinstance(doc, ProjectDoc):
        pid = select(Project.id).where(Project.name == doc.name).scalar_subquery()
        agents = select(Agent.name).where(Agent.project_id == pid).order_by(Agent.name)
        prompts = select(Prompt.name).where(Prompt.project_id == pid).order_by(Prompt.name)
        servers = select(McpServer.name).where(McpServer.project_id == pid)
        usage.groups.extend(
            [
                ("agents", await _names(s, agents)),
                ("prompts", await _names(s, prompts)),
                ("mcp servers", await _names(s, servers.order_by(McpServer.name))),
            ]
        )
    elif isinstance(doc, McpServerDoc):  # the agents that may use its tools: its project's
        pid = select(Project.id).where(Project.name == doc.project).scalar_subquery()
        agents = select(Agent.name).where(Agent.project_id == pid).order_by(Agent.name)
        usage.groups.append(("agents of its project", await _names(s, agents)))
    elif isinstance(doc, AgentDoc):
        aid = await _agent_id(s, doc.name)
        pers = select(Personality.name).where(Personality.agent_id == aid)
        prompts = select(Prompt.name).where(Prompt.agent_id == aid)
        threads = (
            select(ChatThread.id, ChatThread.title)
            .where(ChatThread.agent_id == aid)
            .order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc())
        )
        shown = [f"{tid}: {title}" for tid, title in (await s.execute(threads)).all()]
        usage.groups.extend(
            [
                ("personalities", await _names(s, pers.order_by(Personality.name))),
                ("prompts (its own)", await _names(s, prompts.order_by(Prompt.name))),
                ("threads", shown),
            ]
        )
    elif isinstance(doc, PromptDoc):
        usage.groups.append(("bound to personalities", await _prompt_users(s, doc)))
    elif isinstance(doc, PersonalityDoc):
        aid = await _agent_id(s, doc.agent)
        defaults = select(Agent.name).join(
            Personality, Personality.id == Agent.default_personality_id
        )
        defaults = defaults.where(Personality.agent_id == aid, Personality.name == doc.name)
        usage.groups.extend(
            [
                ("prompts bound", [b.name for b in doc.prompts]),
                ("default of agents", await _names(s, defaults)),
            ]
        )
    return usage


async def _prompt_users(s: AsyncSession, doc: PromptDoc) -> list[str]:
    owner, scope_project = aliased(Agent), aliased(Project)
    prompt_ids = (
        select(Prompt.id)
        .outerjoin(owner, owner.id == Prompt.agent_id)
        .outerjoin(scope_project, scope_project.id == Prompt.project_id)
        .where(
            Prompt.name == doc.name,
            owner.name.is_(None) if doc.agent is None else owner.name == doc.agent,
            scope_project.name.is_(None)
            if doc.project is None
            else scope_project.name == doc.project,
        )
    )
    q = (
        select(Personality.name, Agent.name)
        .join(PersonalityPrompt, PersonalityPrompt.personality_id == Personality.id)
        .join(Agent, Agent.id == Personality.agent_id)
        .where(PersonalityPrompt.prompt_id.in_(prompt_ids))
        .order_by(Agent.name, Personality.name)
    )
    return [f"{p} (agent {a})" for p, a in (await s.execute(q)).all()]


async def _describe_thread(s: AsyncSession, thread_id: int) -> Usage:
    q = (
        select(ChatThread.title, Agent.name)
        .join(Agent, Agent.id == ChatThread.agent_id)
        .where(ChatThread.id == thread_id)
    )
    row = (await s.execute(q)).one_or_none()
    n = (
        await s.execute(select(func.count()).where(ChatMessage.thread_id == thread_id))
    ).scalar_one()
    if row is None:
        return Usage(f"thread/{thread_id}", [("gone", ["deleted meanwhile"])])
    return Usage(f"thread/{thread_id} {row[0]}", [("agent", [str(row[1])]), ("turns", [str(n)])])
