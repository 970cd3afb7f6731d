"""Deleting by id, under the database's rules, with a report of what went with it.

Every function composes into the caller's transaction (``async with store.transaction()
as s: await delete_agent(s, agent_id)``); the CLI's ``delete`` verb and the UI editors
both call these. The rules themselves live in the schema (RESTRICT, CASCADE, SET NULL):
here the delete is simply attempted inside a SAVEPOINT, and a foreign-key refusal on
either backend becomes ``InUse`` naming what still refers to the row. The savepoint keeps
the caller's transaction usable afterwards (PostgreSQL aborts a transaction on error).
Cascades are counted just before the delete, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.store.errors import Conflict, InUse, Invalid
from mcpctl_tui.store.liveness import row_is_live
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    McpServer,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.rows import get_row, violation_kind
from mcpctl_tui.store.types import LlmKind


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


@dataclass(frozen=True, slots=True)
class AgentCascade:
    """What went with an agent (personalities, its own prompts, threads and their messages)."""

    personalities: int
    prompts: int
    threads: int
    messages: int

    def __str__(self) -> str:
        return ", ".join(
            [
                _plural(self.personalities, "personality"),
                _plural(self.prompts, "prompt"),
                _plural(self.threads, "thread"),
                _plural(self.messages, "message"),
            ]
        )


@dataclass(frozen=True, slots=True)
class ProjectCascade:
    """A project takes its prompts and MCP servers with it; its agents stay, without a
    project."""

    prompts: int
    agents_detached: int
    mcp_servers: int = 0

    def __str__(self) -> str:
        servers = f", {_plural(self.mcp_servers, 'MCP server')}" if self.mcp_servers else ""
        return (
            f"{_plural(self.prompts, 'prompt')}{servers},"
            f" {_plural(self.agents_detached, 'agent')} detached"
        )


@dataclass(frozen=True, slots=True)
class PersonalityCascade:
    """Bindings that went, and agents that had it as their default (now none)."""

    bindings: int
    default_of: tuple[str, ...]

    def __str__(self) -> str:
        text = _plural(self.bindings, "prompt binding")
        if self.default_of:
            text += f"; no longer the default of {', '.join(self.default_of)}"
        return text


@dataclass(frozen=True, slots=True)
class PromptCascade:
    """Personality bindings of the prompt that went with it."""

    bindings: int

    def __str__(self) -> str:
        return _plural(self.bindings, "personality binding")


_Row = TypeVar("_Row", Llm, Agent, Project, Personality, Prompt, ChatThread, McpServer)
_Named = TypeVar("_Named", Llm, Agent, Project, Personality, Prompt, McpServer)


async def _count(s: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Rows matching ``where`` (counted just before the delete takes them)."""
    return int((await s.execute(select(func.count()).where(*where))).scalar_one())


async def _attempt(s: AsyncSession, row: _Row) -> IntegrityError | None:
    """Delete ``row`` in a savepoint; the FK error if the database refused it."""
    model = type(row)
    try:
        async with s.begin_nested():
            await s.execute(delete(model).where(model.id == row.id))
    except IntegrityError as exc:
        return exc
    s.expunge(row)
    return None


async def _delete(s: AsyncSession, label: str, row: _Named) -> None:
    """Delete ``row``; a refusal nothing explains more precisely is a ``Conflict``."""
    refused = await _attempt(s, row)
    if refused is not None:  # nothing RESTRICTs these rows today; a later table might
        raise Conflict(f"{label} {row.name} is still referenced and cannot be deleted") from refused


async def _refuse_live_virtual(
    s: AsyncSession, kind: str, row: Llm | Agent, heartbeat_timeout: float
) -> None:
    """A virtual row belongs to its provider session while that session is live; once it
    is inactive (or hibernating, or silent past the timeout) anyone may delete it. The
    lifecycle columns are read again under a row lock (PostgreSQL; SQLite's BEGIN
    IMMEDIATE already holds the writer lock) so a heartbeat landing meanwhile either
    waits for the delete or is seen by it."""
    if row.kind != LlmKind.VIRTUAL:
        return
    model = type(row)
    status, last, interval = (
        await s.execute(
            select(model.status, model.last_heartbeat_at, model.heartbeat_interval)
            .where(model.id == row.id)
            .with_for_update()
        )
    ).one()
    if row_is_live(status, last, interval=interval, timeout=heartbeat_timeout):
        raise Invalid(
            f"{kind} {row.name} is virtual, served by live provider session "
            f"{row.provider_session_id or '(none)'}; it goes when that session ends "
            "(or the GC sweeps it), or delete it once it is inactive"
        )


async def delete_llm(
    s: AsyncSession,
    llm_id: int,
    *,
    allow_virtual: bool = False,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
) -> None:
    """Delete an LLM; ``InUse`` naming the agents pinned to it (agent.llm_id RESTRICT).

    A virtual LLM whose provider session is live (``store.liveness`` with
    ``heartbeat_timeout``) is refused, naming the session; ``allow_virtual`` skips that
    check (the GC)."""
    llm = await get_row(s, Llm, "llm", llm_id)
    if not allow_virtual:
        await _refuse_live_virtual(s, "llm", llm, heartbeat_timeout)
    refused = await _attempt(s, llm)
    if refused is None:
        return
    users = list(
        (await s.execute(select(Agent.name).where(Agent.llm_id == llm_id).order_by(Agent.name)))
        .scalars()
        .all()
    )
    if users and violation_kind(refused) == "foreign_key":
        raise InUse("llm", llm.name, "agent", users)
    raise Conflict(f"llm {llm.name} is still referenced and cannot be deleted") from refused


async def delete_agent(
    s: AsyncSession,
    agent_id: int,
    *,
    allow_virtual: bool = False,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
) -> AgentCascade:
    """Delete an agent and (by the schema's CASCADE) its personalities, agent-direct
    prompts, threads and their messages; returns how many of each went. A virtual agent
    of a live provider session is refused as in ``delete_llm``."""
    agent = await get_row(s, Agent, "agent", agent_id)
    if not allow_virtual:
        await _refuse_live_virtual(s, "agent", agent, heartbeat_timeout)
    threads = select(ChatThread.id).where(ChatThread.agent_id == agent_id)
    cascade = AgentCascade(
        personalities=await _count(s, Personality.agent_id == agent_id),
        prompts=await _count(s, Prompt.agent_id == agent_id),
        threads=await _count(s, ChatThread.agent_id == agent_id),
        messages=await _count(s, ChatMessage.thread_id.in_(threads)),
    )
    await _delete(s, "agent", agent)
    return cascade


async def delete_project(s: AsyncSession, project_id: int) -> ProjectCascade:
    """Delete a project: its prompts and MCP servers go (CASCADE), its agents stay
    without one (SET NULL)."""
    project = await get_row(s, Project, "project", project_id)
    cascade = ProjectCascade(
        prompts=await _count(s, Prompt.project_id == project_id),
        agents_detached=await _count(s, Agent.project_id == project_id),
        mcp_servers=await _count(s, McpServer.project_id == project_id),
    )
    await _delete(s, "project", project)
    return cascade


async def delete_personality(s: AsyncSession, personality_id: int) -> PersonalityCascade:
    """Delete a personality; agents that had it as default fall back to none (SET NULL)."""
    personality = await get_row(s, Personality, "personality", personality_id)
    defaulted = (
        await s.execute(
            select(Agent.id, Agent.name)
            .where(Agent.default_personality_id == personality_id)
            .order_by(Agent.name)
        )
    ).all()
    bindings = await _count(s, PersonalityPrompt.personality_id == personality_id)
    await _delete(s, "personality", personality)
    # Agents loaded in this session still hold the old id; the database has cleared it.
    for agent_id, _name in defaulted:
        agent = await s.get(Agent, agent_id)
        if agent is not None:
            await s.refresh(agent, ["default_personality_id"])
    default_of = tuple(name for _id, name in defaulted)
    return PersonalityCascade(bindings=bindings, default_of=default_of)


async def delete_prompt(s: AsyncSession, prompt_id: int) -> PromptCascade:
    """Delete a prompt; its personality bindings go with it (CASCADE)."""
    prompt = await get_row(s, Prompt, "prompt", prompt_id)
    bindings = await _count(s, PersonalityPrompt.prompt_id == prompt_id)
    await _delete(s, "prompt", prompt)
    return PromptCascade(bindings=bindings)


async def delete_mcpserver(s: AsyncSession, server_id: int) -> None:
    """Delete an MCP server of a project (agents naming its tools then have none of it)."""
    await _delete(s, "mcpserver", await get_row(s, McpServer, "mcpserver", server_id))


async def delete_thread(s: AsyncSession, thread_id: int) -> int:
    """Delete a chat thread; returns how many messages went with it (CASCADE)."""
    thread = await get_row(s, ChatThread, "thread", thread_id)
    messages = await _count(s, ChatMessage.thread_id == thread_id)
    await s.execute(delete(ChatThread).where(ChatThread.id == thread_id))
    s.expunge(thread)
    return messages
