"""Migration 0010 (branches) on a populated 0009 database, on both backends: every stored
thread becomes one path, its turns each following the one before, and the app then
branches it like any other."""

from __future__ import annotations

from mcpctl_tui.store.branches import branch_from
from mcpctl_tui.store.engine import open_store
from mcpctl_tui.store.messages import all_messages, every_turn, lock_thread
from mcpctl_tui.store.migrate import upgrade_to, upgrade_to_head
from tests.store.test_migrations import _counts, _seed_at_revision_2


async def test_upgrade_from_revision_9_makes_each_thread_one_path(db_url: str) -> None:
    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, "0009_usage_cost")
        await _seed_at_revision_2(store.engine)
        before = await _counts(store.engine)
        await upgrade_to_head(store.engine)
        assert await _counts(store.engine) == before
        async with store.session() as s:
            one, two = await every_turn(s, 1), await every_turn(s, 2)
        assert [(t.turn_index, t.parent_index, t.on_path, t.branches) for t in one] == [
            (0, None, True, 1),
            (1, 0, True, 1),
            (2, 1, True, 1),
        ]
        assert [(t.turn_index, t.parent_index) for t in two] == [(0, None), (1, 0), (2, 1)]
        async with store.transaction() as s:
            await lock_thread(s, 1)
            left = await branch_from(s, 1, 0)
        assert left == [one[1].id, one[2].id]
        async with store.session() as s:
            assert [t.turn_index for t in await all_messages(s, 1)] == [0]
            assert [t.turn_index for t in await all_messages(s, 2)] == [0, 1, 2]
    finally:
        await store.close()
