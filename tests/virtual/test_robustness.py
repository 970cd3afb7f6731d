"""A provider that must not run twice, must outlive its store, and must refuse a bad file
before it registers anything."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from mcpctl_tui.llm.events import Finish, TextDelta
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.liveness import row_is_live
from mcpctl_tui.store.models import Llm
from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService
from tests.support.databases import _asyncpg_dsn, pg_base_url
from tests.support.providers import ProviderProc, eventually, pid_alive, write_provider_file

OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=20.0, status_interval=0.1)


def req(text: str) -> InferenceRequest:
    return InferenceRequest(system="", messages=[Message("user", text)], params={})


async def llm_count(store: Store) -> int:
    async with store.session() as s:
        return int((await s.execute(select(func.count()).select_from(Llm))).scalar_one())


async def test_a_second_provider_on_the_same_state_file_refuses(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "sid"
    pa = write_provider_file(tmp_path / "a.yaml", ["cmd-llm"], state_file=state)
    pb = write_provider_file(tmp_path / "b.yaml", ["cmd-llm", "other"], state_file=state)
    first = await ProviderProc(db_url, pa).start()
    try:
        second = ProviderProc(db_url, pb)
        await second.start(expect_ready=False)
        assert await second.wait() == 1
        assert second.stderr == (
            f"Error: provider state file {state} is in use by another provider process "
            f"(pid {first.pid}); one session is served by one process: stop it, or give "
            "this one its own session.stateFile (--state-file)\n"
        )
        assert await llm_count(store) == 1  # the second one registered nothing
        # kill -9: the kernel drops the lock, so a restart is not blocked by a stale one.
        await first.kill()
        assert not pid_alive(first.pid)
        async with ProviderProc(db_url, pb) as third:
            assert "READY" in third.stderr
            assert await llm_count(store) == 2
    finally:
        await first.stop()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("llms: [\n  - x: {\n", "is not valid YAML (line 2): while parsing a flow node: "
         "expected the node content, but found '-'"),
        ("llms:\n  - name: x\n    upstream: {type: nosuch, url: http://h, model: m}\n",
         "llm x: upstream.type: unknown LLM type 'nosuch'; known types: anthropic, "),
        ("llms:\n  - name: x\n    upstream: {type: openai, url: http://h, apiKeyRef: sk-12}\n",
         "llm x: upstream.apiKeyRef: "),
    ],
)  # fmt: skip
async def test_bad_provider_files_are_one_line_and_register_nothing(
    store: Store, db_url: str, tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpctl_tui", "--db", db_url, "provider", "serve", "-f", str(bad),
        "--state-file", str(tmp_path / "sid"), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 1
    line = err.decode()
    assert line.startswith(f"Error: provider file {bad}")
    assert message in line and line.count("\n") == 1 and "sk-12" not in line
    assert await llm_count(store) == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_provider_outlives_a_store_outage(store: Store, db_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses every connection of the provider for a while (its backends
    terminated, new ones refused); the provider keeps retrying and serves again after."""
    base = pg_base_url()
    assert base is not None
    dbname = store.engine.url.database
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "s")
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    await store.close()
    try:
        async with ProviderProc(db_url, pf, heartbeat_interval=0.2) as prov:
            await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                dbname,
            )
            await eventually(lambda: "heartbeat failed" in prov.stderr, within=10)
            await asyncio.sleep(2.0)  # several failed heartbeats, claims, relistens
            await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
            assert prov.proc is not None and prov.proc.returncode is None
            again = await open_store(db_url)
            try:

                async def beating() -> bool:
                    row = await again_llm(again)
                    return row_is_live(
                        row.status, row.last_heartbeat_at, interval=row.heartbeat_interval,
                        timeout=OPTS.heartbeat_timeout,
                    )  # fmt: skip

                # Three missed beats of 0.2 s make it offline: wait for it to beat again.
                await eventually(beating, within=15)
                async with VirtualLlmService(again, OPTS) as svc:
                    llm = (await again_llm(again)).id
                    events = [e async for e in svc.enqueue_infer_task(llm, req("back"))]
            finally:
                await again.close()
            assert isinstance(events[-1], Finish)
            assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "back"
            assert prov.proc.returncode is None
            assert await prov.terminate() == 0
            assert "Traceback" not in prov.stderr
            assert "claim failed (" in prov.stderr and "retrying in 1 s" in prov.stderr
    finally:
        await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
        await admin.close()


async def again_llm(store: Store) -> Llm:
    async with store.session() as s:
        return (await s.execute(select(Llm).where(Llm.name == "cmd-llm"))).scalar_one()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_task_given_up_in_an_outage_is_failed_once_the_store_is_back(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """The provider's chunk writes fail for longer than its retries, so it gives the task
    up; once the store takes writes again the task is marked failed (the probe found it
    still 'running' 13.6 minutes later, its caller waiting)."""
    from mcpctl_tui.store.models import InferenceTask, TaskStatus
    from mcpctl_tui.virtual import task_rows
    from mcpctl_tui.virtual.codec import encode_request

    base = pg_base_url()
    assert base is not None
    dbname = store.engine.url.database
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "s")
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        async with ProviderProc(db_url, pf, heartbeat_interval=0.2) as prov:
            llm = (await store_llm(store)).id
            slow = InferenceRequest(
                system="",
                messages=[Message("user", "x")],
                params={"cmd_chunks": 100_000, "cmd_delay": 0.05},
            )
            task_id = await task_rows.insert_task(store, llm, encode_request(slow))
            assert task_id is not None

            async def running() -> bool:
                state = await task_rows.task_state(store, task_id)
                return state is not None and state.status == TaskStatus.RUNNING

            await eventually(running, within=10)
            await store.close()
            await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                dbname,
            )
            await eventually(lambda: "chunk write failed" in prov.stderr, within=10)
            await asyncio.sleep(4.0)  # past the writer's retries (about 3 s): given up
            await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
            back = await open_store(db_url)
            try:
                loop = asyncio.get_running_loop()
                t0 = loop.time()

                async def failed() -> bool:
                    async with back.session() as s:
                        task = await s.get(InferenceTask, task_id)
                    return task is not None and task.status == TaskStatus.ERROR

                await eventually(failed, within=20)
                assert loop.time() - t0 < 12  # the retry's backoff, not the caller's timeout
                async with back.session() as s:
                    task = await s.get(InferenceTask, task_id)
                assert task is not None
                assert task.error == "provider could not write the reply to the store"
            finally:
                await back.close()
            assert "Traceback" not in prov.stderr
    finally:
        await admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
        await admin.close()


async def store_llm(store: Store) -> Llm:
    async with store.session() as s:
        return (await s.execute(select(Llm).where(Llm.name == "cmd-llm"))).scalar_one()
