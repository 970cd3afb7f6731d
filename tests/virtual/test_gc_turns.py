"""Every turn ends complete, error or cancelled: a reply turn left ``pending`` by a
writer that died (kill -9 between the placeholder and its finish) is ended by the sweep
after ``stale_turn_ttl``; a reply still within it, and every other turn, is left alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, insert_turns, lock_thread
from mcpctl_tui.store.models import ChatMessage
from mcpctl_tui.store.threads import create_thread
from mcpctl_tui.store.types import MessageStatus, utcnow
from mcpctl_tui.virtual.gc import ABANDONED, GcBounds, sweep
from tests.support.seed import add_agent, add_llm

PENDING = MessageStatus.PENDING


async def test_the_sweep_ends_replies_their_writer_abandoned(store: Store) -> None:
    llm = await add_llm(store, "l")
    agent = await add_agent(store, "a", llm.id)
    async with store.transaction() as s:
        thread = await create_thread(s, agent.id, "t")
        assert await lock_thread(s, thread.id)
        q, old, fresh = await insert_turns(
            s,
            thread.id,
            0,
            [
                NewMessage("user", "q"),
                NewMessage("assistant", "half a rep", status=PENDING),
                NewMessage("assistant", "still streaming", status=PENDING),
            ],
        )
        await s.execute(
            update(ChatMessage)
            .where(ChatMessage.id.in_([q, old]))
            .values(created_at=utcnow() - timedelta(hours=7))
        )
    bounds = GcBounds(stale_turn_ttl=6 * 3600)
    first = await sweep(store, bounds)
    again = await sweep(store, bounds)
    assert (first.turns_abandoned, again.turns_abandoned) == (1, 0)
    assert "turns abandoned=1" in first.summary()
    async with store.session() as s:
        rows = (
            await s.execute(
                select(ChatMessage.id, ChatMessage.status, ChatMessage.content, ChatMessage.error)
            )
        ).all()
    by_id = {r.id: (r.status, r.content, r.error) for r in rows}
    assert by_id[q] == (MessageStatus.COMPLETE, "q", None)
    assert by_id[old] == (MessageStatus.ERROR, "half a rep", ABANDONED)  # its text kept
    assert by_id[fresh] == (PENDING, "still streaming", None)
