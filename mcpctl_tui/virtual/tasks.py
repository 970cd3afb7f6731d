"""The relay's queries: insert a task, claim it, append chunks, read them, finish it.

Every status change is guarded by the status it expects (``WHERE status IN (...)``), so
a caller's cancel, a provider's finish and the GC's timeout never overwrite each other:
whoever moves first wins and the others see ``rowcount == 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import InferenceChunk, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmStatus, utcnow
from mcpctl_tui.virtual.notify import CANCEL_CHANNEL, CHUNK_CHANNEL, TASK_CHANNEL, notify

OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.CLAIMED, TaskStatus.RUNNING)
SERVING_STATUSES = (TaskStatus.CLAIMED, TaskStatus.RUNNING)

_task = cast(Table, InferenceTask.__table__)
_chunk = cast(Table, InferenceChunk.__table__)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


async def insert_task(store: Store, llm_id: int, request: dict[str, Any]) -> int:
    now = utcnow()
    async with store.transaction() as s:
        task_id = (
            await s.execute(
                insert(InferenceTask)
                .values(
                    llm_id=llm_id,
                    status=TaskStatus.PENDING,
                    request=request,
                    created_at=now,
                    updated_at=now,
                )
                .returning(InferenceTask.id)
            )
        ).scalar_one()
        await notify(s, store, TASK_CHANNEL, llm_id)
    return int(task_id)


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    id: int
    llm_id: int
    request: dict[str, Any]


async def claim_task(store: Store, session_id: str, llm_ids: Sequence[int]) -> ClaimedTask | None:
    """Take the oldest pending task of ``llm_ids``, or None.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several providers claim side by side.
    SQLite: the write lock (BEGIN IMMEDIATE) serialises claimers and the status guard
    makes the UPDATE a no-op if someone else got there first.
    """
    if not llm_ids:
        return None
    now = utcnow()
    pick = (
        select(InferenceTask.id)
        .where(InferenceTask.status == TaskStatus.PENDING, InferenceTask.llm_id.in_(llm_ids))
        .order_by(InferenceTask.id)
        .limit(1)
    )
    if not store.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(_task)
        .where(_task.c.id == pick.scalar_subquery(), _task.c.status == TaskStatus.PENDING)
        .values(status=TaskStatus.CLAIMED, claimed_by=session_id, claimed_at=now, updated_at=now)
        .returning(_task.c.id, _task.c.llm_id, _task.c.request)
    )
    async with store.transaction() as s:
        row = (await s.execute(stmt)).first()
        if row is not None:
            await notify(s, store, CHUNK_CHANNEL, row.id)
    if row is None:
        return None
    return ClaimedTask(id=row.id, llm_id=row.llm_id, request=row.request)


async def has_pending(store: Store, llm_ids: Sequence[int]) -> bool:
    """A cheap read before the write-locking claim (SQLite polls with this)."""
    if not llm_ids:
        return False
    q = (
        select(InferenceTask.id)
        .where(InferenceTask.status == TaskStatus.PENDING, InferenceTask.llm_id.in_(llm_ids))
        .limit(1)
    )
    async with store.session() as s:
        return (await s.execute(q)).first() is not None


async def append_chunk(
    store: Store,
    task_id: int,
    session_id: str,
    seq: int,
    payload: list[Any],
    *,
    final: TaskStatus | None = None,
    error: str | None = None,
) -> bool:
    """Write one batch of events; with ``final`` also finish the task, in one transaction.

    False (and nothing written) when the task is no longer this session's to serve:
    cancelled by the caller, failed by the GC, or taken back.
    """
    now = utcnow()
    values: dict[str, Any] = {"status": final or TaskStatus.RUNNING, "updated_at": now}
    if final is not None:
        values["finished_at"] = now
        values["error"] = error
    async with store.transaction() as s:
        res = await s.execute(
            update(_task)
            .where(
                _task.c.id == task_id,
                _task.c.claimed_by == session_id,
                _task.c.status.in_(SERVING_STATUSES),
            )
            .values(**values)
        )
        if _rowcount(res) != 1:
            return False
        if payload:
            await s.execute(insert(_chunk).values(task_id=task_id, seq=seq, payload=payload))
        await notify(s, store, CHUNK_CHANNEL, task_id)
    return True


async def read_chunks(store: Store, task_id: int, after_seq: int) -> list[tuple[int, list[Any]]]:
    q = (
        select(_chunk.c.seq, _chunk.c.payload)
        .where(_chunk.c.task_id == task_id, _chunk.c.seq > after_seq)
        .order_by(_chunk.c.seq)
    )
    async with store.session() as s:
        return [(r.seq, r.payload) for r in (await s.execute(q))]


@dataclass(frozen=True, slots=True)
class TaskState:
    status: TaskStatus
    error: str | None
    claimed_by: str | None
    created_at: datetime
    llm_name: str
    llm_status: LlmStatus
    llm_session: str | None
    llm_last_heartbeat_at: datetime | None


async def task_state(store: Store, task_id: int) -> TaskState | None:
    q = (
        select(
            InferenceTask.status,
            InferenceTask.error,
            InferenceTask.claimed_by,
            InferenceTask.created_at,
            Llm.name,
            Llm.status,
            Llm.provider_session_id,
            Llm.last_heartbeat_at,
        )
        .join(Llm, Llm.id == InferenceTask.llm_id)
        .where(InferenceTask.id == task_id)
    )
    async with store.session() as s:
        row = (await s.execute(q)).first()
    return TaskState(*row) if row is not None else None


async def finish_task(
    store: Store,
    task_id: int,
    status: TaskStatus,
    error: str | None = None,
    *,
    only_from: Sequence[TaskStatus] = OPEN_STATUSES,
) -> bool:
    """Move an open task to a final status (guarded); True if this call did it."""
    now = utcnow()
    async with store.transaction() as s:
        res = await s.execute(
            update(_task)
            .where(_task.c.id == task_id, _task.c.status.in_(list(only_from)))
            .values(status=status, error=error, finished_at=now, updated_at=now)
        )
        done = _rowcount(res) == 1
        if done:
            await notify(s, store, CHUNK_CHANNEL, task_id)
            if status == TaskStatus.CANCELLED:
                await notify(s, store, CANCEL_CHANNEL, task_id)
    return done


async def delete_chunks(s: AsyncSession, task_id: int) -> None:
    await s.execute(_chunk.delete().where(_chunk.c.task_id == task_id))


async def not_serving(store: Store, session_id: str, task_ids: Sequence[int]) -> list[int]:
    """Which of ``task_ids`` this session should stop (cancelled, failed, taken back)."""
    if not task_ids:
        return []
    q = select(_task.c.id).where(
        _task.c.id.in_(list(task_ids)),
        (_task.c.status.not_in(SERVING_STATUSES)) | (_task.c.claimed_by != session_id),
    )
    async with store.session() as s:
        return [int(r) for r in (await s.execute(q)).scalars()]
