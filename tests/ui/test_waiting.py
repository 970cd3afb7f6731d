"""Until a reply's first token the status line says what it waits for and for how long:
a claim by a provider (virtual), the first byte from the upstream (public); the count
ticks once a second and gives way to the reply's figures when the first token lands."""

from __future__ import annotations

import re
from pathlib import Path

from mcpctl_tui.store.models import ChatMessage
from mcpctl_tui.store.types import LlmKind, MessageStatus
from mcpctl_tui.ui.app import McpctlApp
from tests.support.llm_servers import LlmServer, openai_reply
from tests.support.pilot import enter_text, fixed_clock, running, temp_store, wait_for
from tests.support.seed import add_agent, add_llm, add_llm_agent

WAIT = re.compile(r"waiting (\d+) s for (.+?)(?:  |$)")


def _status(app: McpctlApp) -> str:
    return str(app.main.query_one("StatusLine").render())


def _waited(app: McpctlApp) -> tuple[int, str] | None:
    found = WAIT.search(_status(app))
    return (int(found.group(1)), found.group(2).strip()) if found else None


async def test_public_reply_shows_the_wait_for_the_first_byte_then_the_reply(
    tmp_path: Path,
) -> None:
    reply = openai_reply(["late ", "but here"])
    reply.first_delay = 2.6
    async with LlmServer([reply]) as srv, temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="slow", agent="helper", type="openai", url=srv.url)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await enter_text(app, pilot, "take your time")
            host = srv.url.removeprefix("http://")
            await wait_for(lambda: _waited(app) is not None)
            seconds, what = _waited(app) or (-1, "")
            assert what == f"first byte from {host}" and seconds <= 1
            # It ticks without any event arriving: the server is still silent.
            await wait_for(lambda: (_waited(app) or (0, ""))[0] >= 2, limit=5)
            assert not srv.requests[0].disconnected.is_set()
            turn = app.main.panel.chat.last_assistant()
            await wait_for(lambda: turn is not None and turn.status == MessageStatus.COMPLETE)
            await pilot.pause()
            assert _waited(app) is None and "waiting" not in _status(app)
            assert "done" in _status(app)


async def test_virtual_reply_shows_the_wait_for_a_claim_and_cancel_keeps_the_question(
    tmp_path: Path,
) -> None:
    """A provider that heartbeats but never claims (its workers are busy elsewhere)."""
    async with temp_store(tmp_path) as store:
        async with store.transaction() as s:
            llm = await add_llm(
                s,
                "ghost",
                type="command",
                kind=LlmKind.VIRTUAL,
                provider_session_id="busy-session",
                heartbeat_interval=60,
            )
            await add_agent(s, "far", llm.id, kind=LlmKind.VIRTUAL)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await enter_text(app, pilot, "anyone there?")
            await wait_for(lambda: _waited(app) is not None)
            assert (_waited(app) or (0, ""))[1] == "claim by a provider"
            await wait_for(lambda: (_waited(app) or (0, ""))[0] >= 1, limit=4)
            await pilot.press("escape")
            await wait_for(lambda: not app.main.panel.streaming)
            await pilot.pause()
            assert "waiting" not in _status(app) and "cancelled" in _status(app)
        async with store.session() as s:
            rows = (await s.execute(ChatMessage.__table__.select())).all()
        assert next((r.role, r.content) for r in rows) == ("user", "anyone there?")
