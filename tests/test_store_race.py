"""Racing writers: several OS processes, each with its own store, append to one thread
at once; afterwards the turn indexes are exactly 0..N-1 and every message is there once."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, all_messages
from mcpctl_tui.store.threads import create_thread, list_threads
from tests.support.message_append import append_message
from tests.support.store_seed import create_agent, create_llm

REPO_ROOT = str(Path(__file__).resolve().parents[1])
WRITERS = 4
EACH = 40

WRITER = """
import asyncio, sys, time
from mcpctl_tui.store.engine import open_store
from mcpctl_tui.store.messages import NewMessage
from tests.support.message_append import AppendStats, append_message

async def go() -> None:
    url, thread_id, name, each, start_at = sys.argv[1:6]
    store = await open_store(url)
    stats = AppendStats()
    try:
        await asyncio.sleep(max(0.0, float(start_at) - time.time()))
        for i in range(int(each)):
            await append_message(
                store, int(thread_id), NewMessage(role="user", content=f"{name}:{i}"), stats=stats
            )
    finally:
        await store.close()
    print(stats.retries)

asyncio.run(go())
"""


@pytest.mark.slow
async def test_processes_appending_to_one_thread(store: Store) -> None:
    async with store.transaction() as s:
        llm = await create_llm(s, name="l", type="openai")
        agent = await create_agent(s, name="a", llm_id=llm.id)
        thread = await create_thread(s, agent.id, "race")
    await append_message(store, thread.id, NewMessage(role="system", content="start"))

    start_at = time.time() + 2.0  # all started and connected, then all at once
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            store.url,
            str(thread.id),
            f"w{n}",
            str(EACH),
            str(start_at),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(WRITERS)
    ]
    outputs = [await p.communicate() for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()

    async with store.session() as s:
        rows = await all_messages(s, thread.id)
        [summary] = await list_threads(s, agent.id)
    total = 1 + WRITERS * EACH
    assert [m.turn_index for m in rows] == list(range(total))
    contents = [m.content for m in rows[1:]]
    assert sorted(contents) == sorted(f"w{n}:{i}" for n in range(WRITERS) for i in range(EACH))
    # Each writer's own turns stay in its order.
    for n in range(WRITERS):
        mine = [c for c in contents if c.startswith(f"w{n}:")]
        assert mine == [f"w{n}:{i}" for i in range(EACH)]
    assert summary.turn_count == total
    assert summary.last_turn_at == max(m.created_at for m in rows)
