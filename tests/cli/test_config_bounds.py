"""Lifecycle bounds in the config file: flag > config file > default."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from mcpctl_tui.config import ConfigError, Settings, load_settings
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import InferenceTask, TaskStatus
from mcpctl_tui.store.types import LlmKind, utcnow
from mcpctl_tui.virtual.dispatch import DispatchOptions
from mcpctl_tui.virtual.gc import GcBounds
from tests.support.cli_runs import invoke_cli
from tests.support.seed import add_llm

ALL = """\
heartbeat_interval: 2
heartbeat_timeout: 7
inactive_ttl: 11
pending_ttl: 13
finished_ttl: 17.5
claim_timeout: 19
gc_interval: 0
"""


def test_every_bound_reads_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(ALL)
    settings = load_settings(path)
    assert settings == Settings(
        heartbeat_interval=2,
        heartbeat_timeout=7,
        inactive_ttl=11,
        pending_ttl=13,
        finished_ttl=17.5,
        claim_timeout=19,
        gc_interval=0,
    )
    assert GcBounds.from_settings(settings, pending_ttl=3, finished_ttl=None) == GcBounds(
        heartbeat_timeout=7, inactive_ttl=11, pending_ttl=3, finished_ttl=17.5
    )
    assert GcBounds.from_settings(Settings()) == GcBounds()
    opts = DispatchOptions.from_settings(settings)
    assert (opts.heartbeat_timeout, opts.claim_timeout) == (7, 19)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pending_ttl: 0", "'pending_ttl' must be a positive number of seconds"),
        ("finished_ttl: -1", "'finished_ttl' must be a positive number of seconds"),
        ("claim_timeout: soon", "'claim_timeout' must be a positive number of seconds"),
        ("pending_ttl: true", "'pending_ttl' must be a positive number of seconds"),
        ("pending_ttl: .nan", "'pending_ttl' must be a positive number of seconds"),
        ("gc_interval: -5", "'gc_interval' must be a non-negative number of seconds"),
        ("pendingttl: 5", "unknown key(s) pendingttl"),
        ("pending_ttl: [1\n", "is not valid YAML (line 3): while parsing a flow sequence"),
    ],
)
def test_bad_bounds_are_one_line_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert message in str(info.value) and "\n" not in str(info.value)


async def seed_tasks(store: Store) -> tuple[int, int]:
    now = utcnow()
    async with store.transaction() as s:
        llm = await add_llm(s, "v", type="command", kind=LlmKind.VIRTUAL, provider_session_id="p")
        ids = []
        for status, created, finished in (
            (TaskStatus.PENDING, now - timedelta(seconds=100), None),
            (TaskStatus.COMPLETED, now - timedelta(seconds=200), now - timedelta(seconds=100)),
        ):
            q = insert(InferenceTask).values(
                llm_id=llm.id, status=status, request={}, created_at=created, finished_at=finished
            )
            ids.append((await s.execute(q.returning(InferenceTask.id))).scalar_one())
    return ids[0], ids[1]


async def test_gc_cli_takes_ttls_from_the_config_file_and_flags_win(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending, finished = await seed_tasks(store)
    config = tmp_path / "config.yaml"
    config.write_text("pending_ttl: 50\nfinished_ttl: 50\n")
    monkeypatch.setenv("MCPCTL_TUI_CONFIG", str(config))

    async def statuses() -> dict[int, str]:
        async with store.session() as s:
            rows = (await s.execute(select(InferenceTask.id, InferenceTask.status))).all()
        return {i: st.value for i, st in rows}

    # The flags win over the config file: nothing is old enough for them.
    flagged = await asyncio.to_thread(
        invoke_cli, db_url, "gc", "--pending-ttl", "3600", "--finished-ttl", "3600"
    )
    assert flagged.exit_code == 0, flagged.stderr
    assert "tasks expired=0, tasks deleted=0" in flagged.stdout
    assert await statuses() == {pending: "pending", finished: "completed"}
    # Without flags the config file's 50 s apply (defaults would be 1 h and 7 days).
    result = await asyncio.to_thread(invoke_cli, db_url, "gc")
    assert result.exit_code == 0, result.stderr
    assert "tasks expired=1, tasks deleted=1" in result.stdout
    assert await statuses() == {pending: "error"}
    # A broken config file is a one-line error, not a traceback.
    config.write_text("finished_ttl: 0\n")
    broken = await asyncio.to_thread(invoke_cli, db_url, "gc")
    assert broken.exit_code == 1
    assert broken.stderr.endswith("'finished_ttl' must be a positive number of seconds\n")
    assert broken.stderr.count("\n") == 1
