"""A cancelled reply waits for the store a bounded time: stored and then cancelled, or
cancelled with the reason it was not stored (Ctrl-C never hangs on a silent store, and
"partial reply kept" is said only when it was)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mcpctl_tui.chat import turn
from mcpctl_tui.chat.turn import NOT_STORED, settle


async def _cancel_soon(task: asyncio.Future[Any], after: float = 0.05) -> None:
    await asyncio.sleep(after)
    task.cancel()


async def test_uncancelled_it_is_the_finish_s_result() -> None:
    async def finish() -> str:
        await asyncio.sleep(0.01)
        return "ended"

    assert await settle(asyncio.ensure_future(finish())) == "ended"


async def test_a_slow_store_is_waited_for_through_two_cancellations() -> None:
    stored: list[str] = []

    async def finish() -> str:
        await asyncio.sleep(0.3)
        stored.append("reply")
        return "ended"

    fin = asyncio.ensure_future(finish())
    waiter = asyncio.ensure_future(settle(fin))
    await _cancel_soon(waiter)
    await _cancel_soon(waiter)  # a second Ctrl-C
    with pytest.raises(asyncio.CancelledError) as info:
        await waiter
    assert stored == ["reply"] and info.value.args == ()


async def test_a_store_that_never_answers_is_given_up_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turn, "FINISH_GRACE", 0.2)
    fin = asyncio.ensure_future(asyncio.sleep(3600))
    waiter = asyncio.ensure_future(settle(fin))
    loop = asyncio.get_running_loop()
    await _cancel_soon(waiter)
    t0 = loop.time()
    with pytest.raises(asyncio.CancelledError) as info:
        await waiter
    assert loop.time() - t0 < 1
    assert info.value.args == (NOT_STORED,)
    fin.cancel()
