"""SIGTERM and SIGHUP (a closed terminal, ``timeout``) end a ``chat`` reply as Ctrl-C
does: the turn stored cancelled with its partial text, a virtual task cancelled so its
provider stops the upstream; then the program ends with 128 + the signal."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import MessageStatus
from tests.support.cli_runs import spawn_cli
from tests.support.providers import ProviderProc, eventually, pid_alive, write_provider_file
from tests.support.seed import add_agent, add_llm
from tests.support.store_rows import threads_of


async def _slow_echo_agent(store: Store) -> int:
    llm = (await add_llm(store)).id
    agent = await add_agent(
        store, "a", llm, system_prompt="x" * 400, default_params={"echo_delay": 0.02}
    )
    return agent.id


async def _stored_reply(store: Store, agent_id: int) -> tuple[MessageStatus, str]:
    (thread,) = await threads_of(store, agent_id)
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    return rows[1].status, rows[1].content


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
async def test_one_shot_reply_is_kept_and_the_exit_names_the_signal(
    store: Store, db_url: str, sig: signal.Signals
) -> None:
    agent = await _slow_echo_agent(store)
    proc = await spawn_cli(db_url, "chat", "a", "-m", "hi")
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.read(8), 30)
    assert first
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    proc.send_signal(sig)
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    assert loop.time() - t0 < 2  # promptly, the reply stored on the way
    assert proc.returncode == 128 + sig, err
    assert b"reply cancelled (partial reply kept)" in err
    status, content = await _stored_reply(store, agent)
    assert status == MessageStatus.CANCELLED
    assert content.encode() == first + rest and 0 < len(content) < 400


async def test_the_repl_ends_on_sighup_mid_reply(store: Store, db_url: str) -> None:
    """Unlike Ctrl-C (a new prompt), a hang-up ends the session: its terminal is gone."""
    agent = await _slow_echo_agent(store)
    proc = await spawn_cli(db_url, "chat", "a")
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"hello\n")
    await proc.stdin.drain()
    assert await asyncio.wait_for(proc.stdout.read(8), 30)
    proc.send_signal(signal.SIGHUP)
    # stdin stays open: the REPL ends by itself, it does not wait for another line.
    await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 128 + signal.SIGHUP
    status, content = await _stored_reply(store, agent)
    assert status == MessageStatus.CANCELLED and content


async def test_sigterm_cancels_the_virtual_task_and_its_upstream(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """The probe's endless upstream kept writing after ``timeout`` killed ``chat``."""
    pidfile = tmp_path / "up.pid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf):
        async with store.session() as s:
            llm = (await s.execute(select(Llm).where(Llm.name == "cmd-llm"))).scalar_one()
        params = {"cmd_chunks": 100_000, "cmd_delay": 0.02, "cmd_pidfile": str(pidfile)}
        await add_agent(store, "far", llm.id, default_params=params)
        proc = await spawn_cli(db_url, "chat", "far", "-m", "on and on")
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.read(8), 30)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 128 + signal.SIGTERM, err
        async with store.session() as s:
            task = (await s.execute(select(InferenceTask))).scalar_one()
        assert task.status == TaskStatus.CANCELLED
        upstream = int(pidfile.read_text())
        await eventually(lambda: not pid_alive(upstream), within=10)
