"""Branches in the TUI (pilot, echo LLM): ``e`` on a question asks it again on a branch,
Ctrl+R on a chosen reply answers it again, ``[`` / ``]`` switch, the ``‹i/n›`` marks,
a branch chosen by another process followed, and read-only refusing the switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mcpctl_tui.store.branches import step_branch
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.messages import all_messages, lock_thread
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.chat.turns import AssistantTurn, Turn, UserTurn
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import enter_text, fixed_clock, notified, running, temp_store, wait_for
from tests.support.seed import add_llm_agent, add_thread


def _done(app: McpctlApp) -> bool:
    panel = app.main.panel
    return not panel.streaming and panel.reply_stream is None


def _shown(app: McpctlApp) -> list[tuple[str, str]]:
    """The chat's turns: (the question's text, or 'reply'), and the ‹i/n› mark if any."""
    out = []
    for t in app.main.panel.chat.turns:
        mark = f"{t.row.branch}/{t.row.branches}" if t.row and t.row.branches > 1 else ""
        out.append((t.plain_text() if isinstance(t, UserTurn) else "reply", mark))
    return out


def _header(turn: Turn) -> str:
    return str(turn.query_one(".turn-header").render())


async def _path(store: Store, tid: int) -> list[str]:
    async with store.session() as s:
        return [t.content.rsplit("\n", 1)[-1] for t in await all_messages(s, tid)]


async def _settled(app: McpctlApp, pilot: Pilot[Any]) -> None:
    await wait_for(lambda: _done(app) and app.main.panel.chat.last_assistant() is not None)
    await wait_for(lambda: all(t.row is not None for t in app.main.panel.chat.turns))
    await pilot.pause()


async def test_edit_regenerate_and_switch_from_the_keyboard(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, agent="a")
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            for text in ("Q one", "Q two"):
                await enter_text(app, pilot, text)
                await _settled(app, pilot)
            tid = app.main.state.thread_id
            assert tid is not None

            # e on the last question: its text in the box, asked on a branch.
            await pilot.press("alt+up", "alt+up", "e")
            box = app.main.panel.chat_input
            assert (box.text, box.editing, box.has_focus) == ("Q two", 2, True)
            assert "editing turn 2" in str(box.border_title)
            await pilot.press("end", *" edited", "enter")
            await wait_for(lambda: len(app.main.panel.chat.turns) == 4 and _done(app))
            await _settled(app, pilot)
            assert _shown(app) == [("Q one", ""), ("reply", ""), ("Q two edited", "2/2"),
                                   ("reply", "")]  # fmt: skip
            assert box.editing is None and box.border_title is None
            assert "‹2/2›" in _header(app.main.panel.chat.turns[2])

            # [ on the chosen question: the old branch, chosen in its place.
            await pilot.press("alt+up", "alt+up", "left_square_bracket")
            await wait_for(lambda: _shown(app)[2] == ("Q two", "1/2"))
            assert app.main.panel.chat.selected is app.main.panel.chat.turns[2]
            assert await _path(store, tid) == ["Q one", "Q one", "Q two", "Q two"]
            await pilot.press("left_square_bracket")  # the first already: nothing moves
            await pilot.pause()
            assert _shown(app)[2] == ("Q two", "1/2")
            await pilot.press("right_square_bracket")
            await wait_for(lambda: _shown(app)[2] == ("Q two edited", "2/2"))

            # Ctrl+R on the chosen first reply: answered again beside it.
            await pilot.press("alt+up")  # from the question the switch chose
            assert app.main.panel.chat.selected is app.main.panel.chat.turns[1]
            assert isinstance(app.main.panel.chat.selected, AssistantTurn)
            await pilot.press("ctrl+r")
            await wait_for(lambda: len(app.main.panel.chat.turns) == 2 and _done(app))
            await _settled(app, pilot)
            assert _shown(app) == [("Q one", ""), ("reply", "2/2")]
            assert await _path(store, tid) == ["Q one", "Q one"]

            # Esc while editing gives the box back empty, nothing sent.
            await pilot.press("alt+up", "alt+up", "e", "escape")
            assert (box.text, box.editing) == ("", None)
            assert len(app.main.panel.chat.turns) == 2


async def _two_answers(store: Store, first: str = "first answer") -> tuple[int, int]:
    """Agent ``a`` and a thread of one question answered twice, the second answer on
    the path (``‹2/2›``); the agent's and the thread's ids."""
    agent = await add_llm_agent(store, agent="a")
    turns: list[dict[str, Any]] = [
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": first, "on_path": False},
        {"role": "assistant", "content": "second answer", "parent_index": 0},
    ]
    return agent.id, (await add_thread(store, agent.id, turns, title="two answers")).id


async def test_a_branch_chosen_elsewhere_is_followed(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        _, tid = await _two_answers(store)
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="a", thread_id=tid))
        async with running(app) as pilot:
            await wait_for(lambda: _shown(app) == [("question", ""), ("reply", "2/2")])
            other = await open_store(store.url)  # another process's connection
            try:
                async with other.transaction() as s:
                    await lock_thread(s, tid)
                    assert await step_branch(s, tid, 2, -1) == 1
            finally:
                await other.close()
            await wait_for(lambda: _shown(app) == [("question", ""), ("reply", "1/2")], 5)
            assert app.main.panel.chat.turns[1].plain_text() == "first answer"
            await pilot.pause()


async def test_read_only_refuses_a_switch(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        _, tid = await _two_answers(store)
        start = StartAt(agent="a", thread_id=tid)
        app = McpctlApp(store, clock=fixed_clock, start=start, readonly=True)
        async with running(app) as pilot:
            await wait_for(lambda: _shown(app) == [("question", ""), ("reply", "2/2")])
            app.main.panel.chat.focus()
            await pilot.press("left_square_bracket")
            await wait_for(lambda: notified(app, "switching branches"))
            assert _shown(app)[1] == ("reply", "2/2")
        assert await _path(store, tid) == ["question", "second answer"]


async def test_a_search_hit_on_another_branch_shows_that_branch(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        agent_id, tid = await _two_answers(store, "the needle")
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="a"))
        async with running(app) as pilot:
            app.main.jump_to_thread(agent_id, tid, at_turn=1)
            await wait_for(lambda: _shown(app) == [("question", ""), ("reply", "1/2")])
            await wait_for(lambda: app.main.panel.chat.selected is not None)
            chosen = app.main.panel.chat.selected
            assert chosen is not None and chosen.plain_text() == "the needle"
            await pilot.pause()
        assert await _path(store, tid) == ["question", "the needle"]


async def test_slash_llm_then_regenerate_tries_another_llm(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="first", agent="a")
        await add_llm_agent(store, llm="second", agent="b")
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="a"))
        async with running(app) as pilot:
            await enter_text(app, pilot, "Q")
            await _settled(app, pilot)
            await enter_text(app, pilot, "/llm second")
            await wait_for(
                lambda: "second (/llm)" in str(app.main.panel.query_one("#status").render())
            )
            await pilot.press("ctrl+r")
            await wait_for(lambda: _shown(app) == [("Q", ""), ("reply", "2/2")])
            await _settled(app, pilot)
            tid = app.main.state.thread_id
            assert tid is not None
        async with store.session() as s:
            assert [t.llm for t in await all_messages(s, tid)] == [None, "second"]
