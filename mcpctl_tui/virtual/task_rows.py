"""The rows of the relay's ``inference_task`` and ``inference_chunk`` tables: insert a
task, claim it, append its chunks, read them, finish it, and the liveness reads around it.

Every status change is guarded by the status it expects (``WHERE status IN (...)``), so
a caller's cancel, a provider's finish and the GC's timeout never overwrite each other:
whoever moves first wins and the others see ``rowcount == 0``.

On PostgreSQL the hot path (insert, claim, append, finish, reads) runs as single
statements on an autocommit connection, the NOTIFY folded into the same statement
(``SELECT pg_notify(...) FROM <CTE>``): one statement is atomic on its own, and skipping
BEGIN/COMMIT saves two round trips per write, which is most of the relay's latency.
SQLite keeps ordinary write transactions (BEGIN IMMEDIATE queues writers).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Select, Table, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningUpdate

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.liveness import heard_within
from mcpctl_tui.store.models import RELAY_JSON, InferenceChunk, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus, UtcDateTime, utcnow
from mcpctl_tui.virtual.notify import CANCEL_CHANNEL, CHUNK_CHANNEL, TASK_CHANNEL

OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.CLAIMED, TaskStatus.RUNNING)
SERVING_STATUSES = (TaskStatus.CLAIMED, TaskStatus.RUNNING)

_task = cast(Table, InferenceTask.__table__)
_chunk = cast(Table, InferenceChunk.__table__)


def store_reason(exc: BaseException) -> str:
    """The driver's first line, bounded: never the statement or its parameters (which
    hold the conversation)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    first = lines[0] if lines else type(orig).__name__
    return first if len(first) <= 200 else first[:199] + "…"


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(store: Store) -> AsyncEngine:
    """The store's engine without transactions (same pool)."""
    engine = _AUTOCOMMIT.get(store.engine)
    if engine is None:
        engine = _AUTOCOMMIT[store.engine] = store.engine.execution_options(
            isolation_level="AUTOCOMMIT"
        )
    return engine


@asynccontextmanager
async def _reader(store: Store) -> AsyncIterator[AsyncConnection]:
    engine = store.engine if store.is_sqlite else _autocommit(store)
    async with engine.connect() as conn:
        yield conn


def _notify_col(channel: str, payload: object) -> Any:
    return func.pg_notify(channel, str(payload))


async def insert_task(
    store: Store,
    llm_id: int,
    request: dict[str, Any],
    *,
    live_within: float | None = None,
) -> int | None:
    """Queue a task; its id. With ``live_within`` (the heartbeat timeout), only if the LLM
    is a live virtual publisher (store/liveness.py), else None and nothing written:
    the check and the insert are one statement, one round trip on the happy path."""
    now = utcnow()
    row = select(
        literal(llm_id, Integer),
        literal(TaskStatus.PENDING.value),
        literal(request, RELAY_JSON),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
    )
    if live_within is not None:
        row = row.where(
            exists().where(
                Llm.id == llm_id,
                Llm.kind == LlmKind.VIRTUAL,
                Llm.status == LlmStatus.ACTIVE,
                heard_within(Llm, now, live_within, store.dialect),
            )
        )
    ins = (
        insert(_task)
        .from_select(
            ["llm_id", "status", "request", "created_at", "updated_at", "caller_seen_at"], row
        )
        .returning(_task.c.id)
    )
    if not store.is_sqlite:
        t = ins.cte("t")
        async with _autocommit(store).connect() as conn:
            stmt = select(t.c.id, _notify_col(TASK_CHANNEL, llm_id))
            found = (await conn.execute(stmt)).first()
    else:
        async with store.transaction() as s:
            found = (await s.execute(ins)).first()
    return int(found[0]) if found is not None else None


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    id: int
    llm_id: int
    request: dict[str, Any]
    # A requeued task may hold chunks from its earlier claim (waits only: an answer
    # would have made it running, and running tasks are failed, not requeued).
    last_seq: int = 0


def claim_statement(
    store: Store, session_id: str, llm_ids: Sequence[int], now: datetime
) -> ReturningUpdate[tuple[int, int, dict[str, Any]]]:
    """UPDATE the oldest pending task of the session's LLMs to claimed (served by
    ix_inference_task_status_id: status = pending, in id order)."""
    owned = select(Llm.id).where(Llm.id.in_(llm_ids), Llm.provider_session_id == session_id)
    pick = (
        select(InferenceTask.id)
        .where(InferenceTask.status == TaskStatus.PENDING, InferenceTask.llm_id.in_(owned))
        .order_by(InferenceTask.id)
        .limit(1)
    )
    if not store.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    return (
        update(_task)
        .where(_task.c.id == pick.scalar_subquery(), _task.c.status == TaskStatus.PENDING)
        .values(status=TaskStatus.CLAIMED, claimed_by=session_id, claimed_at=now, updated_at=now)
        .returning(_task.c.id, _task.c.llm_id, _task.c.request)
    )


async def claim_task(store: Store, session_id: str, llm_ids: Sequence[int]) -> ClaimedTask | None:
    """Take the oldest pending task of ``llm_ids`` that this session still owns, or None.

    Ownership is re-checked in the statement: a session that stalled past the heartbeat
    timeout may have had its rows adopted by another session, and must not serve them.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several providers claim side by side.
    SQLite: the write lock (BEGIN IMMEDIATE) serialises claimers and the status guard
    makes the UPDATE a no-op if someone else got there first.
    """
    if not llm_ids:
        return None
    stmt = claim_statement(store, session_id, llm_ids, utcnow())
    if store.is_sqlite:
        async with store.transaction() as s:
            row = (await s.execute(stmt)).first()
            last = None if row is None else (await s.execute(_last_seq(row.id))).scalar()
    else:
        async with _autocommit(store).connect() as conn:
            row = (await conn.execute(stmt)).first()
            last = None if row is None else (await conn.execute(_last_seq(row.id))).scalar()
    if row is None:
        return None
    return ClaimedTask(id=row.id, llm_id=row.llm_id, request=row.request, last_seq=last or 0)


def _last_seq(task_id: int) -> Select[Any]:
    return select(func.max(_chunk.c.seq)).where(_chunk.c.task_id == task_id)


async def has_pending(store: Store, llm_ids: Sequence[int]) -> bool:
    """A cheap read before the write-locking claim (SQLite polls with this)."""
    if not llm_ids:
        return False
    q = (
        select(InferenceTask.id)
        .where(InferenceTask.status == TaskStatus.PENDING, InferenceTask.llm_id.in_(llm_ids))
        .limit(1)
    )
    async with _reader(store) as conn:
        return (await conn.execute(q)).first() is not None


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

    The first batch with an answer in it (anything but waits) marks the task running.

    False (and nothing written) when the task is no longer this session's to serve:
    cancelled by the caller, failed by the GC, or taken back.
    """
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now}
    # A batch of waits only (["w", ...]: the upstream has not answered yet) leaves a
    # claimed task claimed, so a clean shutdown still hands it back instead of failing it.
    if final is not None or any(ev[0] != "w" for ev in payload) or not payload:
        values["status"] = final or TaskStatus.RUNNING
    if final is not None:
        values["finished_at"] = now
        values["error"] = error
    guard = update(_task).where(
        _task.c.id == task_id,
        _task.c.claimed_by == session_id,
        _task.c.status.in_(SERVING_STATUSES),
    )
    if not store.is_sqlite:
        # One statement: the guarded UPDATE, the INSERT fed by it, and the NOTIFY.
        u = guard.values(**values).returning(_task.c.id).cte("u")
        cols = [u.c.id, _notify_col(CHUNK_CHANNEL, task_id)]
        if payload:
            i = (
                insert(_chunk)
                .from_select(
                    ["task_id", "seq", "payload"],
                    select(u.c.id, literal(seq, Integer), literal(payload, RELAY_JSON)),
                )
                .returning(_chunk.c.seq)
                .cte("i")
            )
            cols.append(select(func.count()).select_from(i).scalar_subquery())
        async with _autocommit(store).connect() as conn:
            return (await conn.execute(select(*cols))).first() is not None
    async with store.transaction() as s:
        if _rowcount(await s.execute(guard.values(**values))) != 1:
            return False
        if payload:
            await s.execute(insert(_chunk).values(task_id=task_id, seq=seq, payload=payload))
    return True


async def read_chunks(store: Store, task_id: int, after_seq: int) -> list[tuple[int, list[Any]]]:
    q = (
        select(_chunk.c.seq, _chunk.c.payload)
        .where(_chunk.c.task_id == task_id, _chunk.c.seq > after_seq)
        .order_by(_chunk.c.seq)
    )
    async with _reader(store) as conn:
        return [(r.seq, r.payload) for r in (await conn.execute(q))]


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
    llm_heartbeat_interval: float | None


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
            Llm.heartbeat_interval,
        )
        .join(Llm, Llm.id == InferenceTask.llm_id)
        .where(InferenceTask.id == task_id)
    )
    async with _reader(store) as conn:
        row = (await conn.execute(q)).first()
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
    upd = (
        update(_task)
        .where(_task.c.id == task_id, _task.c.status.in_(list(only_from)))
        .values(status=status, error=error, finished_at=now, updated_at=now)
    )
    if not store.is_sqlite:
        u = upd.returning(_task.c.id).cte("u")
        cols = [u.c.id, _notify_col(CHUNK_CHANNEL, task_id)]
        if status == TaskStatus.CANCELLED:
            cols.append(_notify_col(CANCEL_CHANNEL, task_id))
        async with _autocommit(store).connect() as conn:
            return (await conn.execute(select(*cols))).first() is not None
    async with store.transaction() as s:
        return _rowcount(await s.execute(upd)) == 1


async def not_serving(store: Store, session_id: str, task_ids: Sequence[int]) -> list[int]:
    """Which of ``task_ids`` this session should stop (cancelled, failed, taken back)."""
    if not task_ids:
        return []
    q = select(_task.c.id).where(
        _task.c.id.in_(list(task_ids)),
        (_task.c.status.not_in(SERVING_STATUSES)) | (_task.c.claimed_by != session_id),
    )
    async with _reader(store) as conn:
        return [int(r) for r in (await conn.execute(q)).scalars()]


async def caller_beat(store: Store, task_id: int) -> None:
    """The caller is still reading this task's reply (``caller_seen_at``)."""
    beat = (
        update(_task)
        .where(_task.c.id == task_id, _task.c.status.in_(OPEN_STATUSES))
        .values(caller_seen_at=utcnow())
    )
    async with _autocommit(store).connect() as conn:
        await conn.execute(beat)


async def abandon_unread(
    store: Store, session_id: str, task_ids: Sequence[int], unread_for: float
) -> list[int]:
    """Which of this session's ``task_ids`` no caller has read for ``unread_for`` seconds:
    each is cancelled here (the caller died without saying so), their ids returned."""
    if not task_ids:
        return []
    now = utcnow()
    upd = (
        update(_task)
        .where(
            _task.c.id.in_(list(task_ids)),
            _task.c.claimed_by == session_id,
            _task.c.status.in_(SERVING_STATUSES),
            _task.c.caller_seen_at < now - timedelta(seconds=unread_for),
        )
        .values(
            status=TaskStatus.CANCELLED,
            error=f"nobody read the reply for {unread_for:g} s (its caller went away)",
            finished_at=now,
            updated_at=now,
        )
        .returning(_task.c.id)
    )
    async with store.transaction() as s:
        return [int(r) for r in (await s.execute(upd)).scalars()]


@dataclass(frozen=True, slots=True)
class LlmLiveness:
    id: int
    name: str
    kind: LlmKind
    status: LlmStatus
    provider_session_id: str | None
    last_heartbeat_at: datetime | None
    heartbeat_interval: float | None  # what its provider published (None: the default)


async def llm_liveness(store: Store, llm_id: int) -> LlmLiveness | None:
    """What the dispatcher checks before queueing: is this a virtual LLM, is it live."""
    q = select(
        Llm.id,
        Llm.name,
        Llm.kind,
        Llm.status,
        Llm.provider_session_id,
        Llm.last_heartbeat_at,
        Llm.heartbeat_interval,
    ).where(Llm.id == llm_id)
    async with _reader(store) as conn:
        row = (await conn.execute(q)).first()
    return LlmLiveness(*row) if row is not None else None


async def delete_chunks(store: Store, task_id: int) -> None:
    """Drop a finished task's chunks (its reply now lives in the chat message)."""
    stmt = _chunk.delete().where(_chunk.c.task_id == task_id)
    if store.is_sqlite:
        async with store.transaction() as s:
            await s.execute(stmt)
        return
    async with _autocommit(store).connect() as conn:
        await conn.execute(stmt)
