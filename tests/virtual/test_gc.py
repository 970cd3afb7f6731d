"""The lifecycle sweep: transitions with short bounds, idempotence, racing sweepers, plans."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import Agent, InferenceChunk, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from mcpctl_tui.virtual.gc import GcBounds, SweepResult, inactivate_stale, sweep
from mcpctl_tui.virtual.registration import offline_rows
from mcpctl_tui.virtual.task_rows import claim_statement
from tests.support.providers import ProviderProc, eventually, write_provider_file
from tests.support.seed import add_agent, add_llm

BOUNDS = GcBounds(heartbeat_timeout=5, inactive_ttl=50, pending_ttl=50, finished_ttl=50)


async def seed(store: Store) -> dict[str, int]:
    now = utcnow()
    ago = lambda s: now - timedelta(seconds=s)  # noqa: E731
    ids: dict[str, int] = {}
    virtual = {"kind": LlmKind.VIRTUAL, "provider_session_id": "p1"}
    async with store.transaction() as s:
        for name, extra in {
            "fresh": {"last_heartbeat_at": ago(1)},
            "stale": {"last_heartbeat_at": ago(10)},
            "old": {"last_heartbeat_at": ago(200), "status": LlmStatus.INACTIVE,
                    "inactive_since": ago(100)},
            "old-used": {"last_heartbeat_at": ago(200), "status": LlmStatus.INACTIVE,
                         "inactive_since": ago(100)},
            "recently-inactive": {"last_heartbeat_at": ago(20), "status": LlmStatus.INACTIVE,
                                  "inactive_since": ago(10)},
        }.items():  # fmt: skip
            ids[name] = (await add_llm(s, name, type="command", **virtual, **extra)).id
        await add_llm(s, "pub", type="openai", url="http://h")  # public: never swept
        for name, llm, extra in (
            ("stale-agent", "stale", {"last_heartbeat_at": ago(10)}),
            ("old-agent", "old", {"last_heartbeat_at": None, "status": LlmStatus.INACTIVE,
                                  "inactive_since": ago(100)}),
        ):  # fmt: skip
            ids[name] = (await add_agent(s, name, ids[llm], **virtual, **extra)).id
        # A public agent an operator pinned to a virtual LLM keeps that LLM alive.
        await add_agent(s, "pub-agent", ids["old-used"])
        for key, llm, status, created, finished in (
            ("t-pending-old", "fresh", TaskStatus.PENDING, ago(100), None),
            ("t-pending-new", "fresh", TaskStatus.PENDING, ago(1), None),
            ("t-done-old", "fresh", TaskStatus.COMPLETED, ago(200), ago(100)),
            ("t-done-new", "fresh", TaskStatus.ERROR, ago(20), ago(10)),
            ("t-running-stale", "stale", TaskStatus.RUNNING, ago(20), None),
        ):
            tid = (
                await s.execute(
                    insert(InferenceTask)
                    .values(llm_id=ids[llm], status=status, request={}, created_at=created,
                            finished_at=finished, claimed_by="p1")
                    .returning(InferenceTask.id)
                )
            ).scalar_one()  # fmt: skip
            ids[key] = tid
        await s.execute(
            insert(InferenceChunk).values(task_id=ids["t-done-old"], seq=1, payload=[["f", None]])
        )
    return ids


async def status_of(store: Store, model: type[Llm] | type[Agent], name: str) -> str | None:
    async with store.session() as s:
        st = (await s.execute(select(model.status).where(model.name == name))).scalar()
    return st.value if st is not None else None


async def task_status(store: Store, task_id: int) -> str | None:
    async with store.session() as s:
        q = select(InferenceTask.status).where(InferenceTask.id == task_id)
        st = (await s.execute(q)).scalar()
    return st.value if st is not None else None


async def test_sweep_transitions_and_idempotence(store: Store) -> None:
    ids = await seed(store)
    result = await sweep(store, BOUNDS)
    assert result == SweepResult(
        llms_inactivated=1,
        agents_inactivated=1,
        tasks_orphaned=1,
        agents_deleted=1,
        llms_deleted=1,
        llms_kept_in_use=1,
        tasks_expired=1,
        tasks_deleted=1,
    )
    assert await status_of(store, Llm, "fresh") == "active"
    assert await status_of(store, Llm, "stale") == "inactive"
    assert await status_of(store, Agent, "stale-agent") == "inactive"
    assert await status_of(store, Llm, "old") is None
    assert await status_of(store, Agent, "old-agent") is None
    assert await status_of(store, Llm, "old-used") == "inactive"
    assert await status_of(store, Llm, "recently-inactive") == "inactive"
    assert await status_of(store, Llm, "pub") == "active"
    assert await task_status(store, ids["t-pending-old"]) == "error"
    assert await task_status(store, ids["t-pending-new"]) == "pending"
    assert await task_status(store, ids["t-done-old"]) is None
    assert await task_status(store, ids["t-done-new"]) == "error"
    assert await task_status(store, ids["t-running-stale"]) == "error"
    async with store.session() as s:
        stale = (await s.execute(select(Llm).where(Llm.name == "stale"))).scalar_one()
        chunks = (await s.execute(select(func.count()).select_from(InferenceChunk))).scalar()
    assert stale.inactive_since is not None
    assert chunks == 0  # they went with their task
    # Idempotent: nothing left to do.
    again = await sweep(store, BOUNDS)
    assert again == SweepResult(llms_kept_in_use=1)


async def test_concurrent_sweepers_do_each_thing_once(store: Store, db_url: str) -> None:
    await seed(store)
    stores = [await open_store(db_url, migrate=False) for _ in range(4)]
    try:
        results = await asyncio.gather(*(sweep(s, BOUNDS) for s in stores))
    finally:
        for s in stores:
            await s.close()
    total = {
        k: sum(getattr(r, k) for r in results)
        for k in ("llms_inactivated", "agents_deleted", "llms_deleted", "tasks_expired",
                  "tasks_deleted", "tasks_orphaned")
    }  # fmt: skip
    assert total == {
        "llms_inactivated": 1,
        "agents_deleted": 1,
        "llms_deleted": 1,
        "tasks_expired": 1,
        "tasks_deleted": 1,
        "tasks_orphaned": 1,
    }


async def test_gc_cli_after_kill_9(store: Store, db_url: str, tmp_path: Path) -> None:
    """A provider killed -9 leaves active rows; `gc` with short bounds retires them."""
    agent = {"name": "cmd-agent", "llm": "cmd-llm"}
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], [agent], state_file=tmp_path / "s")
    prov = await ProviderProc(db_url, pf, heartbeat_interval=0.2).start()
    await prov.kill()
    assert await status_of(store, Llm, "cmd-llm") == "active"

    async def gc(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mcpctl_tui", "--db", db_url, "gc", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    await asyncio.sleep(0.6)
    out = await gc("--heartbeat-timeout", "0.5")
    assert "llms inactivated=1" in out and "agents inactivated=1" in out
    assert await status_of(store, Agent, "cmd-agent") == "inactive"
    await asyncio.sleep(0.6)
    out = await gc("--heartbeat-timeout", "0.5", "--inactive-ttl", "0.5")
    assert "agents deleted=1" in out and "llms deleted=1" in out
    assert await status_of(store, Llm, "cmd-llm") is None

    bad = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpctl_tui", "--db", db_url, "gc", "--pending-ttl", "-1",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await bad.communicate()
    assert bad.returncode == 2 and b"must be a positive number" in err


async def test_sweep_forever_stops(store: Store) -> None:
    from mcpctl_tui.virtual.gc import sweep_forever

    await seed(store)
    stop = asyncio.Event()
    t = asyncio.create_task(sweep_forever(store, BOUNDS, interval=0.05, stop=stop))

    async def swept() -> bool:
        return await status_of(store, Llm, "stale") == "inactive"

    await eventually(swept)
    stop.set()
    async with asyncio.timeout(5):
        await t


async def explain(store: Store, stmt: object) -> str:
    sql = stmt.compile(  # type: ignore[attr-defined]
        dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}
    ).string
    prefix = "EXPLAIN QUERY PLAN " if store.is_sqlite else "EXPLAIN "
    async with store.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + sql)).all()
    return "\n".join(" ".join(str(c) for c in r) for r in rows)


async def test_sweep_and_disconnect_queries_use_their_indexes(store: Store) -> None:
    # Mostly public rows, a few virtual ones: the planner must not need a full scan.
    now = utcnow()
    async with store.transaction() as s:
        await s.execute(
            insert(Llm),
            [{"name": f"pub-{i}", "type": "openai", "url": "http://h"} for i in range(3000)]
            + [
                {"name": f"v-{i}", "type": "command", "kind": LlmKind.VIRTUAL,
                 "provider_session_id": f"s{i % 7}", "last_heartbeat_at": now}
                for i in range(30)
            ],
        )  # fmt: skip
        llm_id = (await s.execute(select(Llm.id).where(Llm.name == "pub-0"))).scalar_one()
        await s.execute(
            insert(Agent),
            [{"name": f"pa-{i}", "llm_id": llm_id} for i in range(3000)]
            + [
                {"name": f"va-{i}", "llm_id": llm_id, "kind": LlmKind.VIRTUAL,
                 "provider_session_id": f"s{i % 7}", "last_heartbeat_at": now}
                for i in range(30)
            ],
        )  # fmt: skip
        # Mostly finished tasks, a few pending: the claim must not scan them all.
        virtual_ids = list(
            (await s.execute(select(Llm.id).where(Llm.kind == LlmKind.VIRTUAL))).scalars()
        )
        await s.execute(
            insert(InferenceTask),
            [{"llm_id": llm_id, "status": TaskStatus.COMPLETED, "request": {}, "finished_at": now}
             for _ in range(3000)]
            + [{"llm_id": v, "status": TaskStatus.PENDING, "request": {}} for v in virtual_ids],
        )  # fmt: skip
    async with store.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    plan = await explain(store, claim_statement(store, "s3", virtual_ids, now))
    assert "ix_inference_task_status" in plan, plan
    for model in (Llm, Agent):
        table = model.__tablename__
        plan = await explain(store, inactivate_stale(model, now, 90.0, store.dialect))
        assert f"ix_{table}_kind_status" in plan, plan
        plan = await explain(store, offline_rows(model, "s3", now))
        assert f"ix_{table}_provider_session_id" in plan, plan


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_gc_watch_sweeps_until_terminated(store: Store, db_url: str) -> None:
    await seed(store)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpctl_tui", "--db", db_url, "gc", "--watch", "0.1",
        "--heartbeat-timeout", "5", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:

        async def swept() -> bool:
            return await status_of(store, Llm, "stale") == "inactive"

        await eventually(swept, within=15)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
