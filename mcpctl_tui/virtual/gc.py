"""The lifecycle sweep: stale publishers go inactive, long-inactive rows and old tasks go.

- not live by store/liveness.py (three missed beats of the published interval, at most
  ``heartbeat_timeout``) -> inactive (``inactive_since`` set), and the
  tasks their provider was serving fail (nobody will finish them);
- inactive for ``inactive_ttl`` -> deleted, virtual agents before their LLMs (agent.llm_id
  is ON DELETE RESTRICT); an LLM a public agent still uses is kept and reported;
- pending for ``pending_ttl`` -> error; finished for ``finished_ttl`` -> deleted;
- a reply turn still ``pending`` after ``stale_turn_ttl`` -> error: its writer went away
  (killed before it could finish the turn), and every turn ends complete, error or
  cancelled.

Every step is a guarded UPDATE/DELETE, so the sweep is idempotent. It runs in one
transaction; on PostgreSQL a transaction-scoped advisory lock lets one sweeper work while
the others skip, on SQLite the write lock (BEGIN IMMEDIATE) queues them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, not_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Update

from mcpctl_tui.config import Settings
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.liveness import heard_within
from mcpctl_tui.store.models import (
    TASK_FINISHED,
    Agent,
    ChatMessage,
    InferenceTask,
    Llm,
    TaskStatus,
)
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow
from mcpctl_tui.virtual.notify import sleep_unless
from mcpctl_tui.virtual.task_rows import store_reason

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "mcpctl-tui gc" folded into a bigint.
ADVISORY_KEY = 0x6D6370_6763


_DEFAULTS = Settings()
ABANDONED = "the reply was never finished: the process writing it went away"


@dataclass(frozen=True, slots=True)
class GcBounds:
    heartbeat_timeout: float = _DEFAULTS.heartbeat_timeout
    inactive_ttl: float = _DEFAULTS.inactive_ttl
    pending_ttl: float = _DEFAULTS.pending_ttl
    finished_ttl: float = _DEFAULTS.finished_ttl
    stale_turn_ttl: float = _DEFAULTS.stale_turn_ttl

    @classmethod
    def from_settings(cls, settings: Settings, **flags: float | None) -> GcBounds:
        """The config file's bounds, each overridden by its flag when given (flag > config
        file > default)."""
        values = {f.name: getattr(settings, f.name) for f in fields(cls)}
        values.update({k: v for k, v in flags.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SweepResult:
    llms_inactivated: int = 0
    agents_inactivated: int = 0
    tasks_orphaned: int = 0
    agents_deleted: int = 0
    llms_deleted: int = 0
    llms_kept_in_use: int = 0
    tasks_expired: int = 0
    tasks_deleted: int = 0
    turns_abandoned: int = 0
    skipped: bool = False  # another process held the sweep lock

    def summary(self) -> str:
        if self.skipped:
            return "gc: skipped (another sweep is running)"
        parts = [
            f"{f.name.replace('_', ' ')}={getattr(self, f.name)}"
            for f in fields(self)
            if f.name != "skipped"
        ]
        return "gc: " + ", ".join(parts)


def inactivate_stale(
    model: type[Llm] | type[Agent], now: datetime, timeout: float, dialect: str
) -> Update:
    """Active virtual rows that are not live (store/liveness.py: three missed beats of
    their published interval, at most ``timeout``) go inactive."""
    return (
        update(model)
        .where(
            model.kind == LlmKind.VIRTUAL,
            model.status == LlmStatus.ACTIVE,
            not_(heard_within(model, now, timeout, dialect)),
        )
        .values(status=LlmStatus.INACTIVE, inactive_since=now)
        .execution_options(synchronize_session=False)
    )


def _rc(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def sweep(store: Store, bounds: GcBounds | None = None) -> SweepResult:
    b = bounds or GcBounds()
    now = utcnow()
    expired = now - timedelta(seconds=b.inactive_ttl)
    async with store.transaction() as s:
        if not store.is_sqlite:
            got = (
                await s.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})
            ).scalar_one()
            if not got:
                return SweepResult(skipped=True)

        # 1. Stale publishers go inactive (served by ix_*_kind_status).
        inactivated = [
            _rc(await s.execute(inactivate_stale(model, now, b.heartbeat_timeout, store.dialect)))
            for model in (Llm, Agent)
        ]

        # Tasks claimed by a provider whose LLM went inactive will never finish.
        orphaned = await s.execute(
            update(InferenceTask)
            .where(
                InferenceTask.status.in_([TaskStatus.CLAIMED, TaskStatus.RUNNING]),
                InferenceTask.llm_id.in_(
                    select(Llm.id).where(
                        Llm.kind == LlmKind.VIRTUAL, Llm.status == LlmStatus.INACTIVE
                    )
                ),
            )
            .values(
                status=TaskStatus.ERROR,
                error="the provider serving this task went away (no heartbeat)",
                finished_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

        # 2. Long-inactive rows are deleted: agents first (RESTRICT on agent.llm_id).
        agents_deleted = await s.execute(
            delete(Agent)
            .where(
                Agent.kind == LlmKind.VIRTUAL,
                Agent.status == LlmStatus.INACTIVE,
                Agent.inactive_since < expired,
            )
            .execution_options(synchronize_session=False)
        )
        doomed = (
            Llm.kind == LlmKind.VIRTUAL,
            Llm.status == LlmStatus.INACTIVE,
            Llm.inactive_since < expired,
        )
        in_use = exists().where(Agent.llm_id == Llm.id)
        kept = (
            (await s.execute(select(Llm.name).where(*doomed, in_use).order_by(Llm.name)))
            .scalars()
            .all()
        )
        if kept:
            log.info(
                "gc: keeping inactive virtual LLM(s) still used by agents: %s", ", ".join(kept)
            )
        llms_deleted = await s.execute(
            delete(Llm).where(*doomed, ~in_use).execution_options(synchronize_session=False)
        )

        # 3. Tasks nobody claimed in time fail; 4. old finished tasks (and chunks) go.
        pending_cut = now - timedelta(seconds=b.pending_ttl)
        tasks_expired = await s.execute(
            update(InferenceTask)
            .where(
                InferenceTask.status == TaskStatus.PENDING, InferenceTask.created_at < pending_cut
            )
            .values(
                status=TaskStatus.ERROR,
                error=f"no provider claimed the task within {b.pending_ttl:g} s",
                finished_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        finished_cut = now - timedelta(seconds=b.finished_ttl)
        tasks_deleted = await s.execute(
            delete(InferenceTask)
            .where(
                InferenceTask.status.in_(list(TASK_FINISHED)),
                InferenceTask.finished_at < finished_cut,
            )
            .execution_options(synchronize_session=False)
        )
        # 5. Reply turns whose writer never came back to finish them.
        turns_abandoned = await s.execute(
            update(ChatMessage)
            .where(
                ChatMessage.status == MessageStatus.PENDING,
                ChatMessage.created_at < now - timedelta(seconds=b.stale_turn_ttl),
            )
            .values(status=MessageStatus.ERROR, error=ABANDONED)
            .execution_options(synchronize_session=False)
        )
    return SweepResult(
        turns_abandoned=_rc(turns_abandoned),
        llms_inactivated=inactivated[0],
        agents_inactivated=inactivated[1],
        tasks_orphaned=_rc(orphaned),
        agents_deleted=_rc(agents_deleted),
        llms_deleted=_rc(llms_deleted),
        llms_kept_in_use=len(kept),
        tasks_expired=_rc(tasks_expired),
        tasks_deleted=_rc(tasks_deleted),
    )


async def sweep_forever(
    store: Store,
    bounds: GcBounds | None = None,
    *,
    interval: float = 30.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set (or the task is cancelled).

    Any long-running process (the TUI, a provider) may run one; sweeps from several
    processes do not conflict. A failed sweep is logged and retried next time.
    """
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            result = await sweep(store, bounds)
            if not result.skipped:
                log.debug("%s", result.summary())
        except (StoreError, SQLAlchemyError, OSError) as exc:
            log.warning("gc sweep failed: %s", store_reason(exc))
        await sleep_unless(stop, interval)
