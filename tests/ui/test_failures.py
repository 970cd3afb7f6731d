"""Failure paths as an operator meets them: a provider that refuses, a store that refuses
the write, a publisher that went silent, a reply too long for a capped block."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mcpctl_tui.store import engine as store_engine
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import ChatMessage, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow
from mcpctl_tui.ui.app import McpctlApp
from tests.support.llm_servers import LlmServer, Reply, error_reply, openai_reply
from tests.support.pilot import (
    enter_text,
    error_shown,
    fixed_clock,
    notifications,
    running,
    screen_rows,
    screen_text,
    temp_store,
    wait_for,
)
from tests.support.seed import add_llm_agent, add_thread

SIZE = (80, 24)


def _settled(app: McpctlApp) -> bool:
    turn = app.main.panel.chat.last_assistant()
    return (
        not app.main.panel.streaming
        and app.main.panel.reply_stream is None
        and turn is not None
        and turn.status != MessageStatus.PENDING
    )


@asynccontextmanager
async def _helper_app(tmp_path: Path, llm: str, url: str) -> AsyncIterator[tuple[Store, McpctlApp]]:
    """A store whose one agent, helper, talks to the provider at ``url`` through the LLM
    ``llm``, and an app on it, not yet running; the store is open until the block ends."""
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm=llm, agent="helper", type="openai", url=url)
        yield store, McpctlApp(store, clock=fixed_clock)


@pytest.mark.timing
async def test_error_pages_and_retry_after_read_plainly_and_regenerate_recovers(
    tmp_path: Path,
) -> None:
    """A proxy's HTML 502 page was five lines of markup on the turn; a 429 did not say
    when to come back. Each now reads as one plain message, and once the provider
    answers again Ctrl+R gets the reply without a second copy of the question."""
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
        b"Gateway</h1></center><hr><center>nginx/1.25.3</center></body></html>\n"
    )
    html = Reply([page], status=502, headers={"content-type": "text/html"}, framing="length")
    busy = error_reply(429, "Rate limit reached")
    busy.headers = {**busy.headers, "retry-after": "20"}
    async with (
        LlmServer([html, busy, openai_reply(["back ", "again"])]) as srv,
        _helper_app(tmp_path, "flaky", srv.url) as (store, app),
    ):
        async with running(app, SIZE) as pilot:
            await enter_text(app, pilot, "are you up?")
            await wait_for(lambda: _settled(app))
            await pilot.pause()
            shown = screen_text(app)
            assert "HTTP 502 Bad Gateway" in shown
            assert "<" not in shown and "nginx" not in shown

            # The server has the request before the turn on screen is replaced: wait for
            # the new turn's end, not for the request.
            await pilot.press("ctrl+r")
            await wait_for(
                lambda: (
                    _settled(app)
                    and len(srv.requests) == 2
                    and "(retry after 20 s)" in error_shown(app)
                )
            )
            await pilot.pause()
            assert any("retry after 20 s" in str(n.message) for n in notifications(app))

            await pilot.press("ctrl+r")

            def recovered() -> bool:
                turn = app.main.panel.chat.last_assistant()
                return turn is not None and turn.status == MessageStatus.COMPLETE

            await wait_for(lambda: _settled(app) and len(srv.requests) == 3 and recovered())
            turn = app.main.panel.chat.last_assistant()
            assert turn is not None
            assert turn.plain_text() == "back again"
            assert app.focused is app.main.panel.chat_input
        async with store.session() as s:
            q = select(
                ChatMessage.role, ChatMessage.content, ChatMessage.status, ChatMessage.on_path
            )
            rows = (await s.execute(q.order_by(ChatMessage.turn_index))).all()
        # The path: the question once, the reply; the two failed replies kept beside it.
        assert [tuple(r) for r in rows] == [
            ("user", "are you up?", MessageStatus.COMPLETE, True),
            ("assistant", "", MessageStatus.ERROR, False),
            ("assistant", "", MessageStatus.ERROR, False),
            ("assistant", "back again", MessageStatus.COMPLETE, True),
        ]


async def test_an_error_turn_reads_the_same_live_and_after_a_restart(tmp_path: Path) -> None:
    """Live, the error turn read "server: HTTP 500 …"; the same turn read "HTTP 500 …"
    once the app was restarted (the kind is not stored). One text for both now."""
    async with (
        LlmServer(error_reply(500, "the model fell over")) as srv,
        _helper_app(tmp_path, "shaky", srv.url) as (store, app),
    ):
        async with running(app, SIZE) as pilot:
            await enter_text(app, pilot, "still there?")
            await wait_for(lambda: _settled(app))
            await pilot.pause()
            live = error_shown(app)
            await app.workers.wait_for_complete()
        again = McpctlApp(store, clock=fixed_clock)
        async with again.run_test(size=SIZE) as pilot:
            chat = again.main.panel.chat
            await wait_for(lambda: again.main.loaded and chat.last_assistant() is not None)
            await pilot.pause()
            reloaded = error_shown(again)
    assert reloaded == live
    assert live.startswith("HTTP 500 Internal Server Error from 127.0.0.1")
    assert "the model fell over" in live


async def test_a_read_only_database_refuses_clearly_and_loses_nothing(tmp_path: Path) -> None:
    """A write the database refuses raised SQLAlchemy's OperationalError: a send showed
    its three-line text and the message vanished (shown in the thread, never stored, not
    in the input); a rename from its dialog crashed the app."""
    path = tmp_path / "ro.db"
    seed = await open_store(f"sqlite+aiosqlite:///{path}")
    agent = await add_llm_agent(
        seed, llm="srv", agent="helper", type="openai", url="http://127.0.0.1:9"
    )
    await add_thread(seed, agent.id, title="kept")
    await seed.close()
    store = await open_store(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    app = McpctlApp(store, clock=fixed_clock)
    async with running(app, SIZE) as pilot:
        await wait_for(lambda: app.main.state.thread_id is not None)
        await enter_text(app, pilot, "please keep this")
        await wait_for(lambda: any("database" in str(n.message) for n in notifications(app)))
        await wait_for(lambda: not app.main.panel.streaming and app.main.panel.reply_stream is None)
        await pilot.pause()
        assert app.main.panel.chat_input.text == "please keep this"
        assert app.main.panel.chat.turns == []  # the chat as stored: nothing was written
        assert (
            str(list(notifications(app))[-1].message)
            == "cannot write to the database: attempt to write a readonly database"
        )
        assert "OperationalError" not in screen_text(app)

        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("x", "enter")
        await wait_for(lambda: len(app.screen_stack) == 1)
        await pilot.pause()
        assert app.is_running
        assert app.main.state.title == "kept"
        assert app.focused is app.main.panel.chat_input
    assert app.return_code in (None, 0)
    await store.close()


@pytest.mark.timing
async def test_esc_while_the_write_waits_for_a_lock_gives_the_text_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock; the send waits for it and the operator
    presses Esc. The user turn was never written, yet it stayed on screen and its text
    was gone from the input: lost once the thread was opened again."""
    monkeypatch.setattr(store_engine, "SQLITE_BUSY_TIMEOUT_MS", 1500)
    path = tmp_path / "lock.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    async with LlmServer(openai_reply(["fine"])) as srv:
        await add_llm_agent(store, llm="srv", agent="helper", type="openai", url=srv.url)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app, SIZE) as pilot:
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                await enter_text(app, pilot, "typed while locked")
                await wait_for(lambda: app.main.panel.streaming)
                await pilot.pause(0.2)
                await pilot.press("escape")
                await wait_for(
                    lambda: not app.main.panel.streaming and app.main.panel.reply_stream is None
                )
                await pilot.pause()
            finally:
                holder.rollback()
                holder.close()
            assert app.main.panel.chat_input.text == "typed while locked"
            assert app.main.panel.chat.turns == []
    async with store.session() as s:
        assert (await s.execute(select(ChatMessage))).first() is None
    await store.close()


async def test_a_silent_publisher_shows_offline_and_comes_back(tmp_path: Path) -> None:
    """A provider killed outright never marks its rows inactive: the agent stayed
    "active" on screen while every send to it was answered "publisher offline"."""
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="remote", agent="far", kind=LlmKind.VIRTUAL)
        long_ago = utcnow() - timedelta(seconds=120)
        async with store.transaction() as s:
            await s.execute(update(Llm).values(last_heartbeat_at=long_ago))
        app = McpctlApp(store, clock=fixed_clock, liveness_seconds=0.1, heartbeat_timeout=90)
        async with running(app, SIZE) as pilot:
            await pilot.pause()
            assert app.main.agents.rows[0].status == LlmStatus.INACTIVE
            assert "inactive" in screen_text(app)
            await enter_text(app, pilot, "hello?")
            await pilot.pause()
            assert app.main.panel.chat_input.text == "hello?"  # refused here: nothing stored
            assert app.main.panel.chat.turns == []

            async with store.transaction() as s:  # the provider is back and heartbeats
                await s.execute(update(Llm).values(last_heartbeat_at=utcnow()))
            await wait_for(lambda: app.main.agents.rows[0].status == LlmStatus.ACTIVE)
            await pilot.pause()
            assert "inactive" not in screen_text(app)


async def test_a_long_code_block_is_shown_whole(tmp_path: Path) -> None:
    """Code blocks were capped at 40 rows with nothing to scroll: a long one lost its
    tail on screen without a sign."""
    code = "".join(f"row_{i:03} = {i}\n" for i in range(120))
    reply = openai_reply(["Here:\n\n```python\n", code, "```\n\nafter the code\n"])
    async with (
        LlmServer(reply) as srv,
        _helper_app(tmp_path, "srv", srv.url) as (_, app),
        running(app, SIZE) as pilot,
    ):
        await enter_text(app, pilot, "code please")
        await wait_for(lambda: _settled(app))
        seen: set[str] = set()
        app.main.panel.chat.scroll_home(animate=False)
        await pilot.pause()
        while True:
            seen.update(re.findall(r"row_\d{3}", "".join(screen_rows(app))))
            if app.main.panel.chat.scroll_y >= app.main.panel.chat.max_scroll_y:
                break
            app.main.panel.chat.scroll_relative(y=10, animate=False)
            await pilot.pause()
        assert seen == {f"row_{i:03}" for i in range(120)}
