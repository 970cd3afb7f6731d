"""Query functions the rest of the program uses; no SQL lives outside ``store``.

Functions taking an ``AsyncSession`` compose into the caller's transaction; functions
taking a ``Store`` run their own (they need to retry or to commit at a precise point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    Project,
)
from mcpctl_tui.store.types import MessageStatus, utcnow

# --- lookups -------------------------------------------------------------------------


async def get_llm_by_name(s: AsyncSession, name: str) -> Llm | None:
    return (await s.execute(select(Llm).where(Llm.name == name))).scalar_one_or_none()


async def get_agent_by_name(s: AsyncSession, name: str) -> Agent | None:
    return (await s.execute(select(Agent).where(Agent.name == name))).scalar_one_or_none()


async def get_project_by_name(s: AsyncSession, name: str) -> Project | None:
    return (await s.execute(select(Project).where(Project.name == name))).scalar_one_or_none()


async def list_personalities(s: AsyncSession, agent_id: int) -> Sequence[Personality]:
    q = (
        select(Personality)
        .where(Personality.agent_id == agent_id)
        .order_by(Personality.priority.desc(), Personality.name)
    )
    return (await s.execute(q)).scalars().all()


async def get_personality_by_name(s: AsyncSession, agent_id: int, name: str) -> Personality | None:
    q = select(Personality).where(Personality.agent_id == agent_id, Personality.name == name)
    return (await s.execute(q)).scalar_one_or_none()


# --- threads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: int
    agent_id: int
    title: str
    created_at: datetime
    last_turn_at: datetime
    turn_count: int


@dataclass(frozen=True, slots=True)
class ThreadCursor:
    """Keyset position: the last thread of the previous page."""

    last_turn_at: datetime
    id: int


async def create_thread(s: AsyncSession, agent_id: int, title: str = "") -> ChatThread:
    now = utcnow()
    thread = ChatThread(agent_id=agent_id, title=title, created_at=now, last_turn_at=now)
    s.add(thread)
    await s.flush()
    return thread


async def list_threads(
    s: AsyncSession, agent_id: int, *, limit: int = 50, after: ThreadCursor | None = None
) -> list[ThreadSummary]:
    """A page of an agent's threads, newest first (keyset paging on the thread index)."""
    q = select(ChatThread).where(ChatThread.agent_id == agent_id)
    if after is not None:
        q = q.where(
            (ChatThread.last_turn_at < after.last_turn_at)
            | ((ChatThread.last_turn_at == after.last_turn_at) & (ChatThread.id < after.id))
        )
    q = q.order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc()).limit(limit)
    threads = (await s.execute(q)).scalars().all()
    if not threads:
        return []
    counts_q = (
        select(ChatMessage.thread_id, func.count())
        .where(ChatMessage.thread_id.in_([t.id for t in threads]))
        .group_by(ChatMessage.thread_id)
    )
    counts: dict[int, int] = {tid: n for tid, n in (await s.execute(counts_q)).tuples()}
    return [
        ThreadSummary(t.id, t.agent_id, t.title, t.created_at, t.last_turn_at, counts.get(t.id, 0))
        for t in threads
    ]


# --- messages --------------------------------------------------------------------------


async def last_messages(s: AsyncSession, thread_id: int, n: int) -> list[ChatMessage]:
    """The last ``n`` turns of a thread, in turn order."""
    q = (
        select(ChatMessage)
        .where(ChatMessage.thread_id == thread_id)
        .order_by(ChatMessage.turn_index.desc())
        .limit(n)
    )
    rows = list((await s.execute(q)).scalars().all())
    rows.reverse()
    return rows


async def messages_before(
    s: AsyncSession, thread_id: int, before_turn: int, n: int
) -> list[ChatMessage]:
    """The ``n`` turns before ``before_turn``, in turn order (the page above the window)."""
    q = (
        select(ChatMessage)
        .where(ChatMessage.thread_id == thread_id, ChatMessage.turn_index < before_turn)
        .order_by(ChatMessage.turn_index.desc())
        .limit(n)
    )
    rows = list((await s.execute(q)).scalars().all())
    rows.reverse()
    return rows


async def all_messages(s: AsyncSession, thread_id: int) -> list[ChatMessage]:
    q = (
        select(ChatMessage)
        .where(ChatMessage.thread_id == thread_id)
        .order_by(ChatMessage.turn_index)
    )
    return list((await s.execute(q)).scalars().all())


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


@dataclass(slots=True)
class AppendStats:
    """Counts collisions with racing writers (the benchmark reports them)."""

    retries: int = 0
    extra: dict[str, int] = field(default_factory=dict)


MAX_APPEND_ATTEMPTS = 50


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return str(code) == "23505"
    return "UNIQUE constraint failed" in str(orig)


async def append_message(
    store: Store, thread_id: int, msg: NewMessage, *, stats: AppendStats | None = None
) -> ChatMessage:
    """Append a turn at the thread's next turn_index, in its own transaction.

    The thread row is touched first (last_turn_at), which on PostgreSQL takes its row lock
    and so queues appenders to one thread; on SQLite BEGIN IMMEDIATE does the same. A
    unique violation (a writer that got in anyway) retries with a fresh index.
    """
    for _attempt in range(MAX_APPEND_ATTEMPTS):
        try:
            async with store.transaction() as s:
                now = utcnow()
                touched = await s.execute(
                    update(ChatThread).where(ChatThread.id == thread_id).values(last_turn_at=now)
                )
                if touched.rowcount == 0:  # type: ignore[attr-defined]
                    raise NotFound("thread", thread_id)
                next_index = (
                    await s.execute(
                        select(func.coalesce(func.max(ChatMessage.turn_index), -1) + 1).where(
                            ChatMessage.thread_id == thread_id
                        )
                    )
                ).scalar_one()
                row = ChatMessage(
                    thread_id=thread_id,
                    turn_index=next_index,
                    role=msg.role,
                    content=msg.content,
                    status=msg.status,
                    tool_calls=msg.tool_calls,
                    tool_call_id=msg.tool_call_id,
                    error=msg.error,
                    thinking=msg.thinking,
                    usage=msg.usage,
                    timing=msg.timing,
                    personality=msg.personality,
                    model=msg.model,
                    created_at=now,
                )
                s.add(row)
                await s.flush()
            return row
        except IntegrityError as exc:
            if not _is_unique_violation(exc):
                raise
            if stats is not None:
                stats.retries += 1
    raise RuntimeError(
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
            setattr(msg, key, value)
        await s.execute(
            update(ChatThread).where(ChatThread.id == msg.thread_id).values(last_turn_at=utcnow())
        )
