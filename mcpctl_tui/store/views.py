"""Reads the screens need beyond ``store.queries``: the agent line with its effective
status, the light liveness poll, a thread's size, and title search for the palette.

The UI calls these and never builds a query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.store.liveness import is_live
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread, Llm
from mcpctl_tui.store.queries import AgentListing, list_agent_listings
from mcpctl_tui.store.types import LlmKind, LlmStatus


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent line of the UI: the store's listing with the kind and status that matter
    for chatting (an agent on a virtual LLM is as alive as the worse of the two rows)."""

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

    @property
    def available(self) -> bool:
        return self.status == LlmStatus.ACTIVE


def effective(
    agent_kind: LlmKind,
    agent_status: LlmStatus,
    llm_kind: LlmKind,
    llm_status: LlmStatus,
    llm_heartbeat: datetime | None = None,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
) -> tuple[LlmKind, LlmStatus]:
    kind = LlmKind.VIRTUAL if LlmKind.VIRTUAL in (agent_kind, llm_kind) else LlmKind.PUBLIC
    if LlmStatus.INACTIVE in (agent_status, llm_status):
        return kind, LlmStatus.INACTIVE
    # A publisher killed outright never marks its rows inactive, and until some process
    # runs the GC they stay "active": judged as the dispatcher judges it (one rule), the
    # agent shows inactive as soon as a send would be answered "publisher offline".
    stale = llm_kind == LlmKind.VIRTUAL and llm_status == LlmStatus.ACTIVE
    if stale and not is_live(llm_status, llm_heartbeat, heartbeat_timeout):
        return kind, LlmStatus.INACTIVE
    if LlmStatus.HIBERNATING in (agent_status, llm_status):
        return kind, LlmStatus.HIBERNATING
    return kind, LlmStatus.ACTIVE


def _row(a: AgentListing, heartbeat_timeout: float) -> AgentRow:
    kind, status = effective(
        a.kind, a.status, a.llm_kind, a.llm_status, a.llm_last_heartbeat_at, heartbeat_timeout
    )
    return AgentRow(
        id=a.id,
        name=a.name,
        description=a.description,
        llm_id=a.llm_id,
        llm_name=a.llm_name,
        llm_type=a.llm_type,
        llm_model=a.llm_model,
        kind=kind,
        status=status,
        project_name=a.project_name,
        default_personality_id=a.default_personality_id,
    )


async def list_agent_rows(
    s: AsyncSession, *, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
) -> list[AgentRow]:
    return [_row(a, heartbeat_timeout) for a in await list_agent_listings(s)]


async def agent_liveness(
    s: AsyncSession, *, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
) -> dict[int, tuple[LlmKind, LlmStatus]]:
    """Kind and status of every agent: the light query the UI polls for virtual LLMs."""
    q = select(
        Agent.id, Agent.kind, Agent.status, Llm.kind, Llm.status, Llm.last_heartbeat_at
    ).join(Llm, Llm.id == Agent.llm_id)
    return {
        aid: effective(ak, ast, lk, lst, beat, heartbeat_timeout)
        for aid, ak, ast, lk, lst, beat in (await s.execute(q))
    }


async def thread_size(s: AsyncSession, thread_id: int) -> int:
    q = select(func.count()).select_from(ChatMessage).where(ChatMessage.thread_id == thread_id)
    return int((await s.execute(q)).scalar_one())


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
    return [ThreadHit(*row) for row in (await s.execute(q)).all()]
