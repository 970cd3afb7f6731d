"""Deleting by kind and name, as the command line names objects.

Names are resolved here; the deletes themselves (rules, cascade counts) are the id-based
functions of ``store.deletes``, which the UI editors call directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.catalog import (
    find_mcpserver,
    get_llm_by_name,
    get_personality_by_name,
    get_project_by_name,
    get_prompt_by_name,
)
from mcpctl_tui.store.deletes import (
    delete_agent,
    delete_llm,
    delete_mcpserver,
    delete_personality,
    delete_project,
    delete_prompt,
)
from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.manifest.documents import Kind
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.store.models import Agent, Project


@dataclass(frozen=True, slots=True)
class Deleted:
    """``agent/helper deleted (1 personality, 2 prompts, 3 threads, 9 messages)``."""

    label: str
    cascade: str = ""

    def __str__(self) -> str:
        return f"{self.label} deleted" + (f" ({self.cascade})" if self.cascade else "")


async def delete_named(
    s: AsyncSession,
    kind: Kind,
    name: str,
    *,
    agent: str | None = None,
    project: str | None = None,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
) -> Deleted:
    """Delete one object named as on the command line, in the caller's transaction.

    A personality is named with its ``agent`` (optional when the name is unique); a
    prompt with its ``agent`` or ``project``, or neither for the global one; an MCP server
    with its ``project`` (optional when the name is unique). Raises
    NotFound, InUse (an llm still used by agents), or Invalid (an ambiguous name, a
    virtual row whose provider session is live within ``heartbeat_timeout``; an
    inactive virtual row may be deleted).
    """
    if kind is Kind.LLM:
        llm = await get_llm_by_name(s, name)
        if llm is None:
            raise NotFound("llm", name)
        await delete_llm(s, llm.id, heartbeat_timeout=heartbeat_timeout)
        return Deleted(f"llm/{name}")
    if kind is Kind.PROJECT:
        project_row = await _need_project(s, name)
        return Deleted(f"project/{name}", str(await delete_project(s, project_row.id)))
    if kind is Kind.AGENT:
        agent_row = await _need_agent(s, name)
        cascade = await delete_agent(s, agent_row.id, heartbeat_timeout=heartbeat_timeout)
        return Deleted(f"agent/{name}", str(cascade))
    if kind is Kind.PERSONALITY:
        return await _delete_personality(s, name, agent)
    if kind is Kind.MCPSERVER:
        return await _delete_mcpserver(s, name, project)
    return await _delete_prompt(s, name, agent, project)


async def _delete_mcpserver(s: AsyncSession, name: str, project: str | None) -> Deleted:
    server, owner = await find_mcpserver(s, name, project)
    await delete_mcpserver(s, server.id)
    return Deleted(f"mcpserver/{name} (project {owner})")


async def _need_agent(s: AsyncSession, name: str) -> Agent:
    row = await get_agent_by_name(s, name)
    if row is None:
        raise NotFound("agent", name)
    return row


async def _need_project(s: AsyncSession, name: str) -> Project:
    row = await get_project_by_name(s, name)
    if row is None:
        raise NotFound("project", name)
    return row


async def _delete_personality(s: AsyncSession, name: str, agent: str | None) -> Deleted:
    if agent is None:
        owners = [e.document["agent"] for e in await get_objects(s, Kind.PERSONALITY, name)]
        if len(owners) > 1:
            raise Invalid(
                f"personality {name} exists for agents {', '.join(owners)}; choose one with --agent"
            )
        agent = owners[0]
    owner = await _need_agent(s, agent)
    personality = await get_personality_by_name(s, owner.id, name)
    if personality is None:
        raise NotFound("personality", f"{name} of agent {agent}")
    cascade = await delete_personality(s, personality.id)
    return Deleted(f"personality/{name} (agent {agent})", str(cascade))


async def _delete_prompt(
    s: AsyncSession, name: str, agent: str | None, project: str | None
) -> Deleted:
    if agent is not None:
        prompt = await get_prompt_by_name(s, name, agent_id=(await _need_agent(s, agent)).id)
        scope = f"agent {agent}"
    elif project is not None:
        prompt = await get_prompt_by_name(s, name, project_id=(await _need_project(s, project)).id)
        scope = f"project {project}"
    else:
        prompt = await get_prompt_by_name(s, name)
        scope = "global"
        if prompt is None:
            scopes = [e.facts["scope"] for e in await get_objects(s, Kind.PROMPT, name)]
            raise Invalid(
                f"prompt {name} is not a global prompt; it exists for "
                f"{', '.join(scopes)}: choose one with --agent or --project"
            )
    if prompt is None:
        raise NotFound("prompt", f"{name} of {scope}")
    cascade = await delete_prompt(s, prompt.id)
    shown = "" if scope == "global" else f" ({scope})"
    return Deleted(f"prompt/{name}{shown}", str(cascade))
