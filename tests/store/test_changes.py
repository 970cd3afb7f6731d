"""The change feed (store/changes.py) and the liveness rule (store/liveness.py), on both
backends: another connection's writes arrive as Changes, bursts coalesce, an idle store
yields nothing, and the SQL form of the liveness rule agrees with the Python one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mcpctl_tui.store.changes import Change, watch
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.liveness import deadline, heard_within, is_live, live_until, row_is_live
from mcpctl_tui.store.manifest import apply_manifest
from mcpctl_tui.store.models import Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from tests.support.seed import add_agent, add_llm, add_project, add_thread

POLL = 0.05


@pytest.fixture
async def writer(store: Store) -> AsyncIterator[Store]:
    """A second engine on the same database: another process as far as the feed knows."""
    other = await open_store(store.url)
    try:
        yield other
    finally:
        await other.close()


async def _next(changes: AsyncIterator[Change], seconds: float = 5.0) -> Change:
    async with asyncio.timeout(seconds):
        return await anext(changes)


async def _quiet(changes: AsyncIterator[Change], seconds: float) -> Change | None:
    try:
        async with asyncio.timeout(seconds):
            return await anext(changes)
    except TimeoutError:
        return None


async def test_a_write_elsewhere_arrives_as_a_change(store: Store, writer: Store) -> None:
    async with watch(store, poll_interval=POLL) as changes:
        assert await _quiet(changes, 0.3) is None  # nothing written: nothing said
        started = time.monotonic()
        await add_project(writer, "p1")
        change = await _next(changes)
        assert time.monotonic() - started < 1.0
        if store.is_sqlite:
            assert change == Change(None, None)
        else:
            assert change == Change(frozenset({"project"}), frozenset())
            assert change.touches("project") and not change.touches("agent")
            assert not change.touches_thread(1)
        assert await _quiet(changes, 0.3) is None


async def test_an_mcp_server_written_elsewhere_arrives(store: Store, writer: Store) -> None:
    await add_project(store, "p1")
    text = "kind: mcpserver\nname: fs\nproject: p1\ntransport: stdio\ncommand: [x]\n"
    async with watch(store, poll_interval=POLL) as changes:
        await apply_manifest(writer, [(None, text)])
        change = await _next(changes)
        assert change.touches("mcp_server")
        if not store.is_sqlite:
            assert change.tables == frozenset({"mcp_server"})


async def test_thread_writes_name_their_thread(store: Store, writer: Store) -> None:
    llm = await add_llm(writer, "l")
    agent = await add_agent(writer, "a", llm.id)
    async with watch(store, poll_interval=POLL) as changes:
        thread = await add_thread(writer, agent.id, [{"role": "user", "content": "hi"}])
        change = await _next(changes)
        assert change.touches_thread(thread.id)
        if not store.is_sqlite:
            assert change.tables == frozenset({"chat_thread", "chat_message"})
            assert change.thread_ids == frozenset({thread.id})
            assert not change.touches_thread(thread.id + 1)
            assert not change.only_messages_of(thread.id)  # the thread row came too


async def test_a_burst_of_writes_coalesces(store: Store, writer: Store) -> None:
    async with watch(store, poll_interval=POLL, coalesce=0.1) as changes:
        for i in range(20):
            await add_project(writer, f"p{i}")
        first = await _next(changes)
        assert first.touches("project")
        # All twenty in at most a couple of Changes, not twenty.
        more = 0
        while await _quiet(changes, 0.4) is not None:
            more += 1
        assert more <= 2


async def test_an_update_matching_no_row_says_nothing(store: Store, writer: Store) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite's data_version moves on any commit; the triggers are PostgreSQL's")
    async with watch(store) as changes:
        async with writer.transaction() as s:
            await s.execute(update(Llm).where(Llm.id == -1).values(name="x"))
        assert await _quiet(changes, 0.5) is None


async def test_payloads_parse_and_merge() -> None:
    a = Change.from_payload("chat_message:3,4")
    assert a == Change(frozenset({"chat_message"}), frozenset({3, 4}))
    assert Change.from_payload("chat_message:4").only_messages_of(4)
    assert Change.from_payload("chat_message") == Change(frozenset({"chat_message"}), None)
    assert Change.from_payload("agent").merge(a) == Change(
        frozenset({"agent", "chat_message"}), frozenset({3, 4})
    )
    assert Change.from_payload("agent").merge(Change()) == Change()
    assert Change().touches_thread(9) and Change().touches("anything")


def test_the_liveness_rule() -> None:
    now = utcnow()
    assert deadline(5.0, 90.0) == 15.0  # three missed beats
    assert deadline(60.0, 90.0) == 90.0  # bounded by the timeout
    assert deadline(None, 90.0) == 90.0  # nothing published: the timeout alone
    beat = now - timedelta(seconds=14)
    assert is_live(beat, now, interval=5.0, timeout=90.0)
    assert not is_live(now - timedelta(seconds=16), now, interval=5.0, timeout=90.0)
    assert live_until(beat, interval=5.0, timeout=90.0) == beat + timedelta(seconds=15)
    assert live_until(None, interval=5.0, timeout=90.0) is None
    assert not is_live(None, now, interval=5.0, timeout=90.0)
    assert not row_is_live(LlmStatus.INACTIVE, now, now, interval=5.0, timeout=90.0)


async def test_the_sql_rule_agrees_with_python(store: Store) -> None:
    now = utcnow()
    cases = {
        "fresh": (now - timedelta(seconds=4), 5.0),
        "three_missed": (now - timedelta(seconds=16), 5.0),
        "slow_but_in_time": (now - timedelta(seconds=80), 60.0),
        "past_timeout": (now - timedelta(seconds=95), 60.0),
        "no_interval": (now - timedelta(seconds=30), None),
        "never": (None, 5.0),
    }
    for name, (beat, interval) in cases.items():
        await add_llm(
            store,
            name,
            kind=LlmKind.VIRTUAL,
            last_heartbeat_at=beat,
            heartbeat_interval=interval,
        )
    q = select(Llm.name).where(heard_within(Llm, now, 90.0, store.dialect))
    async with store.session() as s:
        live = set((await s.execute(q)).scalars())
    expected = {n for n, (b, i) in cases.items() if is_live(b, now, interval=i, timeout=90.0)}
    assert expected == {"fresh", "slow_but_in_time", "no_interval"}
    assert live == expected
