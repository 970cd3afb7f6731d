"""Reading and editing seeded rows by id in tests: get, list, update, bindings.

Only tests and benchmarks call these (the app edits through ``store.manifest``). Reads
by id raise ``NotFound``; updates go through ``store.rows.write_row`` (a refusal reads as
``Conflict``/``Invalid``, the key and timestamps are not updatable), with the same rules
the seeding functions keep (``tests.support.seed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.agents import AgentListing, list_agent_listings
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.models import Agent, Llm, Personality, PersonalityPrompt, Project, Prompt
from mcpctl_tui.store.rows import get_row, write_row
from mcpctl_tui.store.threads import ThreadSummary, list_threads
from mcpctl_tui.store.types import LlmKind, LlmStatus
from tests.support.seed import key_ref, prompt_scope


async def get_llm(s: AsyncSession, llm_id: int) -> Llm:
    return await get_row(s, Llm, "llm", llm_id)


async def list_llms(
    s: AsyncSession, *, kind: LlmKind | None = None, status: LlmStatus | None = None
) -> Sequence[Llm]:
    q = select(Llm).order_by(Llm.name)
    if kind is not None:
        q = q.where(Llm.kind == kind)
    if status is not None:
        q = q.where(Llm.status == status)
    return (await s.execute(q)).scalars().all()


async def update_llm(s: AsyncSession, llm_id: int, **fields: Any) -> Llm:
    """Change columns of an LLM (``name=``, ``model=``, ``api_key_ref=`` …)."""
    row = await get_llm(s, llm_id)
    if "api_key_ref" in fields:
        fields["api_key_ref"] = key_ref(fields["api_key_ref"])
    name = fields.get("name", row.name)
    return await write_row(s, row, f"llm {name}", f"llm {name} already exists", fields)


async def get_project(s: AsyncSession, project_id: int) -> Project:
    return await get_row(s, Project, "project", project_id)


async def list_projects(s: AsyncSession) -> Sequence[Project]:
    return (await s.execute(select(Project).order_by(Project.name))).scalars().all()


async def update_project(s: AsyncSession, project_id: int, **fields: Any) -> Project:
    row = await get_project(s, project_id)
    name = fields.get("name", row.name)
    return await write_row(s, row, f"project {name}", f"project {name} already exists", fields)


async def get_agent(s: AsyncSession, agent_id: int) -> Agent:
    return await get_row(s, Agent, "agent", agent_id)


async def list_agents(s: AsyncSession) -> Sequence[Agent]:
    return (await s.execute(select(Agent).order_by(Agent.name))).scalars().all()


async def update_agent(s: AsyncSession, agent_id: int, **fields: Any) -> Agent:
    """Change columns of an agent (``llm_id=``, ``default_personality_id=`` …).

    A default personality must be one of the agent's own personalities.
    """
    row = await get_agent(s, agent_id)
    pid = fields.get("default_personality_id")
    if pid is not None:
        owner = (
            await s.execute(select(Personality.agent_id).where(Personality.id == pid))
        ).scalar_one_or_none()
        if owner != agent_id:
            raise Invalid(f"agent {row.name}: personality {pid} is not one of its personalities")
    name = fields.get("name", row.name)
    return await write_row(s, row, f"agent {name}", f"agent {name} already exists", fields)


async def get_agent_listing(s: AsyncSession, agent_id: int) -> AgentListing:
    """The agent pane's line of one agent (``NotFound`` for an unknown id)."""
    for listing in await list_agent_listings(s):
        if listing.id == agent_id:
            return listing
    raise NotFound("agent", agent_id)


async def get_prompt(s: AsyncSession, prompt_id: int) -> Prompt:
    return await get_row(s, Prompt, "prompt", prompt_id)


async def update_prompt(s: AsyncSession, prompt_id: int, **fields: Any) -> Prompt:
    row = await get_prompt(s, prompt_id)
    name = fields.get("name", row.name)
    project_id = fields.get("project_id", row.project_id)
    agent_id = fields.get("agent_id", row.agent_id)
    if project_id is not None and agent_id is not None:
        raise Invalid(f"prompt {name}: a prompt belongs to a project or to an agent, not both")
    return await write_row(
        s,
        row,
        f"prompt {name}",
        f"prompt {name} already exists {prompt_scope(project_id, agent_id)}",
        fields,
    )


async def get_personality(s: AsyncSession, personality_id: int) -> Personality:
    return await get_row(s, Personality, "personality", personality_id)


async def update_personality(s: AsyncSession, personality_id: int, **fields: Any) -> Personality:
    row = await get_personality(s, personality_id)
    if "agent_id" in fields and fields["agent_id"] != row.agent_id:
        raise Invalid(f"personality {row.name}: cannot move to another agent")
    name = fields.get("name", row.name)
    return await write_row(
        s,
        row,
        f"personality {name}",
        f"personality {name} already exists for agent {row.agent_id}",
        fields,
    )


@dataclass(frozen=True, slots=True)
class PromptBinding:
    """A prompt bound to a personality, with the priority in effect there."""

    binding_id: int
    personality_id: int
    prompt_id: int
    name: str
    content: str
    prompt_priority: int
    priority_override: int | None
    agent_id: int | None
    project_id: int | None

    @property
    def priority(self) -> int:
        return self.prompt_priority if self.priority_override is None else self.priority_override


async def set_binding_priority(
    s: AsyncSession, personality_id: int, prompt_id: int, priority: int | None
) -> PersonalityPrompt:
    """Change (or with None, clear) a binding's priority override."""
    q = select(PersonalityPrompt).where(
        PersonalityPrompt.personality_id == personality_id,
        PersonalityPrompt.prompt_id == prompt_id,
    )
    row = (await s.execute(q)).scalar_one_or_none()
    if row is None:
        raise NotFound("binding", f"of prompt {prompt_id} to personality {personality_id}")
    return await write_row(s, row, "binding", "binding exists", {"priority": priority})


async def list_bindings(s: AsyncSession, personality_id: int) -> list[PromptBinding]:
    """A personality's prompts, in the order they are injected (priority in effect, high first)."""
    effective = func.coalesce(PersonalityPrompt.priority, Prompt.priority)
    q = (
        select(
            PersonalityPrompt.id,
            PersonalityPrompt.personality_id,
            Prompt.id,
            Prompt.name,
            Prompt.content,
            Prompt.priority,
            PersonalityPrompt.priority,
            Prompt.agent_id,
            Prompt.project_id,
        )
        .join(Prompt, Prompt.id == PersonalityPrompt.prompt_id)
        .where(PersonalityPrompt.personality_id == personality_id)
        .order_by(effective.desc(), Prompt.name, Prompt.id)
    )
    return [PromptBinding(*row) for row in await s.execute(q)]


async def threads_of(store: Store, agent_id: int) -> list[ThreadSummary]:
    """The first page (50) of the agent's threads, newest first, read in a session of its own."""
    async with store.session() as s:
        return await list_threads(s, agent_id)
