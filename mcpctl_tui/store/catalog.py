"""The catalog: the named rows an operator keeps (LLMs, projects, prompts, personalities)
and the bindings of prompts to personalities.

Rules kept here:

- Names are unique where the data model says so: an LLM and a project by name; a prompt by
  name within its scope (an agent, a project, or global); a personality by name within its
  agent; a prompt is bound to a personality at most once.
- A prompt belongs to a project or to an agent, never both (none: a global prompt).
- An LLM's ``api_key_ref`` is a reference (``env:…``, ``keyring:…``), never a key.
- Writes run through ``rows.write_row``: a refusal reads as ``Conflict``/``Invalid`` and
  leaves the caller's transaction usable. Single-table reads return the ORM rows; a read
  by id raises ``NotFound``, a read by name returns None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.secrets import KeyRefError, validate_key_ref
from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.models import Llm, Personality, PersonalityPrompt, Project, Prompt
from mcpctl_tui.store.rows import get_row, write_row
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow


def _key_ref(ref: str | None) -> str | None:
    if ref is None or ref == "":
        return None
    try:
        return validate_key_ref(ref)
    except KeyRefError as exc:
        raise Invalid(str(exc)) from None


# --- llm --------------------------------------------------------------------------------


async def create_llm(
    s: AsyncSession,
    *,
    name: str,
    type: str,
    model: str = "",
    url: str = "",
    api_key_ref: str | None = None,
    tier: str | None = None,
    description: str = "",
    kind: LlmKind = LlmKind.PUBLIC,
    provider_session_id: str | None = None,
    status: LlmStatus = LlmStatus.ACTIVE,
) -> Llm:
    """A new LLM row. ``api_key_ref`` must be a reference (``env:…``, ``keyring:…``)."""
    now = utcnow()
    row = Llm(
        name=name,
        type=type,
        model=model,
        url=url,
        api_key_ref=_key_ref(api_key_ref),
        tier=tier,
        description=description,
        kind=kind,
        provider_session_id=provider_session_id,
        status=status,
        last_heartbeat_at=now if kind == LlmKind.VIRTUAL else None,
        created_at=now,
        updated_at=now,
    )
    return await write_row(s, row, f"llm {name}", f"llm {name} already exists")


async def get_llm(s: AsyncSession, llm_id: int) -> Llm:
    return await get_row(s, Llm, "llm", llm_id)


async def get_llm_by_name(s: AsyncSession, name: str) -> Llm | None:
    return (await s.execute(select(Llm).where(Llm.name == name))).scalar_one_or_none()


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
        fields["api_key_ref"] = _key_ref(fields["api_key_ref"])
    name = fields.get("name", row.name)
    return await write_row(s, row, f"llm {name}", f"llm {name} already exists", fields)


# --- project ----------------------------------------------------------------------------


async def create_project(s: AsyncSession, *, name: str, description: str = "") -> Project:
    row = Project(name=name, description=description, created_at=utcnow())
    return await write_row(s, row, f"project {name}", f"project {name} already exists")


async def get_project(s: AsyncSession, project_id: int) -> Project:
    return await get_row(s, Project, "project", project_id)


async def get_project_by_name(s: AsyncSession, name: str) -> Project | None:
    return (await s.execute(select(Project).where(Project.name == name))).scalar_one_or_none()


async def list_projects(s: AsyncSession) -> Sequence[Project]:
    return (await s.execute(select(Project).order_by(Project.name))).scalars().all()


async def update_project(s: AsyncSession, project_id: int, **fields: Any) -> Project:
    row = await get_project(s, project_id)
    name = fields.get("name", row.name)
    return await write_row(s, row, f"project {name}", f"project {name} already exists", fields)


# --- prompt -----------------------------------------------------------------------------


def _prompt_scope(project_id: int | None, agent_id: int | None) -> str:
    if agent_id is not None:
        return f"for agent {agent_id}"
    if project_id is not None:
        return f"in project {project_id}"
    return "as a global prompt"


async def create_prompt(
    s: AsyncSession,
    *,
    name: str,
    content: str = "",
    priority: int = 0,
    project_id: int | None = None,
    agent_id: int | None = None,
) -> Prompt:
    """A global (no scope), project-scoped or agent-direct prompt; never both scopes."""
    if project_id is not None and agent_id is not None:
        raise Invalid(f"prompt {name}: a prompt belongs to a project or to an agent, not both")
    row = Prompt(
        name=name,
        content=content,
        priority=priority,
        project_id=project_id,
        agent_id=agent_id,
        created_at=utcnow(),
    )
    return await write_row(
        s,
        row,
        f"prompt {name}",
        f"prompt {name} already exists {_prompt_scope(project_id, agent_id)}",
    )


async def get_prompt(s: AsyncSession, prompt_id: int) -> Prompt:
    return await get_row(s, Prompt, "prompt", prompt_id)


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


async def list_prompts(
    s: AsyncSession,
    *,
    agent_id: int | None = None,
    project_id: int | None = None,
    global_only: bool = False,
) -> Sequence[Prompt]:
    """Prompts, highest priority first; filtered to an agent, a project, or global ones."""
    q = select(Prompt).order_by(Prompt.priority.desc(), Prompt.name, Prompt.id)
    if agent_id is not None:
        q = q.where(Prompt.agent_id == agent_id)
    if project_id is not None:
        q = q.where(Prompt.project_id == project_id)
    if global_only:
        q = q.where(Prompt.agent_id.is_(None), Prompt.project_id.is_(None))
    return (await s.execute(q)).scalars().all()


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
        f"prompt {name} already exists {_prompt_scope(project_id, agent_id)}",
        fields,
    )


# --- personality ------------------------------------------------------------------------


async def create_personality(
    s: AsyncSession, *, agent_id: int, name: str, description: str = "", priority: int = 0
) -> Personality:
    row = Personality(
        agent_id=agent_id,
        name=name,
        description=description,
        priority=priority,
        created_at=utcnow(),
    )
    return await write_row(
        s, row, f"personality {name}", f"personality {name} already exists for agent {agent_id}"
    )


async def get_personality(s: AsyncSession, personality_id: int) -> Personality:
    return await get_row(s, Personality, "personality", personality_id)


async def get_personality_by_name(s: AsyncSession, agent_id: int, name: str) -> Personality | None:
    q = select(Personality).where(Personality.agent_id == agent_id, Personality.name == name)
    return (await s.execute(q)).scalar_one_or_none()


async def list_personalities(s: AsyncSession, agent_id: int) -> Sequence[Personality]:
    q = (
        select(Personality)
        .where(Personality.agent_id == agent_id)
        .order_by(Personality.priority.desc(), Personality.name)
    )
    return (await s.execute(q)).scalars().all()


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


async def personality_names(s: AsyncSession, agent_id: int) -> list[str]:
    """The names of an agent's personalities, alphabetically (for messages and completion)."""
    q = select(Personality.name).where(Personality.agent_id == agent_id).order_by(Personality.name)
    return list((await s.execute(q)).scalars().all())


# --- personality <-> prompt bindings ----------------------------------------------------


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


async def bind_prompt(
    s: AsyncSession, personality_id: int, prompt_id: int, *, priority: int | None = None
) -> PersonalityPrompt:
    """Bind a prompt to a personality (``priority`` overrides the prompt's own there)."""
    row = PersonalityPrompt(personality_id=personality_id, prompt_id=prompt_id, priority=priority)
    return await write_row(
        s,
        row,
        f"binding of prompt {prompt_id} to personality {personality_id}",
        f"prompt {prompt_id} is already bound to personality {personality_id}",
    )


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
