"""The relay end to end: a provider subprocess serves tasks a dispatcher enqueues."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent, TextDelta
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService
from tests.support.providers import ProviderProc, eventually, pid_alive, write_provider_file
from tests.support.seed import add_llm

OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=20.0, status_interval=0.1)


def req(text: str, **params: object) -> InferenceRequest:
    return InferenceRequest(system="", messages=[Message("user", text)], params=dict(params))


async def collect(events: object) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    async for ev in events:  # type: ignore[attr-defined]
        out.append(ev)
    return out


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def llm_row(store: Store, name: str) -> Llm:
    async with store.session() as s:
        return (await s.execute(select(Llm).where(Llm.name == name))).scalar_one()


async def test_provider_serves_a_command_upstream(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf):
        sid = (tmp_path / "sid").read_text().strip()
        row = await llm_row(store, "cmd-llm")
        assert row.kind == LlmKind.VIRTUAL
        assert row.provider_session_id == sid
        assert row.status == LlmStatus.ACTIVE
        assert row.url == "" and row.api_key_ref is None
        async with VirtualLlmService(store, OPTS) as svc:
            events = await collect(svc.enqueue_infer_task(row.id, req("héllo ", cmd_chunks=50)))
    assert text_of(events) == "héllo " * 50
    assert isinstance(events[-1], Finish)
    async with store.session() as s:
        task = (await s.execute(select(InferenceTask))).scalar_one()
    assert task.status == TaskStatus.COMPLETED
    assert task.claimed_by == sid


async def test_any_text_survives_the_relay(store: Store, db_url: str, tmp_path: Path) -> None:
    # NUL (JSONB refuses it), lone surrogates' neighbours, control bytes, markup: model
    # output is untrusted text and the relay hands it over unchanged.
    text = "a\x00b \x1b[2J [bold]x[/bold] \u2028 emoji \U0001f600 end"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf):
        row = await llm_row(store, "cmd-llm")
        async with VirtualLlmService(store, OPTS) as svc:
            events = await collect(svc.enqueue_infer_task(row.id, req(text, cmd_chunks=3)))
    assert isinstance(events[-1], Finish), events[-1]
    assert text_of(events) == text * 3


async def test_upstream_failure_is_a_stream_error(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf):
        row = await llm_row(store, "cmd-llm")
        async with VirtualLlmService(store, OPTS) as svc:
            events = await collect(svc.enqueue_infer_task(row, req("part", cmd_exit=3)))
    assert text_of(events) == "part"
    err = events[-1]
    assert isinstance(err, StreamError)
    assert "status 3" in err.message and "failing on purpose" in err.message


async def test_caller_cancel_stops_the_upstream(store: Store, db_url: str, tmp_path: Path) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    pidfile = tmp_path / "up.pid"
    async with ProviderProc(db_url, pf):
        row = await llm_row(store, "cmd-llm")
        async with VirtualLlmService(store, OPTS) as svc:
            got: list[StreamEvent] = []

            async def consume() -> None:
                r = req("x", cmd_chunks=1000, cmd_delay=0.05, cmd_pidfile=str(pidfile))
                async for ev in svc.enqueue_infer_task(row.id, r):
                    got.append(ev)

            t = asyncio.create_task(consume())
            # Waits come first; the first text means the upstream process is running.
            await eventually(lambda: any(isinstance(e, TextDelta) for e in got), within=15)
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)
            upstream_pid = int(pidfile.read_text())
            await eventually(lambda: not pid_alive(upstream_pid))
    async with store.session() as s:
        task = (await s.execute(select(InferenceTask))).scalar_one()
    assert task.status == TaskStatus.CANCELLED


async def test_publisher_offline_fails_at_once(store: Store, db_url: str, tmp_path: Path) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf) as prov:
        assert await prov.terminate(signal.SIGINT) == 0
    row = await llm_row(store, "cmd-llm")
    assert row.status == LlmStatus.INACTIVE and row.inactive_since is not None
    async with VirtualLlmService(store, OPTS) as svc:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        events = await collect(svc.enqueue_infer_task(row.id, req("hi")))
        assert loop.time() - t0 < 1.0
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind == ErrorKind.OFFLINE
    assert "publisher offline" in err.message and "cmd-llm" in err.message
    assert "last seen" in err.message
    async with store.session() as s:
        assert (await s.execute(select(InferenceTask))).first() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_change_watch_sees_every_commit(store: Store) -> None:
    from mcpctl_tui.virtual.notify import SqliteChangeWatch

    watch = SqliteChangeWatch(store, force_every=3600)
    assert watch.changed()  # the first look always reads
    assert not watch.changed()
    other = await open_store(store.url, migrate=False)  # another writer
    try:
        for i in range(20):
            await add_llm(other, f"l{i}")
            assert watch.changed(), i
            assert not watch.changed(), i
    finally:
        await other.close()


async def test_chunks_are_dropped_once_read(store: Store, db_url: str, tmp_path: Path) -> None:
    from sqlalchemy import func

    from mcpctl_tui.store.models import InferenceChunk

    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf):
        row = await llm_row(store, "cmd-llm")
        async with VirtualLlmService(store, OPTS) as svc:
            events = await collect(svc.enqueue_infer_task(row.id, req("x", cmd_chunks=30)))
            assert isinstance(events[-1], Finish)

            async def no_chunks() -> bool:
                async with store.session() as s:
                    q = select(func.count()).select_from(InferenceChunk)
                    return (await s.execute(q)).scalar() == 0

            await eventually(no_chunks, within=5)
    async with store.session() as s:
        task = (await s.execute(select(InferenceTask))).scalar_one()
    assert task.status == TaskStatus.COMPLETED  # the task row stays for the GC


async def test_unknown_and_public_llms_are_refused(store: Store) -> None:
    await add_llm(store, "pub", type="openai", url="http://h")
    pub = await llm_row(store, "pub")
    async with VirtualLlmService(store, OPTS) as svc:
        missing = await collect(svc.enqueue_infer_task(9999, req("x")))
        public = await collect(svc.enqueue_infer_task(pub.id, req("x")))
    assert missing == [StreamError(ErrorKind.NOT_FOUND, "LLM 9999 not found")]
    assert public == [StreamError(ErrorKind.CONFIG, "LLM pub is not a virtual LLM")]
    async with store.session() as s:
        assert (await s.execute(select(InferenceTask))).first() is None
