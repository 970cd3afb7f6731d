"""Queries the chat engine needs on its time-to-first-token path, and its few writes.

Kept in a module of its own (next to ``queries``) so the chat branch adds SQL without
touching the shared query module. ``load_chat_rows`` gathers everything ``prepare_context``
needs in four round trips: agent+LLM+thread, personalities, candidate prompts with their
bindings, thread history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    PersonalityPrompt,
    Prompt,
)
from mcpctl_tui.store.types import utcnow


@dataclass(frozen=True, slots=True)
class BoundPrompt:
    """A candidate prompt and, when it has one, its binding to one of the agent's personalities.

    A prompt bound to several personalities of the agent appears once per binding.
    """

    prompt: Prompt
    personality_id: int | None
    binding_priority: int | None


@dataclass(frozen=True, slots=True)
class ChatRows:
    agent: Agent
    llm: Llm
    thread: ChatThread | None
    personalities: list[Personality]
    prompts: list[BoundPrompt]
    messages: list[ChatMessage]


async def load_chat_rows(
    s: AsyncSession, agent: int | str, thread_id: int | None, *, with_history: bool = True
) -> ChatRows:
    """The agent (by id or name), its LLM, the thread (must belong to the agent), the agent's
    personalities, every prompt that can reach its system block, and the thread's turns.

    Prompts returned: the agent's own, its project's, and any prompt bound to one of its
    personalities (global and foreign-scoped ones reach an agent only through a binding).
    """
    agent_cond = Agent.id == agent if isinstance(agent, int) else Agent.name == agent
    q = select(Agent, Llm).join(Llm, Llm.id == Agent.llm_id).where(agent_cond)
    if thread_id is not None:
        q = q.add_columns(ChatThread).outerjoin(
            ChatThread, and_(ChatThread.id == thread_id, ChatThread.agent_id == Agent.id)
        )
    row = (await s.execute(q)).first()
    if row is None:
        raise NotFound("agent", agent)
    agent_row: Agent = row[0]
    llm_row: Llm = row[1]
    thread: ChatThread | None = row[2] if thread_id is not None else None
    if thread_id is not None and thread is None:
        raise NotFound("thread", f"{thread_id} of agent {agent_row.name}")

    personalities = list(
        (
            await s.execute(
                select(Personality)
                .where(Personality.agent_id == agent_row.id)
                .order_by(Personality.priority.desc(), Personality.name)
            )
        )
        .scalars()
        .all()
    )

    agents_personalities = select(Personality.id).where(Personality.agent_id == agent_row.id)
    bound_to_agent = select(PersonalityPrompt.prompt_id).where(
        PersonalityPrompt.personality_id.in_(agents_personalities)
    )
    scope = [Prompt.agent_id == agent_row.id, Prompt.id.in_(bound_to_agent)]
    if agent_row.project_id is not None:
        scope.append(and_(Prompt.project_id == agent_row.project_id, Prompt.agent_id.is_(None)))
    pq = (
        select(Prompt, PersonalityPrompt.personality_id, PersonalityPrompt.priority)
        .outerjoin(
            PersonalityPrompt,
            and_(
                PersonalityPrompt.prompt_id == Prompt.id,
                PersonalityPrompt.personality_id.in_(agents_personalities),
            ),
        )
        .where(or_(*scope))
    )
    prompts = [BoundPrompt(p, pid, prio) for p, pid, prio in (await s.execute(pq)).tuples()]

    messages: list[ChatMessage] = []
    if thread is not None and with_history:
        messages = list(
            (
                await s.execute(
                    select(ChatMessage)
                    .where(ChatMessage.thread_id == thread.id)
                    .order_by(ChatMessage.turn_index)
                )
            )
            .scalars()
            .all()
        )
    return ChatRows(agent_row, llm_row, thread, personalities, prompts, messages)


async def delete_turns_after(store: Store, thread_id: int, turn_index: int) -> list[int]:
    """Delete the turns after ``turn_index`` (regenerate replaces them); their ids, in order."""
    async with store.transaction() as s:
        ids = list(
            (
                await s.execute(
                    select(ChatMessage.id)
                    .where(ChatMessage.thread_id == thread_id, ChatMessage.turn_index > turn_index)
                    .order_by(ChatMessage.turn_index)
                )
            )
            .scalars()
            .all()
        )
        if ids:
            await s.execute(delete(ChatMessage).where(ChatMessage.id.in_(ids)))
    return ids


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
