"""A running task whose chunks stop for longer than the heartbeat timeout has stalled,
however alive its provider session looks: the caller gives it up (the task failed, the
text that came kept) instead of waiting for ever, as the probe's caller did for 13.6
minutes after a short store outage left a task ``running`` under a live session."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from sqlalchemy import select

from mcpctl_tui.llm.events import ErrorKind, StreamError
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import InferenceTask, TaskStatus
from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService
from tests.support.cli_runs import cli_argv
from tests.support.providers import ProviderProc, eventually, pid_alive, write_provider_file
from tests.support.seed import add_agent
from tests.virtual.test_relay import OPTS, collect, llm_row, req, text_of


async def test_a_live_provider_that_stops_writing_is_given_up(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    # The provider beats every 0.3 s all along: live by every rule but the silence one.
    async with ProviderProc(db_url, pf, heartbeat_interval=0.3):
        row = await llm_row(store, "cmd-llm")
        opts = DispatchOptions(heartbeat_timeout=2.0, claim_timeout=20.0, status_interval=0.1)
        async with VirtualLlmService(store, opts) as svc:
            # One chunk, then 60 s of nothing (a provider that gave the task up).
            events = await collect(
                svc.enqueue_infer_task(row.id, req("first ", cmd_chunks=2, cmd_delay=60))
            )
    assert text_of(events) == "first "
    end = events[-1]
    assert isinstance(end, StreamError) and end.kind == ErrorKind.TIMEOUT
    assert re.search(r"wrote nothing for [23] s mid-stream; gave the reply up$", end.message)
    async with store.session() as s:
        task = (await s.execute(select(InferenceTask))).scalar_one()
    assert task.status == TaskStatus.ERROR and "wrote nothing" in (task.error or "")


async def test_a_provider_killed_with_9_takes_its_command_upstream_along(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """No cleanup of the provider runs on kill -9, and an upstream that is not writing
    gets no SIGPIPE to end it: it still dies with its provider."""
    pidfile = tmp_path / "up.pid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf) as prov:
        row = await llm_row(store, "cmd-llm")
        async with VirtualLlmService(store, OPTS) as svc:
            quiet = req("x", cmd_first_delay=60, cmd_pidfile=str(pidfile))
            stream = svc.enqueue_infer_task(row.id, quiet)
            reader = asyncio.ensure_future(collect(stream))
            await eventually(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
            upstream = int(pidfile.read_text())
            assert pid_alive(upstream)
            await prov.kill()
            await eventually(lambda: not pid_alive(upstream), within=5)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def test_a_caller_killed_with_9_stops_its_task_at_the_provider(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """The probe: ``timeout -s KILL`` on chat left an endless upstream writing 9.2 MB in
    50 s for nobody. The caller beats on its task; a provider stops a task unread for
    its heartbeat timeout."""
    conf = tmp_path / "config.yaml"
    conf.write_text("heartbeat_timeout: 2\n")
    pidfile = tmp_path / "up.pid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    async with ProviderProc(db_url, pf, heartbeat_interval=0.3, heartbeat_timeout=2):
        row = await llm_row(store, "cmd-llm")
        params = {"cmd_chunks": 100_000, "cmd_delay": 0.05, "cmd_pidfile": str(pidfile)}
        await add_agent(store, "far", row.id, default_params=params)
        chat = await asyncio.create_subprocess_exec(
            *cli_argv(db_url, ("chat", "far", "-m", "on and on")),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "MCPCTL_TUI_CONFIG": str(conf)},
        )
        assert chat.stdout is not None
        assert await asyncio.wait_for(chat.stdout.read(8), 30)
        upstream = int(pidfile.read_text())
        chat.kill()  # no chance to cancel anything
        await chat.wait()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await eventually(lambda: not pid_alive(upstream), within=10)
        assert loop.time() - t0 < 5  # the timeout (2 s) and a check, not minutes
        async with store.session() as s:
            task = (await s.execute(select(InferenceTask))).scalar_one()
        assert task.status == TaskStatus.CANCELLED
        assert "nobody read the reply for 2 s" in (task.error or "")
