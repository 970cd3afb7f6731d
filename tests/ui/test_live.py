"""What other processes write to the store shows up in the running app, on both backends:
agents come and go, the open thread grows, a deleted thread or agent is said. The writes
come from real ``mcpctl-tui`` processes (``apply -f``, ``chat --thread``, ``delete``)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import delete

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.state import StartAt
from tests.support.cli_runs import run_cli
from tests.support.pilot import NOW, fixed_clock, notified, running, screen_text, wait_for
from tests.support.seed import add_agent, add_llm

AUDITOR = """\
kind: agent
name: auditor
llm: echo-local
description: Reads the logs
"""


async def _cli(store: Store, *args: str, stdin: str | None = None) -> None:
    res = await run_cli(store.url, *args, stdin=stdin)
    assert res.code == 0, res.err


async def test_reload_shows_what_other_processes_wrote(store: Store) -> None:
    ids = await seed_demo(store, now=NOW)
    tid = ids.thread_ids[0]
    app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
    async with running(app) as pilot:
        app.main.agents.focus()
        await _cli(store, "apply", "-f", "-", stdin=AUDITOR)
        await _cli(store, "chat", "ops", "--thread", str(tid), "-m", "from the shell")
        await _cli(store, "delete", "agent", "writer")
        await pilot.press("ctrl+l")
        await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["auditor", "ops"])
        await wait_for(lambda: len(app.main.panel.chat.turns) == 4)
        await pilot.pause()
        assert app.main.agents.current is not None and app.main.agents.current.name == "ops"
        assert app.main.state.thread_id == tid
        texts = [t.plain_text() for t in app.main.panel.chat.turns]
        assert texts[2] == "from the shell" and texts[3].endswith("from the shell")
        assert [t.turn_index for t in app.main.panel.chat.turns] == [0, 1, 2, 3]
        shown = app.main.threads.current
        assert shown is not None and shown.id == tid and shown.turn_count == 4
        assert "4 turns" in screen_text(app)
        # Nothing changed since: a reload redraws nothing and keeps every choice.
        before = list(app.main.panel.chat.turns)
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)
        assert list(app.main.panel.chat.turns) == before


async def test_an_open_thread_deleted_elsewhere_refuses_a_send(store: Store) -> None:
    ids = await seed_demo(store, now=NOW)
    tid = ids.thread_ids[1]
    app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
    async with running(app) as pilot:
        async with store.transaction() as s:
            await s.execute(delete(ChatThread).where(ChatThread.id == tid))
        await pilot.press("ctrl+l")
        await wait_for(lambda: app.main.state.deleted)
        await pilot.pause()
        assert notified(app, "was deleted") and "deleted: Ctrl+N" in screen_text(app)
        box = app.main.panel.chat_input
        box.text = "anyone there?"
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert box.text == "anyone there?"  # kept, not sent
        assert notified(app, "deleted meanwhile")
        assert tid not in [t.id for t in app.main.threads.threads]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not app.main.state.deleted and app.main.state.thread_id is None


async def test_the_agent_shown_deleted_elsewhere_gives_way(store: Store) -> None:
    await seed_demo(store, now=NOW)
    app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
    async with running(app) as pilot:
        await _cli(store, "delete", "agent", "ops")
        await pilot.press("ctrl+l")
        await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["writer"])
        await wait_for(lambda: app.main.state.agent is not None)
        await wait_for(lambda: app.main.state.agent.name == "writer")  # type: ignore[union-attr]
        assert notified(app, "agent ops was deleted")


@pytest.mark.timing
async def test_other_processes_writes_show_within_2_s_without_a_key(store: Store) -> None:
    """The change feed: no Ctrl+L. Each write by another process shows within 2 s; the
    selected agent that still exists stays selected, a deleted one leaves the list."""
    ids = await seed_demo(store, now=NOW)
    tid = ids.thread_ids[0]
    app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
    async with running(app) as pilot:
        app.main.agents.focus()
        await pilot.pause(0.6)  # the feed is listening (SQLite: its first data_version read)

        await _cli(store, "apply", "-f", "-", stdin=AUDITOR)
        started = time.monotonic()
        await wait_for(
            lambda: [r.name for r in app.main.agents.rows] == ["auditor", "ops", "writer"],
            limit=2.0,
        )
        assert time.monotonic() - started <= 2.0
        assert app.main.agents.current is not None and app.main.agents.current.name == "ops"

        await _cli(store, "chat", "ops", "--thread", str(tid), "-m", "from the shell")
        started = time.monotonic()
        await wait_for(lambda: len(app.main.panel.chat.turns) == 4, limit=2.0)
        assert time.monotonic() - started <= 2.0
        texts = [t.plain_text() for t in app.main.panel.chat.turns]
        assert texts[2] == "from the shell"
        assert app.main.state.thread_id == tid
        # Its row in the list too: its turns and what its replies cost.
        await wait_for(
            lambda: any(
                t.id == tid and t.turn_count == 4 and t.usage.replies == 2
                for t in app.main.threads.threads
            ),
            limit=2.0,
        )

        await _cli(store, "delete", "agent", "writer")
        started = time.monotonic()
        await wait_for(
            lambda: [r.name for r in app.main.agents.rows] == ["auditor", "ops"], limit=2.0
        )
        assert time.monotonic() - started <= 2.0
        assert app.main.agents.current is not None and app.main.agents.current.name == "ops"
        assert app.main.state.thread_id == tid


async def test_a_silent_provider_shows_gone_without_any_write(store: Store) -> None:
    """Nothing is written when a provider dies: the screen wakes at its live_until (three
    missed beats of its published 0.5 s interval) and shows the agent inactive. The
    periodic liveness poll is off (an hour), so only that timer can do it."""
    llm = await add_llm(
        store, "far-llm", kind=LlmKind.VIRTUAL, provider_session_id="s1", heartbeat_interval=0.5
    )
    await add_agent(store, "far", llm.id)
    app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="far"), liveness_seconds=3600)
    async with running(app):
        assert app.main.agents.current is not None
        assert app.main.agents.current.status == LlmStatus.ACTIVE
        started = time.monotonic()
        await wait_for(
            lambda: (
                app.main.state.agent is not None
                and app.main.state.agent.status == LlmStatus.INACTIVE
            ),
            limit=5.0,
        )
        assert time.monotonic() - started <= 1.5 + 1.0
        assert app.main.agents.current.status == LlmStatus.INACTIVE
