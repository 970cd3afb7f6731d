"""Virtual rows belong to their provider session: ``delete`` through the CLI refuses a
live one (naming the session) and allows an inactive, hibernating or silent one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select, update

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from tests.support.cli_runs import invoke_cli
from tests.support.providers import ProviderProc, write_provider_file
from tests.support.seed import add_llm

AGENT = {"name": "cmd-agent", "llm": "cmd-llm", "systemPrompt": "Be brief."}


async def run_cli(db_url: str, *args: str) -> Result:
    # The CLI runs its own event loop: give it a thread.
    return await asyncio.to_thread(invoke_cli, db_url, *args)


async def names(store: Store) -> tuple[list[str], list[str]]:
    async with store.session() as s:
        llms = list((await s.execute(select(Llm.name).order_by(Llm.name))).scalars())
        agents = list((await s.execute(select(Agent.name).order_by(Agent.name))).scalars())
    return llms, agents


async def test_delete_refuses_live_virtual_rows_and_allows_inactive_ones(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "sid"
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], [AGENT], state_file=state)
    async with ProviderProc(db_url, pf, heartbeat_interval=0.2) as prov:
        sid = state.read_text().strip()
        for kind, name in (("agent", "cmd-agent"), ("llm", "cmd-llm")):
            result = await run_cli(db_url, "delete", kind, name)
            assert result.exit_code == 1
            assert result.stderr == (
                f"Error: {kind} {name} is virtual, served by live provider session {sid}; "
                "it goes when that session ends (or the GC sweeps it), "
                "or delete it once it is inactive\n"
            )
        assert await names(store) == (["cmd-llm"], ["cmd-agent"])
        assert await prov.terminate() == 0  # clean exit: rows inactive at once
    async with store.session() as s:
        llm = (await s.execute(select(Llm))).scalar_one()
        assert llm.status == LlmStatus.INACTIVE
    # The virtual agent still RESTRICTs its LLM, with the readable message.
    result = await run_cli(db_url, "delete", "llm", "cmd-llm")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: llm cmd-llm is in use by 1 agent: cmd-agent\n",
    )
    result = await run_cli(db_url, "delete", "agent", "cmd-agent")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("agent/cmd-agent deleted (")
    result = await run_cli(db_url, "delete", "llm", "cmd-llm")
    assert (result.exit_code, result.stdout) == (0, "llm/cmd-llm deleted\n")
    assert await names(store) == ([], [])


async def test_hibernating_or_silent_virtual_rows_may_be_deleted(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store.transaction() as s:
        for name, status, age in (
            ("hib", LlmStatus.HIBERNATING, 1.0),
            ("silent", LlmStatus.ACTIVE, 600.0),  # provider killed; GC has not run yet
            ("live", LlmStatus.ACTIVE, 1.0),
        ):
            await add_llm(
                s,
                name,
                type="openai",
                kind=LlmKind.VIRTUAL,
                provider_session_id=f"s-{name}",
                status=status,
                last_heartbeat_at=utcnow() - timedelta(seconds=age),
            )
    assert (await run_cli(db_url, "delete", "llm", "hib")).exit_code == 0
    assert (await run_cli(db_url, "delete", "llm", "silent")).exit_code == 0
    refused = await run_cli(db_url, "delete", "llm", "live")
    assert refused.exit_code == 1 and "live provider session s-live" in refused.stderr
    # The config file's heartbeat_timeout decides who is live, as for the GC.
    config = tmp_path / "config.yaml"
    config.write_text("heartbeat_timeout: 0.5\n")
    async with store.transaction() as s:
        await s.execute(
            update(Llm)
            .where(Llm.name == "live")
            .values(last_heartbeat_at=utcnow() - timedelta(seconds=2))
        )
    refused = await run_cli(db_url, "delete", "llm", "live")
    assert refused.exit_code == 1  # 2 s silent is live under the default 90 s
    monkeypatch.setenv("MCPCTL_TUI_CONFIG", str(config))
    result = await run_cli(db_url, "delete", "llm", "live")
    assert result.exit_code == 0, result.stderr
    assert await names(store) == ([], [])
