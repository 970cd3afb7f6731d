"""Racing senders: 8 OS processes, each with its own store, send to one thread at once
through ``ChatService`` (the append path the app runs); afterwards every user turn and
every reply is stored exactly once, at indexes exactly 0..N-1, each question followed
by its own answer, nothing pending."""

from __future__ import annotations

import asyncio
import os
import sys
from itertools import pairwise

import pytest

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.threads import create_thread, get_thread, list_threads
from tests.support import REPO_ROOT
from tests.support.chat_race import READY, race_problems, sent_texts
from tests.support.seed import add_agent, add_llm

SENDERS = 8
SENDS = 10


@pytest.mark.slow
async def test_processes_sending_to_one_thread(store: Store) -> None:
    async with store.transaction() as s:
        llm = await add_llm(s, name="echo", type="echo")
        agent = await add_agent(s, name="a", llm_id=llm.id, system_prompt="Be brief.")
        thread = await create_thread(s, agent.id, "race")

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    names = [f"w{n}" for n in range(SENDERS)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.chat_race",
            store.url,
            agent.name,
            str(thread.id),
            name,
            str(SENDS),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in names
    ]
    try:
        for p in procs:  # every sender started, connected and waiting
            assert p.stdout is not None
            line = await asyncio.wait_for(p.stdout.readline(), 120)
            assert line.decode().strip() == READY, (await p.communicate())[1].decode()
        outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
    last_send_returned = max(float(out.decode().split()[-1]) for out, _err in outputs)

    async with store.session() as s:
        turns = await all_messages(s, thread.id)
        row = await get_thread(s, thread.id)
        [summary] = await list_threads(s, agent.id)
    assert race_problems(turns, {n: sent_texts(n, SENDS) for n in names}) == []
    # They did race: the senders' turns interleave (one after the other would switch
    # sender SENDERS - 1 times).
    senders = [t.content.split(":")[0] for t in turns if t.role == "user"]
    switches = sum(a != b for a, b in pairwise(senders))
    assert switches > SENDERS - 1
    assert len(turns) == summary.turn_count == 2 * SENDERS * SENDS
    # The last turn to be written is the newest reply: finishing it touched the thread
    # after its placeholder was created, and before the last send returned.
    assert summary.last_turn_at == row.last_turn_at
    newest = max(t.created_at for t in turns)
    assert newest <= row.last_turn_at
    assert row.last_turn_at.timestamp() <= last_send_returned
