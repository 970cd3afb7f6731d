"""Read models for screens: joined, flat rows the UI shows without knowing the schema.

These are plain reads over ``store.queries``' tables; the UI calls them and never builds a
query of its own. Each function takes an ``AsyncSession`` so a screen can load several
in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread, Llm, Project
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus


@dataclass(frozen=True, slots=True)
class AgentRow:
    id: int
    name: str
    description: str
    llm_id: int
    llm_name: str
    llm_type: str
    llm_model: str
    kind: LlmKind
    status: LlmStatus
    project_name: str | None
    default_personality_id: int | None
    default_params: dict[str, Any]

    @property
    def available(self) -> bool:
        return self.status == LlmStatus.ACTIVE


def _effective(agent: Agent, llm: Llm) -> tuple[LlmKind, LlmStatus]:
    """An agent on a virtual LLM is as alive as the worst of the two rows."""
    kind = LlmKind.VIRTUAL if LlmKind.VIRTUAL in (agent.kind, llm.kind) else LlmKind.PUBLIC
    if LlmStatus.INACTIVE in (agent.status, llm.status):
        return kind, LlmStatus.INACTIVE
    if LlmStatus.HIBERNATING in (agent.status, llm.status):
        return kind, LlmStatus.HIBERNATING
    return kind, LlmStatus.ACTIVE


def _agent_query() -> Any:
    return (
        select(Agent, Llm, Project.name)
        .join(Llm, Llm.id == Agent.llm_id)
        .outerjoin(Project, Project.id == Agent.project_id)
    )


def _row(agent: Agent, llm: Llm, project: str | None) -> AgentRow:
    kind, status = _effective(agent, llm)
    return AgentRow(
        id=agent.id,
        name=agent.name,
        description=agent.description,
        llm_id=llm.id,
        llm_name=llm.name,
        llm_type=llm.type,
        llm_model=llm.model,
        kind=kind,
        status=status,
        project_name=project,
        default_personality_id=agent.default_personality_id,
        default_params=dict(agent.default_params or {}),
    )


async def list_agent_rows(s: AsyncSession) -> list[AgentRow]:
    rows = (await s.execute(_agent_query().order_by(Agent.name))).tuples().all()
    return [_row(a, llm, p) for a, llm, p in rows]


async def get_agent_row(s: AsyncSession, agent_id: int) -> AgentRow | None:
    row = (await s.execute(_agent_query().where(Agent.id == agent_id))).tuples().first()
    return _row(*row) if row else None


async def agent_liveness(s: AsyncSession) -> dict[int, tuple[LlmKind, LlmStatus]]:
    """Kind and status of every agent: the light query the UI polls for virtual LLMs."""
    q = select(Agent.id, Agent.kind, Agent.status, Llm.kind, Llm.status).join(
        Llm, Llm.id == Agent.llm_id
    )
    out: dict[int, tuple[LlmKind, LlmStatus]] = {}
    for aid, akind, astatus, lkind, lstatus in (await s.execute(q)).tuples():
        kind = LlmKind.VIRTUAL if LlmKind.VIRTUAL in (akind, lkind) else LlmKind.PUBLIC
        if LlmStatus.INACTIVE in (astatus, lstatus):
            out[aid] = (kind, LlmStatus.INACTIVE)
        elif LlmStatus.HIBERNATING in (astatus, lstatus):
            out[aid] = (kind, LlmStatus.HIBERNATING)
        else:
            out[aid] = (kind, LlmStatus.ACTIVE)
    return out


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One stored turn as the chat view shows it."""

    id: int
    thread_id: int
    turn_index: int
    role: str
    content: str
    status: MessageStatus
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    error: str | None = None
    personality: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    created_at: datetime | None = None


def turn_row(m: ChatMessage) -> TurnRow:
    return TurnRow(
        id=m.id,
        thread_id=m.thread_id,
        turn_index=m.turn_index,
        role=m.role,
        content=m.content,
        status=m.status,
        tool_calls=m.tool_calls,
        tool_call_id=m.tool_call_id,
        error=m.error,
        personality=m.personality,
        model=m.model,
        usage=m.usage,
        timing=m.timing,
        created_at=m.created_at,
    )


async def get_thread(s: AsyncSession, thread_id: int) -> ChatThread | None:
    return await s.get(ChatThread, thread_id)


async def count_agents(s: AsyncSession) -> int:
    return int((await s.execute(select(func.count()).select_from(Agent))).scalar_one())


async def count_llms(s: AsyncSession) -> int:
    return int((await s.execute(select(func.count()).select_from(Llm))).scalar_one())


async def thread_size(s: AsyncSession, thread_id: int) -> int:
    q = select(func.count()).select_from(ChatMessage).where(ChatMessage.thread_id == thread_id)
    return int((await s.execute(q)).scalar_one())


async def rename_thread(store: Store, thread_id: int, title: str) -> None:
    async with store.transaction() as s:
        thread = await s.get(ChatThread, thread_id)
        if thread is None:
            raise NotFound("thread", thread_id)
        thread.title = title


@dataclass(frozen=True, slots=True)
class ThreadHit:
    id: int
    title: str
    agent_id: int
    agent_name: str


async def search_threads(s: AsyncSession, text: str, *, limit: int = 20) -> list[ThreadHit]:
    """Threads whose title contains ``text`` (case-insensitive), newest first."""
    q = (
        select(ChatThread.id, ChatThread.title, Agent.id, Agent.name)
        .join(Agent, Agent.id == ChatThread.agent_id)
        .order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc())
        .limit(limit)
    )
    if text:
        q = q.where(ChatThread.title.ilike(f"%{text}%"))
    return [ThreadHit(*row) for row in (await s.execute(q)).tuples()]
