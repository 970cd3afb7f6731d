"""Query functions the rest of the program uses; no SQL lives outside ``store``.

Functions taking an ``AsyncSession`` compose into the caller's transaction; functions
taking a ``Store`` run their own (they need to retry or to commit at a precise point).

Writes that can break a rule (create, update, bind) run inside a SAVEPOINT, so a refusal
(``Conflict``, ``Invalid``) leaves the caller's transaction usable: PostgreSQL would
otherwise abort the whole transaction on the first error. Deletes live in
``store.deletes``. Single-table reads return the ORM rows; joined reads return dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mcpctl_tui.secrets import KeyRefError, validate_key_ref
from mcpctl_tui.store import fastread
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Conflict, Invalid, NotFound, StoreError, StoreUnavailable
from mcpctl_tui.store.fastread import ThreadSummary, Turn
from mcpctl_tui.store.models import (
    Agent,
    Base,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.text import storable
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow

M = TypeVar("M", bound=Base)

# --- rule violations -> operator errors ----------------------------------------------

_PG_CODES = {"23505": "unique", "23503": "foreign_key", "23514": "check", "23502": "not_null"}
_SQLITE_TEXT = {
    "UNIQUE constraint failed": "unique",
    "FOREIGN KEY constraint failed": "foreign_key",
    "CHECK constraint failed": "check",
    "NOT NULL constraint failed": "not_null",
}


def violation_kind(exc: IntegrityError) -> str | None:
    """unique | foreign_key | check | not_null (None if the driver says nothing we know)."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return _PG_CODES.get(str(code))
    text = str(orig)
    for needle, kind in _SQLITE_TEXT.items():
        if needle in text:
            return kind
    return None


def _is_unique_violation(exc: IntegrityError) -> bool:  # used by chat.service too
    return violation_kind(exc) == "unique"


def _refusal(exc: IntegrityError, what: str, conflict: str) -> StoreError:
    kind = violation_kind(exc)
    if kind == "unique":
        return Conflict(conflict)
    if kind == "foreign_key":
        return Invalid(f"{what}: refers to a row that does not exist")
    if kind == "check":
        return Invalid(f"{what}: a value breaks a rule of the data model")
    if kind == "not_null":
        return Invalid(f"{what}: a required field is missing")
    return Invalid(f"{what}: refused by the database")


async def _write(
    s: AsyncSession, row: M, what: str, conflict: str, changes: dict[str, Any] | None = None
) -> M:
    """Add ``row`` (or apply ``changes`` to it) and flush, in a savepoint; rule violations
    become operator errors and leave the caller's transaction usable."""
    try:
        # begin_nested flushes what is pending first, so the changes go in after it.
        async with s.begin_nested():
            if changes:
                _set_fields(row, row.__tablename__, changes)
            s.add(row)
    except IntegrityError as exc:
        raise _refusal(exc, what, conflict) from None
    return row


async def _get(s: AsyncSession, model: type[M], kind: str, row_id: int) -> M:
    row = await s.get(model, row_id)
    if row is None:
        raise NotFound(kind, row_id)
    return row


_NOT_UPDATABLE = frozenset({"id", "created_at", "updated_at"})


def _set_fields(row: Base, kind: str, fields: dict[str, Any]) -> None:
    columns = row.__table__.columns.keys()
    for key, value in fields.items():
        if key not in columns or key in _NOT_UPDATABLE:
            raise Invalid(f"{kind} has no updatable field {key!r}")
        setattr(row, key, value)


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
    return await _write(s, row, f"llm {name}", f"llm {name} already exists")


async def get_llm(s: AsyncSession, llm_id: int) -> Llm:
    return await _get(s, Llm, "llm", llm_id)


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
    return await _write(s, row, f"llm {name}", f"llm {name} already exists", fields)


# --- project ----------------------------------------------------------------------------


async def create_project(s: AsyncSession, *, name: str, description: str = "") -> Project:
    row = Project(name=name, description=description, created_at=utcnow())
    return await _write(s, row, f"project {name}", f"project {name} already exists")


async def get_project(s: AsyncSession, project_id: int) -> Project:
    return await _get(s, Project, "project", project_id)


async def get_project_by_name(s: AsyncSession, name: str) -> Project | None:
    return (await s.execute(select(Project).where(Project.name == name))).scalar_one_or_none()


async def list_projects(s: AsyncSession) -> Sequence[Project]:
    return (await s.execute(select(Project).order_by(Project.name))).scalars().all()


async def update_project(s: AsyncSession, project_id: int, **fields: Any) -> Project:
    row = await get_project(s, project_id)
    name = fields.get("name", row.name)
    return await _write(s, row, f"project {name}", f"project {name} already exists", fields)


# --- agent ------------------------------------------------------------------------------


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
    return await _write(s, row, f"agent {name}", f"agent {name} already exists")


async def get_agent(s: AsyncSession, agent_id: int) -> Agent:
    return await _get(s, Agent, "agent", agent_id)


async def get_agent_by_name(s: AsyncSession, name: str) -> Agent | None:
    return (await s.execute(select(Agent).where(Agent.name == name))).scalar_one_or_none()


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
    return await _write(s, row, f"agent {name}", f"agent {name} already exists", fields)


@dataclass(frozen=True, slots=True)
class AgentListing:
    """One line of the agent pane: the agent with its LLM and project, from one query."""

    id: int
    name: str
    description: str
    kind: LlmKind
    status: LlmStatus
    llm_id: int
    llm_name: str
    llm_type: str
    llm_model: str
    llm_kind: LlmKind
    llm_status: LlmStatus
    project_id: int | None
    project_name: str | None
    default_personality_id: int | None
    default_personality_name: str | None
    llm_last_heartbeat_at: datetime | None  # a virtual LLM's publisher was last heard then


_DEFAULT_PERSONALITY = aliased(Personality)
_AGENT_LISTING = (
    select(
        Agent.id,
        Agent.name,
        Agent.description,
        Agent.kind,
        Agent.status,
        Llm.id,
        Llm.name,
        Llm.type,
        Llm.model,
        Llm.kind,
        Llm.status,
        Agent.project_id,
        Project.name,
        Agent.default_personality_id,
        _DEFAULT_PERSONALITY.name,
        Llm.last_heartbeat_at,
    )
    .join(Llm, Llm.id == Agent.llm_id)
    .outerjoin(Project, Project.id == Agent.project_id)
    .outerjoin(_DEFAULT_PERSONALITY, _DEFAULT_PERSONALITY.id == Agent.default_personality_id)
)


def _listing(row: Any) -> AgentListing:
    return AgentListing(*row)


def _untyped(row: Any) -> Any:
    # Rows unpack into the dataclasses field by field; their column types are checked there.
    return row


async def list_agent_listings(
    s: AsyncSession, *, project_id: int | None = None
) -> list[AgentListing]:
    """Every agent (optionally of one project) with its LLM and project, by name."""
    q = _AGENT_LISTING.order_by(Agent.name)
    if project_id is not None:
        q = q.where(Agent.project_id == project_id)
    return [_listing(row) for row in await s.execute(q)]


async def get_agent_listing(s: AsyncSession, agent_id: int) -> AgentListing:
    row = (await s.execute(_AGENT_LISTING.where(Agent.id == agent_id))).first()
    if row is None:
        raise NotFound("agent", agent_id)
    return _listing(row)


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
    return await _write(
        s,
        row,
        f"prompt {name}",
        f"prompt {name} already exists {_prompt_scope(project_id, agent_id)}",
    )


async def get_prompt(s: AsyncSession, prompt_id: int) -> Prompt:
    return await _get(s, Prompt, "prompt", prompt_id)


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
    return await _write(
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
    return await _write(
        s, row, f"personality {name}", f"personality {name} already exists for agent {agent_id}"
    )


async def get_personality(s: AsyncSession, personality_id: int) -> Personality:
    return await _get(s, Personality, "personality", personality_id)


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
    return await _write(
        s,
        row,
        f"personality {name}",
        f"personality {name} already exists for agent {row.agent_id}",
        fields,
    )


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
    return await _write(
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
    return await _write(s, row, "binding", "binding exists", {"priority": priority})


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
    return [PromptBinding(*_untyped(row)) for row in await s.execute(q)]


# --- threads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadCursor:
    """Keyset position: the last thread of the previous page."""

    last_turn_at: datetime
    id: int


async def create_thread(s: AsyncSession, agent_id: int, title: str = "") -> ChatThread:
    now = utcnow()
    thread = ChatThread(agent_id=agent_id, title=title, created_at=now, last_turn_at=now)
    return await _write(s, thread, f"thread {title!r}", "thread already exists")


async def get_thread(s: AsyncSession, thread_id: int) -> ChatThread:
    return await _get(s, ChatThread, "thread", thread_id)


async def rename_thread(s: AsyncSession, thread_id: int, title: str) -> ChatThread:
    """Set a thread's title (last_turn_at is left alone: renaming is not a turn)."""
    row = await get_thread(s, thread_id)
    return await _write(s, row, f"thread {thread_id}", "thread exists", {"title": title})


async def list_threads(
    s: AsyncSession, agent_id: int, *, limit: int = 50, after: ThreadCursor | None = None
) -> list[ThreadSummary]:
    """A page of an agent's threads, newest first, with turn counts, in one query.

    Keyset paging on (last_turn_at, id): walks the (agent_id, last_turn_at DESC) index, and
    a page boundary inside a run of equal timestamps neither repeats nor skips a thread.
    """
    cursor = None if after is None else (after.last_turn_at, after.id)
    return await fastread.thread_page(s, agent_id, limit, cursor)


# --- messages --------------------------------------------------------------------------


async def last_messages(s: AsyncSession, thread_id: int, n: int) -> list[Turn]:
    """The last ``n`` turns of a thread, in turn order."""
    return await fastread.last_turns(s, thread_id, n)


async def messages_before(s: AsyncSession, thread_id: int, before_turn: int, n: int) -> list[Turn]:
    """The ``n`` turns before ``before_turn``, in turn order (the page above the window)."""
    return await fastread.turns_before(s, thread_id, before_turn, n)


async def all_messages(s: AsyncSession, thread_id: int) -> list[Turn]:
    """Every turn of a thread, in turn order."""
    return await fastread.all_turns(s, thread_id)


@dataclass(slots=True)
class NewMessage:
    role: str
    content: str = ""
    status: MessageStatus = MessageStatus.COMPLETE
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    error: str | None = None
    thinking: str | None = None
    usage: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    personality: str | None = None
    model: str | None = None

    def columns(self) -> dict[str, Any]:
        """The turn's ``ChatMessage`` columns, fit to store: text and JSON pass through
        ``storable`` (PostgreSQL refuses NUL and lone surrogates)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v if k == "status" else storable(v) for k, v in values.items()}


@dataclass(slots=True)
class AppendStats:
    """Counts collisions with racing writers (the benchmark reports them)."""

    retries: int = 0
    extra: dict[str, int] = field(default_factory=dict)


MAX_APPEND_ATTEMPTS = 200  # each collision means another writer got its turn in

# Appends are the hot write path: they skip the ORM (no unit of work, no identity map)
# and SQLAlchemy's execution layer, sending one fixed statement per step to the driver.

# SQLite: under the write lock (BEGIN IMMEDIATE) writers from every process queue, so the
# thread touch and an INSERT computing MAX + 1 never collide. Sent straight to the driver:
# through SQLAlchemy each statement cost several more hops to aiosqlite's thread.
# Never backwards: a writer that waited for the lock may carry an older timestamp.
_SQLITE_TOUCH = "UPDATE chat_thread SET last_turn_at = max(last_turn_at, ?) WHERE id = ?"
_SQLITE_INSERT = """
INSERT INTO chat_message (thread_id, turn_index, role, content, tool_calls, tool_call_id,
    status, error, thinking, usage, timing, personality, model, created_at)
SELECT ?1, COALESCE(MAX(turn_index), -1) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
FROM chat_message WHERE thread_id = ?1
RETURNING id, turn_index
"""

# PostgreSQL: one statement, autocommitted, so no lock is ever held across a round trip to
# a client (with 8 writers on one thread, a lock held across round trips made every append
# wait for another process to be scheduled). It inserts at MAX + 1; if a racing writer
# took that index, ON CONFLICT DO NOTHING returns no row (after that writer committed) and
# we try again on the same connection. last_turn_at moves only when the turn went in.
#
# With durable=False the commit is asynchronous (synchronous_commit off, this transaction):
# appenders to one thread wait for each other's commit, and a WAL flush per turn, one after
# the other, capped 8 racing writers at ~300 appends/s here; without it they do ~1,100/s.
# The database stays consistent; a crash of the server or the OS can lose the turns of the
# last ~0.6 s (3 x wal_writer_delay). The default (durable) waits for the flush.
_PG_APPEND_DURABLE = """
WITH ins AS (
    INSERT INTO chat_message (thread_id, turn_index, role, content, tool_calls, tool_call_id,
        status, error, thinking, usage, timing, personality, model, created_at)
    SELECT $1, COALESCE(MAX(turn_index), -1) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
        $12, $13
    FROM chat_message WHERE thread_id = $1
    ON CONFLICT (thread_id, turn_index) DO NOTHING
    RETURNING id, turn_index
), touch AS (
    UPDATE chat_thread SET last_turn_at = GREATEST(last_turn_at, $13)
    WHERE id = $1 AND EXISTS (SELECT 1 FROM ins)
)
SELECT id, turn_index FROM ins
"""
_PG_APPEND = _PG_APPEND_DURABLE.replace(
    "SELECT id, turn_index FROM ins",
    ", async_commit AS (SELECT set_config('synchronous_commit', 'off', true))\n"
    "SELECT id, turn_index FROM ins, async_commit",
)


class AppendGaveUp(StoreError):
    """Every attempt to append collided with another writer (should never happen)."""


async def append_message(
    store: Store,
    thread_id: int,
    msg: NewMessage,
    *,
    stats: AppendStats | None = None,
    durable: bool = True,
) -> ChatMessage:
    """Append a turn at the thread's next turn_index; nothing lost, no index doubled.

    Its own transaction, on both backends; last_turn_at moves with the turn. On PostgreSQL
    the commit is asynchronous only when ``durable=False`` (see ``_PG_APPEND``): callers
    that can afford to lose the last ~0.6 s on a server crash may opt in. Returns the stored
    turn (a detached ``ChatMessage`` carrying its ``id`` and ``turn_index``).
    """
    now = utcnow()
    msg = NewMessage(**msg.columns())
    if store.is_sqlite:
        message_id, turn_index = await _append_sqlite(store, thread_id, msg, now)
    else:
        sql = _PG_APPEND_DURABLE if durable else _PG_APPEND
        message_id, turn_index = await _append_pg(store, sql, thread_id, msg, now, stats)
    return ChatMessage(
        id=message_id, thread_id=thread_id, turn_index=turn_index, created_at=now, **msg.columns()
    )


async def _append_sqlite(
    store: Store, thread_id: int, msg: NewMessage, now: datetime
) -> tuple[int, int]:
    stamp = fastread.sqlite_timestamp(now)
    args = _append_args(thread_id, msg, stamp)
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        db = raw.driver_connection  # aiosqlite; autocommit mode (see engine), we BEGIN
        assert db is not None
        await db.execute("BEGIN IMMEDIATE")
        try:
            touched = await db.execute(_SQLITE_TOUCH, (stamp, thread_id))
            if touched.rowcount == 0:
                raise NotFound("thread", thread_id)
            cur = await db.execute(_SQLITE_INSERT, args)
            row = await cur.fetchone()
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    assert row is not None
    return row[0], row[1]


def _append_args(thread_id: int, msg: NewMessage, created_at: object) -> tuple[Any, ...]:
    """The append statements' parameters, in their placeholder order (both backends)."""
    return (
        thread_id,
        msg.role,
        msg.content,
        _json_param(msg.tool_calls),
        msg.tool_call_id,
        MessageStatus(msg.status).value,
        msg.error,
        msg.thinking,
        _json_param(msg.usage),
        _json_param(msg.timing),
        msg.personality,
        msg.model,
        created_at,
    )


def _json_param(value: Any) -> str | None:
    # JSON text, as SQLAlchemy's JSON type writes it (SQLite) and its asyncpg jsonb codec takes.
    return None if value is None else json.dumps(value)


async def _append_pg(
    store: Store,
    sql: str,
    thread_id: int,
    msg: NewMessage,
    now: datetime,
    stats: AppendStats | None,
) -> tuple[int, int]:
    import asyncpg

    args = _append_args(thread_id, msg, now)
    async with store.engine.connect() as conn:
        # The driver's own connection: this statement needs no SQLAlchemy processing, and
        # outside a transaction asyncpg autocommits each statement.
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                row = await driver.fetchrow(sql, *args)
            except asyncpg.ForeignKeyViolationError:
                raise NotFound("thread", thread_id) from None
            except asyncpg.PostgresError as exc:
                raise Invalid(f"message in thread {thread_id}: {exc}") from None
            except (asyncpg.InterfaceError, OSError) as exc:
                raise StoreUnavailable(f"append to thread {thread_id}: {exc}") from None
            if row is not None:
                return row[0], row[1]
            if stats is not None:
                stats.retries += 1
    raise AppendGaveUp(
        f"append to thread {thread_id}: gave up after {MAX_APPEND_ATTEMPTS} collisions"
    )


async def finish_message(store: Store, message_id: int, **fields: Any) -> None:
    """Update a stored turn (content, status, error, usage, timing …) and touch its thread."""
    async with store.transaction() as s:
        msg = await s.get(ChatMessage, message_id)
        if msg is None:
            raise NotFound("message", message_id)
        for key, value in fields.items():
            if not hasattr(ChatMessage, key):
                raise TypeError(f"chat_message has no column {key!r}")
            setattr(msg, key, storable(value))
        await s.execute(
            update(ChatThread).where(ChatThread.id == msg.thread_id).values(last_turn_at=utcnow())
        )
