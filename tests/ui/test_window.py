"""A long thread is read through a sliding window: at most ``KEEP`` turns mounted whichever
way the operator reads, the turns always in order and whole, Home and End jump to the
ends, and a send from anywhere lands at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.chat.view import KEEP, ChatView
from tests.support.pilot import enter_text, fixed_clock, running, temp_store, wait_for
from tests.support.seed import add_llm_agent, add_thread

TURNS = 400


def _indexes(chat: ChatView) -> list[int]:
    found = [t.turn_index for t in chat.turns]
    assert None not in found
    return found  # type: ignore[return-value]


def _contiguous(chat: ChatView) -> bool:
    found = _indexes(chat)
    return found == list(range(found[0], found[0] + len(found)))


async def _slide(pilot: Pilot[Any], chat: ChatView, *, down: bool, until: Any) -> int:
    """Scroll to the window's edge again and again, as a reader does; the most turns mounted."""
    most = len(chat.turns)
    for _ in range(200):
        if until():
            return most
        if down:
            chat.scroll_end(animate=False)
        else:
            chat.scroll_home(animate=False)
        await pilot.pause(0.05)
        most = max(most, len(chat.turns))
        if not chat.sliding:  # (mid-slide, the turns leaving are still being unmounted)
            assert _contiguous(chat)
    raise AssertionError("the window never reached the end")


@pytest.mark.timing
async def test_reading_a_long_thread_keeps_a_bounded_window(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        agent = (await add_llm_agent(store, llm="echo-local", agent="talker")).id
        rows = [
            {"role": "user" if j % 2 == 0 else "assistant", "content": f"turn number {j}"}
            for j in range(TURNS)
        ]
        await add_thread(store, agent, rows, title="long")
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app, (100, 30)) as pilot:
            chat = app.main.panel.chat
            chat.focus()
            # Back to the first turn by scrolling: the newest turns leave as older arrive.
            most = await _slide(pilot, chat, down=False, until=lambda: not chat.has_older)
            assert most <= KEEP
            assert _indexes(chat)[0] == 0 and chat.has_newer
            assert chat.query(".window-edge.newer") and not chat.query(".window-edge.older")
            # And down again to the newest.
            most = await _slide(pilot, chat, down=True, until=lambda: not chat.has_newer)
            assert most <= KEEP
            assert _indexes(chat)[-1] == TURNS - 1
            # Home jumps to the first turn, End to the newest.
            await pilot.press("home")
            await wait_for(lambda: _indexes(chat)[0] == 0)
            assert chat.scroll_y == 0 and chat.has_newer
            await pilot.press("G")
            await wait_for(lambda: _indexes(chat)[-1] == TURNS - 1 and not chat.has_newer)
            older = chat.query_one(".window-edge.older", Static)
            assert f"▲ {chat.first_turn_index} older turns" in str(older.render())
            # A send from the first turns lands at the end, after the newest turn.
            await pilot.press("g")
            await wait_for(lambda: _indexes(chat)[0] == 0)
            await enter_text(app, pilot, "still with me?")
            await wait_for(lambda: app.main.panel.stats.state == "done")
            assert _indexes(chat)[-2:] == [TURNS, TURNS + 1] and not chat.has_newer
            assert chat.turns[-2].plain_text() == "still with me?"
