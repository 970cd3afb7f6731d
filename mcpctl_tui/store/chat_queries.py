"""Queries the chat engine needs on its time-to-first-token path, and its few writes.

Kept in a module of its own (next to ``queries``) so the chat branch adds SQL without
touching the shared query module. ``load_chat_rows`` gathers everything ``prepare_context``
needs in two round trips; ``lock_thread`` + ``insert_turns`` let ``ChatService.send``
read the context and store the user turn and the reply's placeholder in ONE transaction
(the time to first token is mostly round trips to the database).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Executable, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
from mcpctl_tui.store.queries import NewMessage
from mcpctl_tui.store.types import MessageStatus, utcnow


@dataclass(frozen=True, slots=True)
class BoundPrompt:
    """A candidate prompt and, when it has one, its binding to one of the agent's personalities.

    A prompt bound to several personalities of the agent appears once per binding.
    """

    prompt: Prompt
    personality_id: int | None
    binding_priority: int | None


class HistoryTurn(Protocol):
    """The columns of a turn that history needs (a result row of ``HISTORY_COLUMNS``)."""

    turn_index: int
    role: str
    content: str
    status: MessageStatus
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None


HISTORY_COLUMNS = (
    ChatMessage.turn_index,
    ChatMessage.role,
    ChatMessage.content,
    ChatMessage.status,
    ChatMessage.tool_calls,
    ChatMessage.tool_call_id,
)


@dataclass(frozen=True, slots=True)
class ChatRows:
    agent: Agent
    llm: Llm
    thread: ChatThread | None
    # The personality asked for by name, else the agent's default (None: none, or the
    # asked-for name does not exist: see ``personality_missing``).
    personality: Personality | None
    personality_missing: bool
    prompts: list[BoundPrompt]
    messages: list[HistoryTurn]

    @property
    def next_turn_index(self) -> int:
        return self.messages[-1].turn_index + 1 if self.messages else 0


async def load_chat_rows(
    s: AsyncSession, agent: int | str, thread_id: int | None, personality: str | None = None
) -> ChatRows:
    """Everything ``prepare_context`` reads, in two round trips (one without a thread):

    1. the agent (by id or name), its LLM, the thread (which must belong to the agent),
       the personality in effect (``personality`` by name, else the agent's default; the
       empty name asks for none, and matches none since no personality has it), and
       every prompt that can reach the agent's system block with its bindings to the
       agent's personalities: the agent's own, its project's, and any prompt bound to one
       of its personalities (global and foreign-scoped ones reach it only that way);
    2. the thread's turns in order.
    """
    q = _context_query(isinstance(agent, int), personality is not None, thread_id is not None)
    params: dict[str, Any] = {"agent": agent}
    if personality is not None:
        params["personality"] = personality
    if thread_id is not None:
        params["thread_id"] = thread_id
    # One row per (prompt, binding), or one row with no prompt; the agent, LLM, chosen
    # personality and thread repeat on each.
    rows = (await s.execute(q, params)).all()
    if not rows:
        raise NotFound("agent", agent)
    first: tuple[Any, ...] = tuple(rows[0])
    agent_row: Agent = first[0]
    llm_row: Llm = first[1]
    chosen: Personality | None = first[2]
    thread: ChatThread | None = first[6] if len(first) > 6 else None
    if thread_id is not None and thread is None:
        raise NotFound("thread", f"{thread_id} of agent {agent_row.name}")
    prompts = [BoundPrompt(r[3], r[4], r[5]) for r in rows if r[3] is not None]

    messages: list[HistoryTurn] = []
    if thread is not None:
        # Plain rows, not ORM objects: a long thread is loaded on every send.
        result = await s.execute(_HISTORY_QUERY, {"thread_id": thread.id})
        messages = cast(list[HistoryTurn], list(result.all()))
    return ChatRows(
        agent=agent_row,
        llm=llm_row,
        thread=thread,
        personality=chosen,
        personality_missing=bool(personality) and chosen is None,
        prompts=prompts,
        messages=messages,
    )


# The statements are built once per shape, with bound parameters: building and
# cache-keying a select of this size costs more than running it on SQLite.
_HISTORY_QUERY = (
    select(*HISTORY_COLUMNS)
    .where(ChatMessage.thread_id == bindparam("thread_id"))
    .order_by(ChatMessage.turn_index)
)


@functools.cache
def _context_query(agent_by_id: bool, personality_by_name: bool, with_thread: bool) -> Executable:
    agent_cond = Agent.id == bindparam("agent") if agent_by_id else Agent.name == bindparam("agent")
    if personality_by_name:
        chosen_on = and_(
            Personality.agent_id == Agent.id, Personality.name == bindparam("personality")
        )
    else:
        chosen_on = and_(
            Personality.agent_id == Agent.id, Personality.id == Agent.default_personality_id
        )
    # Subqueries correlated to the agent row of the outer query.
    theirs = aliased(Personality)
    # (explicit: auto-correlation reaches only one level, and this one is nested twice)
    agents_personalities = select(theirs.id).where(theirs.agent_id == Agent.id).correlate(Agent)
    bound_to_agent = select(PersonalityPrompt.prompt_id).where(
        PersonalityPrompt.personality_id.in_(agents_personalities)
    )
    binding = aliased(PersonalityPrompt)
    q = (
        select(Agent, Llm, Personality, Prompt, binding.personality_id, binding.priority)
        .join(Llm, Llm.id == Agent.llm_id)
        .outerjoin(Personality, chosen_on)
        .outerjoin(
            Prompt,
            or_(
                Prompt.agent_id == Agent.id,
                and_(Prompt.project_id == Agent.project_id, Prompt.agent_id.is_(None)),
                Prompt.id.in_(bound_to_agent),
            ),
        )
        .outerjoin(
            binding,
            and_(
                binding.prompt_id == Prompt.id,
                binding.personality_id.in_(agents_personalities),
            ),
        )
        .where(agent_cond)
    )
    if not with_thread:
        return q
    return q.add_columns(ChatThread).outerjoin(
        ChatThread,
        and_(ChatThread.id == bindparam("thread_id"), ChatThread.agent_id == Agent.id),
    )


async def personality_names(s: AsyncSession, agent_id: int) -> list[str]:
    q = select(Personality.name).where(Personality.agent_id == agent_id).order_by(Personality.name)
    return list((await s.execute(q)).scalars().all())


_TOUCH_THREAD = (
    update(ChatThread)  # run on the Connection: nothing to synchronise in the session
    .where(ChatThread.id == bindparam("thread_id"))
    .values(last_turn_at=bindparam("now"))
)
_INSERT_TURNS = insert(ChatMessage).returning(ChatMessage.id, sort_by_parameter_order=True)


async def lock_thread(s: AsyncSession, thread_id: int) -> bool:
    """Touch the thread (last_turn_at) first thing in a write transaction.

    On PostgreSQL this takes the thread's row lock, so appenders to one thread queue
    (``queries.append_message`` does the same); on SQLite BEGIN IMMEDIATE already has.
    False when the thread does not exist.
    """
    conn = await s.connection()
    res = await conn.execute(_TOUCH_THREAD, {"thread_id": thread_id, "now": utcnow()})
    return bool(res.rowcount)


async def insert_turns(
    s: AsyncSession, thread_id: int, first_index: int, turns: Sequence[NewMessage]
) -> list[int]:
    """Insert turns at ``first_index``, ``first_index + 1`` … in the caller's transaction
    (which holds the thread lock: see ``lock_thread``), in one statement; their ids."""
    now = utcnow()
    values = [
        {"thread_id": thread_id, "turn_index": first_index + i, "created_at": now} | m.columns()
        for i, m in enumerate(turns)
    ]
    return list((await s.execute(_INSERT_TURNS, values)).scalars().all())


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
