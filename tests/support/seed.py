"""Seeding the store in tests and benchmarks: one function per kind of row, one way.

The program itself writes these rows through ``store.manifest`` (operators: apply, the
editors) and ``virtual.registration`` (providers); tests and benchmarks seed with these
functions, and only these. Rules they keep:

- Each takes ``at``: the ``Store`` (the row is written in a transaction of its own) or
  the caller's session (the row joins the caller's transaction). Each returns the row,
  whose columns stay readable after the commit (the store does not expire on commit).
- Rows go in through ``store.rows.write_row``: a refusal reads as the app's
  (``Conflict``, ``Invalid``) and leaves the caller's transaction usable. A thread's
  turns go in as one INSERT (benchmarks seed threads of 10,000 turns).
- ``api_key_ref`` must be a reference (``env:NAME``, ``keyring:SERVICE/USER``); a
  literal key is refused as the app refuses it.
- A virtual LLM or agent is heard from just now (``last_heartbeat_at="now"``, the
  default): an "active" virtual row nobody heartbeats shows, and is refused, as
  offline. Pass a time (or None: never heard from) to seed any other state.
- A prompt is global, project-scoped or agent-direct, never in a project and an agent.
- The defaults make a row a chat can use without a network: LLM ``llm`` of type
  ``echo``; ``add_llm_agent`` writes an LLM and one agent on it in one go.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.secrets import KeyRefError, validate_key_ref
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.rows import write_row
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, Prices, utcnow

Target = Store | AsyncSession
Heartbeat = datetime | None | Literal["now"]


@asynccontextmanager
async def _session(at: Target) -> AsyncIterator[AsyncSession]:
    if isinstance(at, AsyncSession):
        yield at
    else:
        async with at.transaction() as s:
            yield s


def key_ref(ref: str | None) -> str | None:
    """A key reference as stored (``""`` is none); a literal key is ``Invalid``."""
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


def _heard(kind: LlmKind | str, last_heartbeat_at: Heartbeat, now: datetime) -> datetime | None:
    if last_heartbeat_at == "now":
        return now if kind == LlmKind.VIRTUAL else None
    return last_heartbeat_at


async def add_llm(
    at: Target,
    name: str = "llm",
    *,
    type: str = "echo",
    model: str = "",
    url: str = "",
    api_key_ref: str | None = None,
    tier: str | None = None,
    description: str = "",
    kind: LlmKind = LlmKind.PUBLIC,
    provider_session_id: str | None = None,
    status: LlmStatus = LlmStatus.ACTIVE,
    last_heartbeat_at: Heartbeat = "now",
    inactive_since: datetime | None = None,
    heartbeat_interval: float | None = None,
    prices: Prices | None = None,
) -> Llm:
    """A new LLM row (public by default; ``kind=VIRTUAL`` for a provider's)."""
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
        last_heartbeat_at=_heard(kind, last_heartbeat_at, now),
        inactive_since=inactive_since,
        heartbeat_interval=heartbeat_interval,
        price_input=prices.input if prices else None,
        price_output=prices.output if prices else None,
        price_currency=prices.currency if prices else None,
        created_at=now,
        updated_at=now,
    )
    async with _session(at) as s:
        return await write_row(s, row, f"llm {name}", f"llm {name} already exists")


async def add_project(at: Target, name: str = "proj", *, description: str = "") -> Project:
    row = Project(name=name, description=description, created_at=utcnow())
    async with _session(at) as s:
        return await write_row(s, row, f"project {name}", f"project {name} already exists")


async def add_agent(
    at: Target,
    name: str,
    llm_id: int,
    *,
    description: str = "",
    system_prompt: str = "",
    project_id: int | None = None,
    default_params: Mapping[str, Any] | None = None,
    extras: Mapping[str, Any] | None = None,
    default_personality_id: int | None = None,
    kind: LlmKind = LlmKind.PUBLIC,
    provider_session_id: str | None = None,
    status: LlmStatus = LlmStatus.ACTIVE,
    last_heartbeat_at: Heartbeat = "now",
    inactive_since: datetime | None = None,
) -> Agent:
    """A new agent pinned to ``llm_id`` (public by default; ``kind=VIRTUAL`` for a
    provider's)."""
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
        last_heartbeat_at=_heard(kind, last_heartbeat_at, now),
        inactive_since=inactive_since,
        created_at=now,
        updated_at=now,
    )
    async with _session(at) as s:
        return await write_row(s, row, f"agent {name}", f"agent {name} already exists")


async def add_llm_agent(
    at: Target,
    *,
    llm: str = "llm",
    agent: str = "a",
    type: str = "echo",
    url: str = "",
    model: str = "",
    kind: LlmKind = LlmKind.PUBLIC,
    status: LlmStatus = LlmStatus.ACTIVE,
    **agent_fields: Any,
) -> Agent:
    """An LLM named ``llm`` and an agent ``agent`` on it, of one kind and status;
    ``agent_fields`` are ``add_agent``'s (``system_prompt``, ``default_params`` …)."""
    async with _session(at) as s:
        row = await add_llm(s, llm, type=type, url=url, model=model, kind=kind, status=status)
        return await add_agent(s, agent, row.id, kind=kind, status=status, **agent_fields)


async def set_default_personality(at: Target, agent_id: int, personality_id: int | None) -> Agent:
    """Make ``personality_id`` (one of the agent's own, or None) the agent's default."""
    async with _session(at) as s:
        agent = await s.get(Agent, agent_id)
        assert agent is not None, f"no agent {agent_id}"
        changes = {"default_personality_id": personality_id}
        return await write_row(s, agent, f"agent {agent.name}", "agent exists", changes)


async def add_prompt(
    at: Target,
    name: str,
    content: str = "",
    *,
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
    conflict = f"prompt {name} already exists {prompt_scope(project_id, agent_id)}"
    async with _session(at) as s:
        return await write_row(s, row, f"prompt {name}", conflict)


async def add_personality(
    at: Target, agent_id: int, name: str, *, description: str = "", priority: int = 0
) -> Personality:
    row = Personality(
        agent_id=agent_id,
        name=name,
        description=description,
        priority=priority,
        created_at=utcnow(),
    )
    conflict = f"personality {name} already exists for agent {agent_id}"
    async with _session(at) as s:
        return await write_row(s, row, f"personality {name}", conflict)


async def bind_prompt(
    at: Target, personality_id: int, prompt_id: int, *, priority: int | None = None
) -> PersonalityPrompt:
    """Bind a prompt to a personality (``priority`` overrides the prompt's own there)."""
    row = PersonalityPrompt(personality_id=personality_id, prompt_id=prompt_id, priority=priority)
    async with _session(at) as s:
        return await write_row(
            s,
            row,
            f"binding of prompt {prompt_id} to personality {personality_id}",
            f"prompt {prompt_id} is already bound to personality {personality_id}",
        )


async def add_thread(
    at: Target,
    agent_id: int,
    turns: Iterable[Mapping[str, Any]] = (),
    *,
    title: str = "seeded",
    created_at: datetime | None = None,
) -> ChatThread:
    """A thread of ``agent_id`` with these turns (mappings of ChatMessage columns; status
    ``complete`` unless given) at turn indexes 0, 1, … in order, each following the one
    before it unless it gives its ``parent_index``. ``created_at`` dates the
    thread and its last turn (default: now)."""
    when = created_at or utcnow()
    thread = ChatThread(agent_id=agent_id, title=title, created_at=when, last_turn_at=when)
    async with _session(at) as s:
        await write_row(s, thread, f"thread {title}", "thread exists")
        rows = [
            {
                "status": MessageStatus.COMPLETE,
                "parent_index": i - 1 if i else None,
                **turn,
                "thread_id": thread.id,
                "turn_index": i,
            }
            for i, turn in enumerate(turns)
        ]
        if rows:
            await s.execute(insert(ChatMessage), rows)
    return thread
