"""The app when the store goes away and comes back (PostgreSQL behind a TCP proxy that
resets every connection and refuses new ones): a message sent meanwhile is held on
screen and in memory, the status line says the store is away, and it is sent, stored
once and in order, when the store is back; Esc while it waits gives the text back; a
reply whose store goes away as it streams is kept and stored when the store returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.types import MessageStatus
from mcpctl_tui.ui.app import McpctlApp
from tests.support.llm_servers import LlmServer, Reply, openai_events
from tests.support.pilot import enter_text, fixed_clock, notified, running, wait_for
from tests.support.seed import add_agent, add_llm, add_llm_agent
from tests.support.store_rows import threads_of
from tests.support.tcp_proxy import TcpProxy, proxy_to, url_through

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@asynccontextmanager
async def app_behind_a_proxy(db_url: str) -> AsyncIterator[tuple[McpctlApp, TcpProxy]]:
    proxy = await proxy_to(db_url)
    app_store = await open_store(url_through(db_url, proxy.port))
    try:
        yield McpctlApp(app_store, clock=fixed_clock), proxy
    finally:
        proxy.restore()
        await app_store.close()


def _status(app: McpctlApp) -> str:
    return str(app.main.query_one("StatusLine").render())


async def _stored(store: Store, agent_id: int) -> list[tuple[str, str, MessageStatus]]:
    rows = []
    for thread in await threads_of(store, agent_id):
        async with store.session() as s:
            rows += [(m.role, m.content, m.status) for m in await all_messages(s, thread.id)]
    return rows


async def test_a_message_sent_while_the_store_is_away_goes_once_when_it_is_back(
    store: Store, db_url: str
) -> None:
    agent = await add_agent(store, "a", (await add_llm(store)).id)
    async with app_behind_a_proxy(db_url) as (app, proxy), running(app) as pilot:
        proxy.cut()
        await enter_text(app, pilot, "sent while away")
        await wait_for(lambda: "for the store (unavailable" in _status(app))
        panel = app.main.panel
        assert panel.chat_input.text == ""
        assert [t.plain_text() for t in panel.chat.turns][-2] == "sent while away"
        # It waits its turn: a second message stays in the box, said.
        await enter_text(app, pilot, "second")
        assert panel.chat_input.text == "second" and notified(app, "waits for the store")
        await pilot.pause(2.0)  # tried several times meanwhile, backing off
        assert await _stored(store, agent.id) == []
        assert panel.streaming and "for the store" in _status(app)
        proxy.restore()
        await wait_for(lambda: not panel.streaming, 30)
        await pilot.pause()
        rows = await _stored(store, agent.id)
        assert [(role, status) for role, _, status in rows] == [
            ("user", MessageStatus.COMPLETE),
            ("assistant", MessageStatus.COMPLETE),
        ]
        assert rows[0][1] == "sent while away" and rows[1][1]
        shown = [t.plain_text() for t in panel.chat.turns]
        assert shown == ["sent while away", rows[1][1]]
        assert "for the store" not in _status(app) and "done" in _status(app)


async def test_esc_while_the_store_is_away_gives_the_message_back(
    store: Store, db_url: str
) -> None:
    agent = await add_agent(store, "a", (await add_llm(store)).id)
    async with app_behind_a_proxy(db_url) as (app, proxy), running(app) as pilot:
        proxy.cut()
        await enter_text(app, pilot, "never mind")
        await wait_for(lambda: "for the store (unavailable" in _status(app))
        await pilot.press("escape")
        panel = app.main.panel
        await wait_for(lambda: not panel.streaming)
        assert panel.chat_input.text == "never mind"
        assert notified(app, "not sent: cannot write to the database")
        proxy.restore()
        await asyncio.sleep(1.5)  # a send still pending would have gone by now
        assert await _stored(store, agent.id) == []
        assert "for the store" not in _status(app)


async def test_a_reply_whose_store_goes_away_as_it_streams_is_stored_when_it_is_back(
    store: Store, db_url: str
) -> None:
    slow = Reply(openai_events([f"word{i} " for i in range(100)]), delay=0.02)  # 2 s
    async with LlmServer([slow]) as srv:
        agent = (await add_llm_agent(store, llm="slow", type="openai", url=srv.url)).id
        async with app_behind_a_proxy(db_url) as (app, proxy), running(app) as pilot:
            panel = app.main.panel
            await enter_text(app, pilot, "hi")
            await wait_for(lambda: panel.reply is not None and panel.reply.stream.text)
            proxy.cut()
            # It ends meanwhile; its finish is tried again, backing off, and that is said.
            await wait_for(lambda: "for the store (unavailable; the reply is kept)" in _status(app))
            await asyncio.sleep(1.0)
            assert await _stored(store, agent) == [
                ("user", "hi", MessageStatus.COMPLETE),
                ("assistant", "", MessageStatus.PENDING),
            ]
            proxy.restore()
            await wait_for(lambda: not panel.streaming, 30)
            await pilot.pause()
            rows = await _stored(store, agent)
            assert [(role, status) for role, _, status in rows] == [
                ("user", MessageStatus.COMPLETE),
                ("assistant", MessageStatus.COMPLETE),
            ]
            assert rows[1][1] == "".join(f"word{i} " for i in range(100))
            assert [t.plain_text() for t in panel.chat.turns] == ["hi", rows[1][1]]
            assert "done" in _status(app) and "for the store" not in _status(app)
