"""The TUI with a virtual agent served by a real provider subprocess (command upstream)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mcpctl_tui.store.models import ChatMessage, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus
from mcpctl_tui.ui.app import McpctlApp
from tests.support.pilot import (
    enter_text,
    error_shown,
    fixed_clock,
    notifications,
    running,
    screen_text,
    set_params,
    sqlite_url,
    temp_store,
    wait_for,
)
from tests.support.providers import ProviderProc, write_provider_file
from tests.support.seed import add_agent


def _replied(app: McpctlApp) -> bool:
    """The last turn is a whole reply and nothing streams any more."""
    turn = app.main.panel.chat.last_assistant()
    return (
        turn is not None and turn.status == MessageStatus.COMPLETE and not app.main.panel.streaming
    )


async def test_virtual_agent_chats_then_goes_offline_on_screen(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    async with temp_store(tmp_path) as store:
        pf = write_provider_file(tmp_path / "p.yaml", ["relay"], state_file=tmp_path / "state")
        prov = ProviderProc(url, pf, heartbeat_interval=0.3)
        await prov.start()
        try:
            async with store.transaction() as s:
                llm = (await s.execute(select(Llm).where(Llm.name == "relay"))).scalar_one()
                assert llm.kind == LlmKind.VIRTUAL and llm.status == LlmStatus.ACTIVE
                await add_agent(s, "far", llm.id)
            # The app's own backend (ChatService.wired) reaches the provider.
            app = McpctlApp(store, clock=fixed_clock, liveness_seconds=0.2)
            async with running(app) as pilot:
                assert app.main.state.agent is not None and app.main.state.agent.name == "far"
                assert app.main.state.agent.kind == LlmKind.VIRTUAL
                await enter_text(app, pilot, "hello through the relay")
                await wait_for(lambda: _replied(app), limit=30)
                turn = app.main.panel.chat.last_assistant()
                assert turn is not None and turn.plain_text() == "hello through the relay"
                async with store.session() as s:
                    rows = (await s.execute(select(ChatMessage.role, ChatMessage.content))).all()
                assert [tuple(r) for r in rows] == [
                    ("user", "hello through the relay"),
                    ("assistant", "hello through the relay"),
                ]

                # The provider stops: the agent turns inactive on screen, no restart.
                assert await prov.terminate() == 0
                await wait_for(
                    lambda: app.main.agents.rows[0].status == LlmStatus.INACTIVE, limit=15
                )
                await pilot.pause()
                assert "inactive" in screen_text(app)

                await enter_text(app, pilot, "are you still there?")
                await pilot.pause()
                assert app.main.panel.chat_input.text == "are you still there?"
                assert any("publisher offline" in str(n.message) for n in notifications(app))
                assert len(app.main.panel.chat.turns) == 2  # nothing sent, nothing added
        finally:
            await prov.stop()


async def test_a_provider_killed_mid_reply_then_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 mid-reply: the partial stays, marked error, and the question, delivered and
    partly answered, did not come back into the input (it was put back, to be sent twice).
    The agent shows inactive without a restart, a send to it keeps the text and writes
    nothing, and the restarted provider brings it back."""
    config = tmp_path / "config.yaml"
    config.write_text("heartbeat_timeout: 2\n", encoding="utf-8")
    monkeypatch.setenv("MCPCTL_TUI_CONFIG", str(config))  # the app's dispatcher and liveness
    url = sqlite_url(tmp_path)
    async with temp_store(tmp_path) as store:
        pf = write_provider_file(tmp_path / "p.yaml", ["relay"], state_file=tmp_path / "state")
        prov = ProviderProc(url, pf, heartbeat_interval=0.3, heartbeat_timeout=2)
        await prov.start()
        again = ProviderProc(url, pf, heartbeat_interval=0.3, heartbeat_timeout=2)
        try:
            async with store.transaction() as s:
                llm = (await s.execute(select(Llm).where(Llm.name == "relay"))).scalar_one()
                await add_agent(s, "far", llm.id)
            app = McpctlApp(store, clock=fixed_clock, liveness_seconds=0.2)
            async with running(app) as pilot:
                set_params(app, {"cmd_chunks": 400, "cmd_delay": 0.05})
                await enter_text(app, pilot, "tick ")
                await wait_for(
                    lambda: (
                        app.main.panel.reply_stream is not None
                        and app.main.panel.reply_stream.written > 3
                    ),
                    limit=30,
                )
                await prov.kill()
                await wait_for(
                    lambda: not app.main.panel.streaming and app.main.panel.reply_stream is None,
                    limit=30,
                )
                await pilot.pause()
                turn = app.main.panel.chat.last_assistant()
                assert turn is not None and turn.status == MessageStatus.ERROR
                assert turn.plain_text().startswith("tick tick tick")
                assert "stopped responding" in error_shown(app)
                assert app.main.panel.chat_input.text == ""
                await wait_for(
                    lambda: app.main.agents.rows[0].status == LlmStatus.INACTIVE, limit=15
                )

                set_params(app, {})
                app.main.panel.chat_input.text = "still there?"
                await pilot.press("enter")
                await pilot.pause()
                assert app.main.panel.chat_input.text == "still there?"
                assert any("publisher offline" in str(n.message) for n in notifications(app))
                assert len(app.main.panel.chat.turns) == 2

                await again.start()
                await wait_for(lambda: app.main.agents.rows[0].status == LlmStatus.ACTIVE, limit=15)
                await pilot.press("enter")
                await wait_for(lambda: _replied(app), limit=30)
                async with store.session() as s:
                    rows = (await s.execute(select(ChatMessage.role, ChatMessage.content))).all()
                assert [r.content for r in rows if r.role == "user"] == ["tick ", "still there?"]
        finally:
            await prov.stop()
            await again.stop()
