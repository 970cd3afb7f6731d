"""The catalog: the named rows an operator keeps (LLMs, projects, prompts, personalities,
MCP servers), read by name.

Rules kept here:

- A name finds at most one row: an LLM and a project are unique by name; a prompt by name
  within its scope (an agent, a project, or global: the scope is part of the lookup); a
  personality by name within its agent.
- A read by name returns the ORM row, or None when there is none (never raises); but an
  MCP server, named by the operator with its project or without one, is found or refused
  (``find_mcpserver``: NotFound, or Invalid when the name is in several projects).
- An agent's personalities are listed highest priority first, their names alphabetically.

The program writes these rows through ``store.manifest`` (operators) and
``virtual.registration`` (providers); deletes live in ``store.deletes``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.models import Llm, McpServer, Personality, Project, Prompt


async def get_llm_by_name(s: AsyncSession, name: str) -> Llm | None:
    return (await s.execute(select(Llm).where(Llm.name == name))).scalar_one_or_none()


async def get_project_by_name(s: AsyncSession, name: str) -> Project | None:
    return (await s.execute(select(Project).where(Project.name == name))).scalar_one_or_none()


async def get_prompt_by_name(
    s: AsyncSession, name: str, *, agent_id: int | None = None, project_id: int | None = None
) -> Prompt | None:
    """The prompt named ``name`` in exactly that scope (agent, project, or global)."""
    q = select(Prompt).where(
        Prompt.name == name,
        Prompt.agent_id.is_(None) if agent_id is None else Prompt.agent_id == agent_id,
        Prompt.project_id.is_(None) if project_id is None else Prompt.project_id == project_id,
    )
    return (await s.execute(q)).scalar_one_or_none()


async def get_personality_by_name(s: AsyncSession, agent_id: int, name: str) -> Personality | None:
    q = select(Personality).where(Personality.agent_id == agent_id, Personality.name == name)
    return (await s.execute(q)).scalar_one_or_none()


async def list_personalities(s: AsyncSession, agent_id: int) -> Sequence[Personality]:
    """An agent's personalities, highest priority first."""
    q = (
        select(Personality)
        .where(Personality.agent_id == agent_id)
        .order_by(Personality.priority.desc(), Personality.name)
    )
    return (await s.execute(q)).scalars().all()


async def personality_names(s: AsyncSession, agent_id: int) -> list[str]:
    """The names of an agent's personalities, alphabetically (for messages and completion)."""
    q = select(Personality.name).where(Personality.agent_id == agent_id).order_by(Personality.name)
    return list((await s.execute(q)).scalars().all())


async def find_mcpserver(
    s: AsyncSession, name: str, project: str | None = None
) -> tuple[McpServer, str]:
    """The MCP server ``name`` (of ``project``, needed only when the name is in several)
    and its project's name."""
    q = select(McpServer, Project.name).join(Project, Project.id == McpServer.project_id)
    q = q.where(McpServer.name == name)
    if project is not None:
        if await get_project_by_name(s, project) is None:
            raise NotFound("project", project)
        q = q.where(Project.name == project)
    found = [(row, owner) for row, owner in (await s.execute(q.order_by(Project.name))).all()]
    if not found:
        raise NotFound("mcpserver", name if project is None else f"{name} of project {project}")
    if len(found) > 1:
        projects = ", ".join(owner for _row, owner in found)
        raise Invalid(f"mcpserver {name} exists in projects {projects}; choose one with --project")
    return found[0]
