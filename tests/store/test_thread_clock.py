"""A thread's ``last_turn_at`` never moves backwards: a writer that waited for the
thread's lock carries a time taken before it, and must not overwrite a newer one."""

from __future__ import annotations

from datetime import timedelta

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, finish_message, insert_turns, lock_thread
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.threads import create_thread
from mcpctl_tui.store.types import MessageStatus, utcnow
from tests.support.seed import add_agent, add_llm


async def test_touching_a_thread_keeps_a_newer_last_turn_at(store: Store) -> None:
    async with store.transaction() as s:
        llm = await add_llm(s, "l", type="echo")
        agent = await add_agent(s, "a", llm.id)
        thread = await create_thread(s, agent.id, "t")
        ahead = utcnow() + timedelta(hours=1)  # stored by a writer whose clock ran ahead
        (await s.get(ChatThread, thread.id)).last_turn_at = ahead  # type: ignore[union-attr]
    async with store.transaction() as s:
        assert await lock_thread(s, thread.id)
        (placeholder,) = await insert_turns(
            s, thread.id, 0, [NewMessage(role="assistant", status=MessageStatus.PENDING)]
        )
    async with store.session() as s:
        assert (await s.get(ChatThread, thread.id)).last_turn_at == ahead  # type: ignore[union-attr]
    await finish_message(
        store, placeholder, thread.id, 0, content="done", status=MessageStatus.COMPLETE
    )
    async with store.session() as s:
        kept = (await s.get(ChatThread, thread.id)).last_turn_at  # type: ignore[union-attr]
    assert kept == ahead

    # And an older time does move forward.
    async with store.transaction() as s:
        (await s.get(ChatThread, thread.id)).last_turn_at = utcnow() - timedelta(hours=1)  # type: ignore[union-attr]
    async with store.transaction() as s:
        assert await lock_thread(s, thread.id)
    async with store.session() as s:
        moved = (await s.get(ChatThread, thread.id)).last_turn_at  # type: ignore[union-attr]
    assert moved > utcnow() - timedelta(minutes=1)
