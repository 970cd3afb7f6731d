"""A provider session's rows: register (adopt, refuse), heartbeat, go offline, status.

Rules (docs/architecture.md, "Virtual LLMs"): a provider never overwrites a public row nor
a row of another session that is still live (active, heartbeat within the timeout); it
adopts the rows of a foreign session that went away; its own heartbeat revives its
inactive rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Update

from mcpctl_tui.config import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.liveness import row_is_live
from mcpctl_tui.store.models import Agent, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from mcpctl_tui.virtual.notify import CHUNK_CHANNEL, notify
from mcpctl_tui.virtual.provider_config import ProviderConfig


class RegistrationRefused(StoreError):
    """A row the provider file names belongs to someone else; nothing was registered."""


def load_or_create_session_id(path: Path) -> str:
    """The sticky session id: read it from ``path``, or create the file on first run."""
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    except OSError as exc:
        raise StoreError(f"provider state file {path} cannot be read: {exc.strerror}") from None
    if existing:
        if len(existing) > 64 or not existing.isprintable():
            raise StoreError(f"provider state file {path} does not hold a session id")
        return existing
    session_id = uuid.uuid4().hex
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(session_id + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StoreError(f"provider state file {path} cannot be written: {exc.strerror}") from None
    return session_id


@dataclass(frozen=True, slots=True)
class Registration:
    session_id: str
    llm_ids: dict[str, int]
    agent_ids: dict[str, int]
    created: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    reclaimed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


async def register(
    store: Store,
    session_id: str,
    config: ProviderConfig,
    *,
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
) -> Registration:
    """Create, reclaim or adopt the file's LLM and agent rows, all or nothing."""
    for attempt in range(3):
        try:
            async with store.transaction() as s:
                return await _register(s, store, session_id, config, heartbeat_timeout)
        except IntegrityError:
            # Another writer inserted one of our names between our read and our insert.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _lock_rows(
    s: AsyncSession, store: Store, model: type[Llm] | type[Agent], names: Sequence[str]
) -> dict[str, Llm | Agent]:
    q = select(model).where(model.name.in_(names))
    if not store.is_sqlite:
        q = q.with_for_update()
    rows = cast("Sequence[Llm | Agent]", (await s.execute(q)).scalars().all())
    return {r.name: r for r in rows}


def _check_owner(
    kind: str, row: Llm | Agent, session_id: str, now: datetime, timeout: float
) -> str | None:
    """Why this session may not take ``row``, or None."""
    if row.kind != LlmKind.VIRTUAL:
        return f"{kind} {row.name} is a public row; a provider never overwrites it"
    if row.provider_session_id != session_id and row_is_live(
        row.status, row.last_heartbeat_at, now, interval=row.heartbeat_interval, timeout=timeout
    ):
        seen = row.last_heartbeat_at.isoformat(timespec="seconds") if row.last_heartbeat_at else "?"
        return (
            f"{kind} {row.name} is served by live provider session {row.provider_session_id} "
            f"(last heartbeat {seen})"
        )
    return None


async def _register(
    s: AsyncSession, store: Store, session_id: str, config: ProviderConfig, silence: float
) -> Registration:
    now = utcnow()
    llm_rows = await _lock_rows(s, store, Llm, [x.name for x in config.llms])
    agent_rows = await _lock_rows(s, store, Agent, [a.name for a in config.agents])
    problems = [
        p
        for kind, rows in (("llm", llm_rows), ("agent", agent_rows))
        for row in rows.values()
        if (p := _check_owner(kind, row, session_id, now, silence))
    ]
    if problems:
        raise RegistrationRefused("provider not registered: " + "; ".join(problems))

    created: list[str] = []
    adopted: list[str] = []
    reclaimed: list[str] = []
    lifecycle = {
        "kind": LlmKind.VIRTUAL,
        "provider_session_id": session_id,
        "last_heartbeat_at": now,
        # Published so every reader judges this provider by its own pace (liveness.py).
        "heartbeat_interval": config.heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL,
        "status": LlmStatus.ACTIVE,
        "inactive_since": None,
    }

    def note(kind: str, row: Llm | Agent | None, name: str) -> None:
        label = f"{kind} {name}"
        if row is None:
            created.append(label)
        elif row.provider_session_id != session_id:
            adopted.append(label)
        else:
            reclaimed.append(label)

    llm_ids: dict[str, int] = {}
    for pub in config.llms:
        row = llm_rows.get(pub.name)
        note("llm", row, pub.name)
        values = {
            "type": pub.upstream.type,
            "model": pub.upstream.model,
            # The upstream's URL and key stay on the provider's machine.
            "url": "",
            "api_key_ref": None,
            "tier": pub.tier,
            "description": pub.description,
            **lifecycle,
        }
        if row is None:
            llm = Llm(name=pub.name, **values)
            s.add(llm)
            await s.flush()
            llm_ids[pub.name] = llm.id
        else:
            for k, v in values.items():
                setattr(row, k, v)
            llm_ids[pub.name] = row.id

    agent_ids: dict[str, int] = {}
    for pa in config.agents:
        arow = agent_rows.get(pa.name)
        note("agent", arow, pa.name)
        values = {
            "llm_id": llm_ids[pa.llm],
            "system_prompt": pa.system_prompt,
            "description": pa.description,
            "default_params": dict(pa.default_params),
            **lifecycle,
        }
        if arow is None:
            agent = Agent(name=pa.name, **values)
            s.add(agent)
            await s.flush()
            agent_ids[pa.name] = agent.id
        else:
            for k, v in values.items():
                setattr(arow, k, v)
            agent_ids[pa.name] = arow.id
    await s.flush()

    # Rows this session published before but the file no longer names go offline.
    retired: list[str] = []
    for model, keep in ((Agent, agent_ids), (Llm, llm_ids)):
        res = await s.execute(
            update(model)
            .where(
                model.provider_session_id == session_id,
                model.kind == LlmKind.VIRTUAL,
                model.status == LlmStatus.ACTIVE,
                model.name.not_in(list(keep)),
            )
            .values(status=LlmStatus.INACTIVE, inactive_since=now)
            .returning(model.name)
        )
        retired += [f"{model.__tablename__} {n}" for n in res.scalars()]
    return Registration(session_id, llm_ids, agent_ids, created, adopted, reclaimed, retired)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    llms: int
    agents: int


async def heartbeat(store: Store, session_id: str) -> Heartbeat:
    """Touch (and revive) every row of the session."""
    now = utcnow()
    counts = []
    async with store.transaction() as s:
        for model in (Llm, Agent):
            res = await s.execute(
                update(model)
                .where(model.provider_session_id == session_id, model.kind == LlmKind.VIRTUAL)
                .values(last_heartbeat_at=now, status=LlmStatus.ACTIVE, inactive_since=None)
                .execution_options(synchronize_session=False)
            )
            counts.append(res.rowcount)  # type: ignore[attr-defined]
    return Heartbeat(llms=counts[0], agents=counts[1])


@dataclass(frozen=True, slots=True)
class Offline:
    rows: int
    requeued: int
    failed: int


def offline_rows(model: type[Llm] | type[Agent], session_id: str, now: datetime) -> Update:
    """The session's rows go inactive (served by ix_*_provider_session_id)."""
    return (
        update(model)
        .where(
            model.provider_session_id == session_id,
            model.kind == LlmKind.VIRTUAL,
            model.status != LlmStatus.INACTIVE,
        )
        .values(status=LlmStatus.INACTIVE, inactive_since=now)
        .execution_options(synchronize_session=False)
    )


async def go_offline(store: Store, session_id: str) -> Offline:
    """A clean exit: rows inactive at once; claimed tasks back to pending.

    A task already streaming cannot be handed over (the caller has seen part of the
    reply), so it ends as an error naming the shutdown instead.
    """
    now = utcnow()
    rows = 0
    async with store.transaction() as s:
        for model in (Agent, Llm):
            res = await s.execute(offline_rows(model, session_id, now))
            rows += res.rowcount  # type: ignore[attr-defined]
        requeued = await s.execute(
            update(InferenceTask)
            .where(
                InferenceTask.claimed_by == session_id,
                InferenceTask.status == TaskStatus.CLAIMED,
            )
            .values(status=TaskStatus.PENDING, claimed_by=None, claimed_at=None, updated_at=now)
            .returning(InferenceTask.id)
        )
        requeued_ids = list(requeued.scalars())
        failed = await s.execute(
            update(InferenceTask)
            .where(
                InferenceTask.claimed_by == session_id,
                InferenceTask.status == TaskStatus.RUNNING,
            )
            .values(
                status=TaskStatus.ERROR,
                error=f"provider session {session_id} shut down mid-stream",
                finished_at=now,
                updated_at=now,
            )
            .returning(InferenceTask.id)
        )
        failed_ids = list(failed.scalars())
        for tid in requeued_ids + failed_ids:
            await notify(s, store, CHUNK_CHANNEL, tid)
    return Offline(rows=rows, requeued=len(requeued_ids), failed=len(failed_ids))


# --- status ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedRow:
    kind: str  # llm | agent
    name: str
    status: str
    last_heartbeat_at: datetime | None
    inactive_since: datetime | None
    heartbeat_interval: float | None = None


@dataclass(frozen=True, slots=True)
class SessionStatus:
    session_id: str
    state: str  # live | stale | inactive
    last_heartbeat_at: datetime | None
    rows: list[PublishedRow]


async def list_sessions(
    store: Store, *, heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
) -> list[SessionStatus]:
    now = utcnow()
    by_session: dict[str, list[PublishedRow]] = {}
    async with store.session() as s:
        for model, kind in ((Llm, "llm"), (Agent, "agent")):
            q = (
                select(model)
                .where(model.kind == LlmKind.VIRTUAL)
                .order_by(model.provider_session_id, model.name)
            )
            found = cast("Sequence[Llm | Agent]", (await s.execute(q)).scalars().all())
            for row in found:
                by_session.setdefault(row.provider_session_id or "-", []).append(
                    PublishedRow(
                        kind,
                        row.name,
                        row.status.value,
                        row.last_heartbeat_at,
                        row.inactive_since,
                        row.heartbeat_interval,
                    )
                )
    out: list[SessionStatus] = []
    for sid, rows in sorted(by_session.items()):
        beats = [r.last_heartbeat_at for r in rows if r.last_heartbeat_at is not None]
        last = max(beats) if beats else None
        every = [r.heartbeat_interval for r in rows if r.heartbeat_interval is not None]
        if any(r.status == LlmStatus.ACTIVE for r in rows):
            interval = max(every) if every else None
            live = row_is_live(
                LlmStatus.ACTIVE, last, now, interval=interval, timeout=heartbeat_timeout
            )
            state = "live" if live else "stale"
        else:
            state = "inactive"
        out.append(SessionStatus(sid, state, last, rows))
    return out
