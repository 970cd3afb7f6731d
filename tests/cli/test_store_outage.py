"""The database going away mid-command is one line naming it, never a traceback: a chat
whose store is cut while the reply streams, a read verb whose store is gone. Through a
TCP proxy in front of the real PostgreSQL, reset as a vanished server would be."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.types import MessageStatus
from tests.support.cli_runs import cli_argv, run_cli, spawn_cli
from tests.support.seed import add_agent, add_llm
from tests.support.store_rows import threads_of
from tests.support.tcp_proxy import proxy_to, url_through

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


async def test_a_chat_whose_store_goes_away_stores_the_reply_when_it_is_back(
    store: Store, db_url: str
) -> None:
    """The store is cut while the reply streams and comes back 1.5 s later: the reply's
    finish is tried again (guarded: written once) and the turn is stored complete."""
    llm = (await add_llm(store)).id
    agent = await add_agent(
        store, "a", llm, system_prompt="x" * 400, default_params={"echo_delay": 0.01}
    )
    proxy = await proxy_to(db_url)
    proc = await spawn_cli(url_through(db_url, proxy.port), "chat", "a", "-m", "hi")
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.read(8), 30)
    proxy.cut()
    await asyncio.sleep(1.5)
    proxy.restore()
    rest, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err and b"Error" not in err
    (thread,) = await threads_of(store, agent.id)
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    assert [(m.role, m.status) for m in rows] == [
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.COMPLETE),
    ]
    assert rows[1].content.encode() == first + rest


async def test_a_store_that_stays_away_is_one_line_after_the_retry(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm, system_prompt="x" * 400, default_params={"echo_delay": 0.01})
    conf = tmp_path / "config.yaml"
    conf.write_text("store_retry: 1\n")
    proxy = await proxy_to(db_url)
    proc = await asyncio.create_subprocess_exec(
        *cli_argv(url_through(db_url, proxy.port), ("chat", "a", "-m", "hi")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "MCPCTL_TUI_CONFIG": str(conf)},
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.read(8), 30)  # the reply streams
    proxy.cut()
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err
    text = err.decode()
    assert "Traceback" not in text
    *said, line = text.strip().splitlines()
    assert line.startswith("Error: cannot write to the database: ")
    assert len(said) == 1 and said[0].endswith("; the reply is kept and tried again")


async def test_a_read_verb_on_a_store_that_is_gone(store: Store, db_url: str) -> None:
    proxy = await proxy_to(db_url)
    proxy.cut()
    res = await run_cli(url_through(db_url, proxy.port), "get", "agents")
    assert res.code == 1 and "Traceback" not in res.err
    assert res.err.startswith("Error: cannot open database ") and len(res.err.splitlines()) == 1


async def test_ctrl_c_ends_a_chat_whose_store_stopped_answering(store: Store, db_url: str) -> None:
    """The probe: a PostgreSQL connection that stops answering hung chat for ever and
    Ctrl-C did nothing. Now Ctrl-C ends it within 2 s and says the reply was not stored."""
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm, system_prompt="x" * 400, default_params={"echo_delay": 0.02})
    proxy = await proxy_to(db_url)
    proc = await spawn_cli(url_through(db_url, proxy.port), "chat", "a", "-m", "hi")
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.read(8), 30)
    proxy.stall()
    await asyncio.sleep(0.5)  # the reply ends on its own now; its write hangs
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    proc.send_signal(signal.SIGINT)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert loop.time() - t0 < 2.5, err
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert b"reply cancelled (the reply was not stored: the store did not answer in time)" in err
