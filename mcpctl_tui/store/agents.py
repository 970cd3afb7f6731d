"""Agents: the agent pane's listing, whether an agent can chat now, its saved params.

Rules kept here:

- A virtual row's publisher is live by the one rule of ``store/liveness.py`` (three
  missed beats of its published interval, bounded by the heartbeat timeout), so an agent
  shows inactive exactly when a send would be refused; ``AgentRow.live_until`` says when
  a live virtual agent stops being live if its provider falls silent.
- An agent is as alive as the worse of its own row and its LLM's (``effective``), and
  as virtual as either.
- The listing is one joined query (agent, LLM, project, default personality), returning
  dataclasses; a read by name returns the ORM row, or None.
- ``default_params`` is replaced as a whole dict, never edited in place (plain JSON
  columns do not track mutation); a ``None`` value removes its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.liveness import live_until, row_is_live
from mcpctl_tui.store.models import Agent, Llm, Personality, Project
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow

# --- agent rows and the listing ---------------------------------------------------------


async def get_agent_by_name(s: AsyncSession, name: str) -> Agent | None:
    return (await s.execute(select(Agent).where(Agent.name == name))).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class AgentListing:
    """One line of the agent pane: the agent with its LLM and project, from one query."""

    id: int
    name: str
    description: str
    kind: LlmKind
    status: LlmStatus
    llm_id: int
    llm_name: str
    llm_type: str
    llm_model: str
    llm_kind: LlmKind
    llm_status: LlmStatus
    project_id: int | None
    project_name: str | None
    default_personality_id: int | None
    default_personality_name: str | None
    llm_last_heartbeat_at: datetime | None  # a virtual LLM's publisher was last heard then
    llm_heartbeat_interval: float | None  # ... and beats this often (None: not published)


_DEFAULT_PERSONALITY = aliased(Personality)
_AGENT_LISTING = (
    select(
        Agent.id,
        Agent.name,
        Agent.description,
        Agent.kind,
        Agent.status,
        Llm.id,
        Llm.name,
        Llm.type,
        Llm.model,
        Llm.kind,
        Llm.status,
        Agent.project_id,
        Project.name,
        Agent.default_personality_id,
        _DEFAULT_PERSONALITY.name,
        Llm.last_heartbeat_at,
        Llm.heartbeat_interval,
    )
    .join(Llm, Llm.id == Agent.llm_id)
    .outerjoin(Project, Project.id == Agent.project_id)
    .outerjoin(_DEFAULT_PERSONALITY, _DEFAULT_PERSONALITY.id == Agent.default_personality_id)
)


def _listing(row: Any) -> AgentListing:
    return AgentListing(*row)


async def list_agent_listings(
    s: AsyncSession, *, project_id: int | None = None
) -> list[AgentListing]:
    """Every agent (optionally of one project) with its LLM and project, by name."""
    q = _AGENT_LISTING.order_by(Agent.name)
    if project_id is not None:
        q = q.where(Agent.project_id == project_id)
    return [_listing(row) for row in await s.execute(q)]


# --- the UI's agent line ----------------------------------------------------------------


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
    # A live virtual agent's provider counts as gone from then on unless heard again
    # (not compared: a heartbeat alone does not make the row a different one to redraw).
    live_until: datetime | None = field(default=None, compare=False)

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
    heartbeat_interval: float | None = None,
) -> tuple[LlmKind, LlmStatus]:
    kind = LlmKind.VIRTUAL if LlmKind.VIRTUAL in (agent_kind, llm_kind) else LlmKind.PUBLIC
    if LlmStatus.INACTIVE in (agent_status, llm_status):
        return kind, LlmStatus.INACTIVE
    # A publisher killed outright never marks its rows inactive, and until some process
    # runs the GC they stay "active": judged as the dispatcher judges it (one rule), the
    # agent shows inactive as soon as a send would be answered "publisher offline".
    stale = llm_kind == LlmKind.VIRTUAL and llm_status == LlmStatus.ACTIVE
    if stale and not row_is_live(
        llm_status, llm_heartbeat, interval=heartbeat_interval, timeout=heartbeat_timeout
    ):
        return kind, LlmStatus.INACTIVE
    if LlmStatus.HIBERNATING in (agent_status, llm_status):
        return kind, LlmStatus.HIBERNATING
    return kind, LlmStatus.ACTIVE


def _row(a: AgentListing, heartbeat_timeout: float) -> AgentRow:
    beat, interval = a.llm_last_heartbeat_at, a.llm_heartbeat_interval
    kind, status = effective(
        a.kind, a.status, a.llm_kind, a.llm_status, beat, heartbeat_timeout, interval
    )
    watched = status == LlmStatus.ACTIVE and a.llm_kind == LlmKind.VIRTUAL
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
        live_until=live_until(beat, interval=interval, timeout=heartbeat_timeout)
        if watched
        else None,
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
        Agent.id,
        Agent.kind,
        Agent.status,
        Llm.kind,
        Llm.status,
        Llm.last_heartbeat_at,
        Llm.heartbeat_interval,
    ).join(Llm, Llm.id == Agent.llm_id)
    return {
        aid: effective(ak, ast, lk, lst, beat, heartbeat_timeout, every)
        for aid, ak, ast, lk, lst, beat, every in (await s.execute(q))
    }


# --- writes the chat engine makes -------------------------------------------------------


async def merge_agent_default_params(
    store: Store, agent_id: int, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``params`` into agent.default_params, per key (``None`` removes a key)."""
    async with store.transaction() as s:
        agent = await s.get(Agent, agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        merged = dict(agent.default_params or {})
        for key, value in params.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        # A new dict (not an in-place edit): plain JSON columns do not track mutation.
        await s.execute(
            update(Agent)
            .where(Agent.id == agent_id)
            .values(default_params=merged, updated_at=utcnow())
        )
    return merged
