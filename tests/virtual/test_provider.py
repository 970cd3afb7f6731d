"""Provider sessions as real subprocesses: registration rules, heartbeat, shutdown, kill -9."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent, TextDelta
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from mcpctl_tui.virtual import task_rows
from mcpctl_tui.virtual.codec import encode_request
from mcpctl_tui.virtual.dispatch import CLAIM_WAIT, DispatchOptions, VirtualLlmService
from tests.support.providers import ProviderProc, eventually, write_provider_file
from tests.support.seed import add_llm

OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=20.0, status_interval=0.1)
KILL_OPTS = DispatchOptions(heartbeat_timeout=2.0, claim_timeout=20.0, status_interval=0.1)
AGENT = {"name": "cmd-agent", "llm": "cmd-llm", "systemPrompt": "Be brief.",
         "defaultParams": {"temperature": 0.1}}  # fmt: skip


def req(text: str, **params: object) -> InferenceRequest:
    return InferenceRequest(system="", messages=[Message("user", text)], params=dict(params))


async def row(store: Store, model: type[Llm] | type[Agent], name: str) -> Llm | Agent | None:
    async with store.session() as s:
        q = select(model).where(model.name == name)
        found: Llm | Agent | None = (await s.execute(q)).scalar_one_or_none()
        return found


async def task_row(store: Store, task_id: int) -> InferenceTask:
    async with store.session() as s:
        return (
            await s.execute(select(InferenceTask).where(InferenceTask.id == task_id))
        ).scalar_one()


async def test_register_heartbeat_and_sticky_reconnect(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "sid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], [AGENT], state_file=state)
    async with ProviderProc(db_url, pf, heartbeat_interval=0.2) as prov:
        sid = state.read_text().strip()
        llm = await row(store, Llm, "cmd-llm")
        agent = await row(store, Agent, "cmd-agent")
        assert llm is not None and agent is not None
        assert isinstance(agent, Agent)
        assert (agent.kind, agent.provider_session_id, agent.llm_id) == (
            LlmKind.VIRTUAL,
            sid,
            llm.id,
        )
        assert agent.system_prompt == "Be brief."
        assert agent.default_params == {"temperature": 0.1}
        first_beat = llm.last_heartbeat_at
        assert first_beat is not None

        async def beat_advanced() -> bool:
            r = await row(store, Llm, "cmd-llm")
            return (
                r is not None
                and r.last_heartbeat_at is not None
                and r.last_heartbeat_at > first_beat
            )

        await eventually(beat_advanced, within=5)
        # A heartbeat revives a row someone marked inactive.
        async with store.transaction() as s:
            await s.execute(
                update(Agent)
                .where(Agent.id == agent.id)
                .values(status=LlmStatus.INACTIVE, inactive_since=utcnow())
            )

        async def revived() -> bool:
            r = await row(store, Agent, "cmd-agent")
            return r is not None and r.status == LlmStatus.ACTIVE and r.inactive_since is None

        await eventually(revived, within=5)
        assert await prov.terminate() == 0
    llm2 = await row(store, Llm, "cmd-llm")
    assert llm2 is not None and llm2.status == LlmStatus.INACTIVE
    # Restart with the same state file: same session, same rows, active again.
    async with ProviderProc(db_url, pf) as prov:
        assert "adopted" not in prov.stderr
        llm3 = await row(store, Llm, "cmd-llm")
        assert llm3 is not None
        assert (llm3.id, llm3.provider_session_id, llm3.status) == (llm.id, sid, LlmStatus.ACTIVE)
        assert llm3.inactive_since is None


async def test_adopts_an_inactive_foreign_row(store: Store, db_url: str, tmp_path: Path) -> None:
    long_ago = utcnow() - timedelta(hours=1)
    await add_llm(
        store,
        "cmd-llm",
        type="command",
        kind=LlmKind.VIRTUAL,
        provider_session_id="someone-else",
        last_heartbeat_at=long_ago,
        status=LlmStatus.INACTIVE,
        inactive_since=long_ago,
    )
    before = await row(store, Llm, "cmd-llm")
    assert before is not None
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf) as prov:
        after = await row(store, Llm, "cmd-llm")
        assert after is not None
        assert after.id == before.id
        assert after.provider_session_id == (tmp_path / "sid").read_text().strip()
        assert after.status == LlmStatus.ACTIVE
        assert "adopted: llm cmd-llm" in prov.stderr


async def test_refuses_a_public_row(store: Store, db_url: str, tmp_path: Path) -> None:
    await add_llm(store, "cmd-llm", type="openai", url="http://x", model="m")
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm", "other"], state_file=tmp_path / "s")
    prov = ProviderProc(db_url, pf)
    await prov.start(expect_ready=False)
    assert await prov.wait() == 1
    assert "llm cmd-llm is a public row" in prov.stderr
    assert "Traceback" not in prov.stderr
    r = await row(store, Llm, "cmd-llm")
    assert r is not None and r.kind == LlmKind.PUBLIC and r.url == "http://x"
    # All or nothing: the other LLM of the file was not registered either.
    assert await row(store, Llm, "other") is None


async def test_refuses_a_live_foreign_row(store: Store, db_url: str, tmp_path: Path) -> None:
    pa = write_provider_file(tmp_path / "a.yaml", ["cmd-llm"], state_file=tmp_path / "a.sid")
    pb = write_provider_file(tmp_path / "b.yaml", ["cmd-llm"], state_file=tmp_path / "b.sid")
    async with ProviderProc(db_url, pa):
        sid_a = (tmp_path / "a.sid").read_text().strip()
        b = ProviderProc(db_url, pb)
        await b.start(expect_ready=False)
        assert await b.wait() == 1
        assert f"served by live provider session {sid_a}" in b.stderr
        r = await row(store, Llm, "cmd-llm")
        assert r is not None and r.provider_session_id == sid_a


async def test_clean_shutdown_requeues_claimed_and_fails_running(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "sid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=state, concurrency=2)
    async with ProviderProc(db_url, pf) as prov:
        llm = await row(store, Llm, "cmd-llm")
        assert llm is not None
        # One task streams slowly (running); one is claimed but silent (claimed).
        running = await task_rows.insert_task(
            store, llm.id, encode_request(req("r", cmd_chunks=500, cmd_delay=0.02))
        )
        claimed = await task_rows.insert_task(
            store, llm.id, encode_request(req("c", cmd_first_delay=30))
        )

        async def states_reached() -> bool:
            a, b = await task_row(store, running), await task_row(store, claimed)
            return a.status == TaskStatus.RUNNING and b.status == TaskStatus.CLAIMED

        await eventually(states_reached, within=10)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await prov.terminate() == 0
        assert loop.time() - t0 < 5
    r, c = await task_row(store, running), await task_row(store, claimed)
    assert r.status == TaskStatus.ERROR and "shut down mid-stream" in (r.error or "")
    assert c.status == TaskStatus.PENDING and c.claimed_by is None
    llm2 = await row(store, Llm, "cmd-llm")
    assert llm2 is not None and llm2.status == LlmStatus.INACTIVE
    # The restarted session (same state file) picks the requeued task up again; the
    # caller following it sees the whole reply.
    async with VirtualLlmService(store, OPTS) as svc:
        # Follow the requeued task via the same path the dispatcher uses for new ones.
        async with store.transaction() as s:
            await s.execute(
                update(InferenceTask)
                .where(InferenceTask.id == claimed)
                .values(request=encode_request(req("again", cmd_chunks=3)))
            )
        async with ProviderProc(db_url, pf):
            await eventually(lambda: _status_is(store, claimed, TaskStatus.COMPLETED), within=15)
            fresh = [e async for e in svc.enqueue_infer_task(llm.id, req("new"))]
    assert isinstance(fresh[-1], Finish)
    chunks = await task_rows.read_chunks(store, claimed, 0)
    assert "".join(ev[1] for _s, p in chunks for ev in p if ev[0] == "t") == "again" * 3


async def _status_is(store: Store, task_id: int, status: TaskStatus) -> bool:
    return (await task_row(store, task_id)).status == status


async def test_kill_9_mid_stream_fails_the_caller_in_time(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    prov = await ProviderProc(db_url, pf, heartbeat_interval=0.3).start()
    try:
        llm = await row(store, Llm, "cmd-llm")
        assert llm is not None
        got: list[StreamEvent] = []
        killed_at: list[float] = []
        loop = asyncio.get_running_loop()
        async with VirtualLlmService(store, KILL_OPTS) as svc:
            async with asyncio.timeout(20):
                async for ev in svc.enqueue_infer_task(
                    llm.id, req("x", cmd_chunks=10_000, cmd_delay=0.01)
                ):
                    got.append(ev)
                    if len(got) == 3:
                        await prov.kill()
                        killed_at.append(loop.time())
            elapsed = loop.time() - killed_at[0]
    finally:
        await prov.stop()
    err = got[-1]
    assert isinstance(err, StreamError) and err.kind == ErrorKind.OFFLINE
    assert "stopped responding" in err.message
    assert any(isinstance(e, TextDelta) for e in got)
    # Within the heartbeat timeout (2 s) plus a status check and slack for a loaded box.
    assert elapsed < KILL_OPTS.heartbeat_timeout + 2.5
    async with store.session() as s:
        t = (await s.execute(select(InferenceTask))).scalar_one()
    assert t.status == TaskStatus.ERROR


async def test_unclaimed_task_times_out(store: Store, db_url: str, tmp_path: Path) -> None:
    # A live publisher row whose provider never claims (concurrency busy elsewhere).
    await add_llm(
        store, "ghost", type="command", kind=LlmKind.VIRTUAL, provider_session_id="ghost-session"
    )
    llm = await row(store, Llm, "ghost")
    assert llm is not None
    opts = DispatchOptions(heartbeat_timeout=60, claim_timeout=0.5, status_interval=0.05)
    async with VirtualLlmService(store, opts) as svc:
        events = [e async for e in svc.enqueue_infer_task(llm.id, req("hi"))]
    # What the caller showed while it waited, then the one error.
    assert len(events) == 2 and events[0] == CLAIM_WAIT
    err = events[1]
    assert isinstance(err, StreamError) and err.kind == ErrorKind.TIMEOUT
    assert "no provider claimed" in err.message and "ghost" in err.message
    async with store.session() as s:
        t = (await s.execute(select(InferenceTask))).scalar_one()
    assert t.status == TaskStatus.ERROR and t.error == err.message


async def test_two_providers_serve_one_store(store: Store, db_url: str, tmp_path: Path) -> None:
    pa = write_provider_file(tmp_path / "a.yaml", ["llm-a"], state_file=tmp_path / "a.sid")
    pb = write_provider_file(tmp_path / "b.yaml", ["llm-b"], state_file=tmp_path / "b.sid")
    async with ProviderProc(db_url, pa), ProviderProc(db_url, pb):
        a, b = await row(store, Llm, "llm-a"), await row(store, Llm, "llm-b")
        assert a is not None and b is not None
        assert a.provider_session_id != b.provider_session_id
        async with VirtualLlmService(store, OPTS) as svc:

            async def one(llm_id: int, i: int) -> str:
                out = [
                    e async for e in svc.enqueue_infer_task(llm_id, req(f"<{i}>", cmd_chunks=20))
                ]
                assert isinstance(out[-1], Finish), out[-1]
                return "".join(e.text for e in out if isinstance(e, TextDelta))

            results = await asyncio.gather(*(one((a.id, b.id)[i % 2], i) for i in range(8)))
    assert results == [f"<{i}>" * 20 for i in range(8)]
    async with store.session() as s:
        claimed = dict(
            (await s.execute(select(InferenceTask.llm_id, InferenceTask.claimed_by))).all()
        )
    assert claimed[a.id] == a.provider_session_id and claimed[b.id] == b.provider_session_id


async def test_provider_file_errors_are_one_line(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "llms:\n  - name: x\n    upstream: {type: openai, url: http://h, apiKeyRef: sk-123}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcpctl_tui", "--db", db_url, "provider", "serve", "-f", str(bad),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 1
    text = err.decode()
    assert "apiKeyRef" in text and "literal keys are refused" in text
    assert "Traceback" not in text and "sk-123" not in text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_provider_status_lists_sessions(store: Store, db_url: str, tmp_path: Path) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], [AGENT], state_file=tmp_path / "s")
    async with ProviderProc(db_url, pf):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mcpctl_tui", "--db", db_url, "provider", "status",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
    text = out.decode()
    sid = (tmp_path / "s").read_text().strip()
    assert f"session {sid}  live" in text
    assert "llm   cmd-llm  active" in text and "agent cmd-agent  active" in text


async def test_concurrency_limit_and_own_llms_only(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    # A task for an LLM the provider does not publish stays pending.
    await add_llm(
        store, "elsewhere", type="command", kind=LlmKind.VIRTUAL, provider_session_id="other"
    )
    pf = write_provider_file(
        tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid", concurrency=2
    )
    async with ProviderProc(db_url, pf):
        llm = await row(store, Llm, "cmd-llm")
        other = await row(store, Llm, "elsewhere")
        assert llm is not None and other is not None
        foreign = await task_rows.insert_task(store, other.id, encode_request(req("no")))
        ids = [
            await task_rows.insert_task(
                store, llm.id, encode_request(req(f"{i}", cmd_first_delay=0.6, cmd_chunks=1))
            )
            for i in range(4)
        ]
        seen_busy: list[int] = []

        async def all_done() -> bool:
            # One query: one consistent snapshot of the four statuses.
            async with store.session() as s:
                q = select(InferenceTask.status).where(InferenceTask.id.in_(ids))
                statuses = list((await s.execute(q)).scalars())
            seen_busy.append(sum(st in (TaskStatus.CLAIMED, TaskStatus.RUNNING) for st in statuses))
            return all(st == TaskStatus.COMPLETED for st in statuses)

        await eventually(all_done, within=20, step=0.05)
        assert max(seen_busy) == 2  # two at once, never more
        assert (await task_row(store, foreign)).status == TaskStatus.PENDING


async def test_a_deleted_row_is_published_again(store: Store, db_url: str, tmp_path: Path) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], [AGENT], state_file=tmp_path / "s")
    async with ProviderProc(db_url, pf, heartbeat_interval=0.2):
        agent = await row(store, Agent, "cmd-agent")
        assert agent is not None
        async with store.transaction() as s:
            await s.delete(await s.get(Agent, agent.id))

        async def back() -> bool:
            return await row(store, Agent, "cmd-agent") is not None

        await eventually(back, within=5)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_provider_relistens_after_its_connection_is_cut(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import text

    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "s")
    listeners = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
    )

    async def listening() -> set[int]:
        async with store.session() as s:
            return set((await s.execute(listeners)).scalars())

    async with ProviderProc(db_url, pf, heartbeat_interval=0.2) as prov:
        before = await listening()
        assert before
        async with store.session() as s:
            for pid in before:
                await s.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})

        async def relistened() -> bool:
            now = await listening()
            return bool(now) and not (now & before)

        await eventually(relistened, within=10)
        assert "LISTEN connection lost; reconnecting" in prov.stderr
        llm = await row(store, Llm, "cmd-llm")
        assert llm is not None
        async with VirtualLlmService(store, OPTS) as svc:
            events = [e async for e in svc.enqueue_infer_task(llm.id, req("still here"))]
        assert isinstance(events[-1], Finish)
