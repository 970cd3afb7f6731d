"""Seeding the store in tests: create the catalog's rows and agents, bind prompts.

The program itself writes these rows through ``store.manifest`` (operators: apply, the
editors) and ``virtual.registration`` (providers); tests and benchmarks seed with these
functions. They write through ``store.rows.write_row``, so a refusal reads as the app's
(``Conflict``, ``Invalid``) and leaves the caller's transaction usable. Each takes the
caller's session and composes into its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.secrets import KeyRefError, validate_key_ref
from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.models import Agent, Llm, Personality, PersonalityPrompt, Project, Prompt
from mcpctl_tui.store.rows import write_row
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow


def key_ref(ref: str | None) -> str | None:
    if ref is None or ref == "":
        return None
    try:
        return validate_key_ref(ref)
    except KeyRefError as exc:
        raise Invalid(str(exc)) from None


def prompt_scope(project_id: int | None, agent_id: int | None) -> str:
    if agent_id is not None:
        return f"for agent {agent_id}"
    if project_id is not None:
        return f"in project {project_id}"
    return "as a global prompt"


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
        api_key_ref=key_ref(api_key_ref),
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


async def create_project(s: AsyncSession, *, name: str, description: str = "") -> Project:
    row = Project(name=name, description=description, created_at=utcnow())
    return await write_row(s, row, f"project {name}", f"project {name} already exists")


async def create_agent(
    s: AsyncSession,
    *,
    name: str,
    llm_id: int,
    description: str = "",
    system_prompt: str = "",
    project_id: int | None = None,
    default_params: dict[str, Any] | None = None,
    extras: dict[str, Any] | None = None,
    default_personality_id: int | None = None,
    kind: LlmKind = LlmKind.PUBLIC,
    provider_session_id: str | None = None,
    status: LlmStatus = LlmStatus.ACTIVE,
) -> Agent:
    now = utcnow()
    row = Agent(
        name=name,
        llm_id=llm_id,
        description=description,
        system_prompt=system_prompt,
        project_id=project_id,
        default_params=dict(default_params or {}),
        extras=dict(extras or {}),
        default_personality_id=default_personality_id,
        kind=kind,
        provider_session_id=provider_session_id,
        status=status,
        last_heartbeat_at=now if kind == LlmKind.VIRTUAL else None,
        created_at=now,
        updated_at=now,
    )
    return await write_row(s, row, f"agent {name}", f"agent {name} already exists")


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
        f"prompt {name} already exists {prompt_scope(project_id, agent_id)}",
    )


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
