"""The chat engine's context read: every row ``prepare_context`` needs, in two round trips.

Rules kept here:

- The time to first token is mostly round trips to the database: the agent (by id or
  name), its LLM, the personality in effect, the thread and every candidate prompt with
  its bindings come in ONE statement, the thread's history in a second.
- A thread is read only as one of the agent's own (another agent's thread is NotFound).
- History rows are plain result rows, not ORM objects: a long thread is read on every send.
- The statements are built once per shape, with bound parameters.

It composes into the caller's transaction: ``ChatService.send`` reads the context and
stores the user turn in one (see ``store.messages.lock_thread``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Executable, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
from mcpctl_tui.store.types import MessageStatus


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
    messages: list[HistoryTurn]  # the thread's current path
    last_index: int | None = None  # the thread's last stored turn, on any branch

    @property
    def next_turn_index(self) -> int:
        """Where the next turn goes: after every stored turn, on any branch."""
        return 0 if self.last_index is None else self.last_index + 1

    @property
    def path_end(self) -> int | None:
        """The turn the next one follows: the end of the current path (None: none)."""
        return self.messages[-1].turn_index if self.messages else None


async def load_chat_rows(
    s: AsyncSession,
    agent: int | str,
    thread_id: int | None,
    personality: str | None = None,
    llm: str | None = None,
) -> ChatRows:
    """Everything ``prepare_context`` reads, in two round trips (one without a thread):

    1. the agent (by id or name), its LLM, the thread (which must belong to the agent),
       the personality in effect (``personality`` by name, else the agent's default; the
       empty name asks for none, and matches none since no personality has it), and
       every prompt that can reach the agent's system block with its bindings to the
       agent's personalities: the agent's own, its project's, and any prompt bound to one
       of its personalities (global and foreign-scoped ones reach it only that way);
    2. the turns of the thread's current path, in order.

    ``llm`` (a name) reads that LLM instead of the agent's (``NotFound`` when none has it).
    """
    q = _context_query(
        isinstance(agent, int), personality is not None, thread_id is not None, llm is not None
    )
    params: dict[str, Any] = {"agent": agent}
    if llm is not None:
        params["llm"] = llm
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
    llm_row: Llm | None = first[1]
    if llm_row is None:  # only an LLM asked for by name can be missing
        raise NotFound("llm", llm)
    chosen: Personality | None = first[2]
    thread: ChatThread | None = first[6] if len(first) > 6 else None
    last_index: int | None = first[7] if len(first) > 7 else None
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
        last_index=last_index,
    )


# The statements are built once per shape, with bound parameters: building and
# cache-keying a select of this size costs more than running it on SQLite.
_HISTORY_QUERY = (
    select(*HISTORY_COLUMNS)
    .where(ChatMessage.thread_id == bindparam("thread_id"), ChatMessage.on_path)
    .order_by(ChatMessage.turn_index)
)


@functools.cache
def _context_query(
    agent_by_id: bool, personality_by_name: bool, with_thread: bool, llm_by_name: bool = False
) -> Executable:
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
    q = select(
        Agent, Llm, Personality, Prompt, binding.personality_id, binding.priority
    ).select_from(Agent)
    if llm_by_name:  # another LLM than the agent's, to try: it may not exist (outer join)
        q = q.outerjoin(Llm, Llm.name == bindparam("llm"))
    else:
        q = q.join(Llm, Llm.id == Agent.llm_id)
    q = (
        q.outerjoin(Personality, chosen_on)
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
    last_index = (
        select(func.max(ChatMessage.turn_index))
        .where(ChatMessage.thread_id == bindparam("thread_id"))
        .scalar_subquery()
    )
    return q.add_columns(ChatThread, last_index).outerjoin(
        ChatThread,
        and_(ChatThread.id == bindparam("thread_id"), ChatThread.agent_id == Agent.id),
    )
