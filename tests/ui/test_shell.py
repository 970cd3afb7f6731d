"""The shell's services: the store through one door with the configured heartbeat bound,
the palette's index read once per opening, a reply's tool calls read the same live and
reloaded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Collapsible

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen
from mcpctl_tui.ui.screens.editors import EditorScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.llm_servers import NDJSON_HEADERS, LlmServer, Reply, ollama_lines
from tests.support.pilot import (
    answer_yes,
    demo_store,
    enter_text,
    fixed_clock,
    notified,
    running,
    screen_text,
    temp_store,
    wait_for,
)
from tests.support.seed import add_llm_agent


async def _silent_virtual_agent(store: Store, silent_for: float) -> None:
    """A virtual agent and its LLM, "active", whose provider last beat ``silent_for`` s ago."""
    beat = utcnow() - timedelta(seconds=silent_for)
    async with store.transaction() as s:
        llm = Llm(
            name="gpu-box",
            type="openai",
            url="",
            model="m",
            kind=LlmKind.VIRTUAL,
            status=LlmStatus.ACTIVE,
            provider_session_id="sess-1",
            last_heartbeat_at=beat,
        )
        s.add(llm)
        await s.flush()
        s.add(
            Agent(
                name="far",
                llm_id=llm.id,
                kind=LlmKind.VIRTUAL,
                status=LlmStatus.ACTIVE,
                provider_session_id="sess-1",
                last_heartbeat_at=beat,
            )
        )


@pytest.mark.parametrize(("bound", "deleted"), [(10.0, True), (60.0, False)])
async def test_an_editor_delete_judges_liveness_by_the_configured_bound(
    tmp_path: Path, bound: float, deleted: bool
) -> None:
    """The agent list judged liveness by the configured heartbeat timeout and an editor's
    delete by the 90 s default: an agent shown inactive was refused as live."""
    async with temp_store(tmp_path) as store:
        await _silent_virtual_agent(store, silent_for=30)
        app = McpctlApp(
            store, clock=fixed_clock, heartbeat_timeout=bound, start=StartAt(agent="far")
        )
        async with running(app) as pilot:
            agent = app.main.state.agent
            assert agent is not None
            assert agent.status == (LlmStatus.INACTIVE if deleted else LlmStatus.ACTIVE)
            await app.main.run_action("delete_agent")
            if deleted:
                await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
                await answer_yes(pilot)
                await wait_for(lambda: app.main.agents.rows == [])
                assert notified(app, "agent/far deleted")
            else:
                await wait_for(lambda: isinstance(app.screen, EditorScreen))
                await wait_for(lambda: "live provider session sess-1" in screen_text(app))
        async with store.session() as s:
            assert (await s.get(Agent, 1) is None) == deleted


async def test_the_palette_reads_the_store_once_per_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The palette ran about ten queries per keystroke; its index is read when it opens."""
    opened: list[str] = []
    real = Store.session

    def counting(self: Store, *args: Any, **kwargs: Any) -> Any:
        opened.append("session")
        return real(self, *args, **kwargs)

    async with demo_store(tmp_path) as (store, ids):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"), liveness_seconds=3600)
        async with running(app, (120, 40)) as pilot:
            await pilot.pause()
            monkeypatch.setattr(Store, "session", counting)
            await pilot.press("ctrl+p")
            await wait_for(lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"disk usage on build")
            # (the hit's own line: a highlighted title loses its spaces in the screenshot)
            await wait_for(lambda: f"agent ops · #{ids.thread_ids[1]}" in screen_text(app))
            assert opened == ["session"]  # the index, once, however much was typed
            await pilot.press("enter")
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[1])
            await pilot.press("ctrl+p")  # a new opening reads it again: new threads show
            await wait_for(lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"health")
            await wait_for(lambda: f"agent ops · #{ids.thread_ids[0]}" in screen_text(app))
            assert opened.count("session") >= 2


def _tool_titles(app: McpctlApp) -> list[str]:
    turn = app.main.panel.chat.last_assistant()
    assert turn is not None
    return [str(c.title) for c in turn.query(Collapsible)]


async def test_a_cancelled_replys_tool_calls_read_the_same_live_and_reloaded(
    tmp_path: Path,
) -> None:
    """Ollama sends tool calls without ids: the UI merged the fragments on its own and
    showed an empty id where the stored turn, merged by the engine, reads ``call_0``."""
    lines = ollama_lines(
        ["Let me look."],
        tool_calls=[{"function": {"name": "disk_usage", "arguments": {"host": "build-2"}}}],
    )
    # The tool call first, then nothing for a while: Esc comes before the stream ends.
    reply = Reply([lines[1], lines[0], lines[2]], headers=dict(NDJSON_HEADERS), delay=5.0)
    async with LlmServer(reply) as server, temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="local", agent="helper", type="ollama", url=server.url)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await enter_text(app, pilot, "how full is build-2?")
            await wait_for(lambda: app.main.state.thread_id is not None)
            await pilot.pause(0.5)  # the tool call is in; the rest is five seconds away
            await pilot.press("escape")
            await wait_for(lambda: not app.main.panel.streaming)
            await pilot.pause()
            live = _tool_titles(app)
            tid = app.main.state.thread_id
        again = McpctlApp(store, clock=fixed_clock, start=StartAt(thread_id=tid))
        async with running(again) as pilot:
            turn = again.main.panel.chat.last_assistant()
            assert turn is not None and turn.status == MessageStatus.CANCELLED
            reloaded = _tool_titles(again)
    assert live == reloaded
    assert len(live) == 1 and "disk_usage" in live[0] and "call_0" in live[0]
