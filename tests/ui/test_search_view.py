"""The search view: F4, the palette or ``:search`` opens it; hits come as the operator
types (debounced, a late answer for an older query dropped, typing never waits); each
shows where it is and its snippet with the match highlighted, stored text shown
literally; Enter opens the thread at that turn (the window around it, the turn picked);
Esc goes back to the chat as it was. Snapshots at 80x24 and 160x50."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.resources.prompt import ResourcePrompt
from mcpctl_tui.ui.screens.search import SearchScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import NOW, SIZES, fixed_clock, open_seeded, running, temp_store, wait_for
from tests.support.seed import add_agent, add_llm, add_thread
from tests.ui.test_snapshots import _app, _run

LONG = 300  # turns of the thread whose early turn is found


async def _seed(store: Store) -> None:
    llm = await add_llm(store, "echo-local")
    ops = await add_agent(store, "ops", llm.id)
    writer = await add_agent(store, "writer", llm.id)
    turns: list[dict[str, Any]] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} of the long one"}
        for i in range(LONG)
    ]
    turns[20]["content"] = "the [b]zeppelin[/b] left at dawn \x1b[2J"
    await add_thread(store, ops.id, turns, title="long haul", created_at=NOW)
    await add_thread(
        store,
        writer.id,
        [
            {"role": "user", "content": "write about a zeppelin"},
            {"role": "assistant", "content": "ok"},
        ],
        title="poems",
        created_at=NOW,
    )


async def _open_search(app: McpctlApp, pilot: Any) -> SearchScreen:
    app.main.agents.focus()
    await pilot.press("f4")
    await wait_for(lambda: isinstance(app.screen, SearchScreen))
    screen = app.screen
    assert isinstance(screen, SearchScreen)
    return screen


async def _type(screen: SearchScreen, pilot: Any, text: str) -> None:
    done = screen.searches
    screen.box.value = text
    await wait_for(lambda: screen.searches > done)
    await pilot.pause()


async def test_a_hit_opens_its_thread_at_that_turn(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await _seed(store)
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="writer"))
        async with running(app) as pilot:
            screen = await _open_search(app, pilot)
            await _type(screen, pilot, "zeppelin")
            assert [(h.agent, h.turn_index) for h in screen.hits] == [("writer", 0), ("ops", 20)]
            shown = str(screen.hit_list.get_option_at_index(1).prompt)
            assert shown.startswith("ops · long haul · ") and " · #20 user\n" in shown
            assert "the [b]zeppelin[/b] left at dawn [2J" in shown  # literally, no ESC
            prompt = screen.hit_list.get_option_at_index(1).prompt
            marked = [shown[s.start : s.end] for s in prompt.spans if str(s.style) == "reverse"]
            assert marked == ["zeppelin"]
            await pilot.press("down", "down", "enter")
            await wait_for(lambda: app.screen is app.main)
            main = app.main
            await wait_for(
                lambda: main.state.thread_id is not None and main.state.title == "long haul"
            )
            chat = main.panel.chat
            await wait_for(lambda: chat.selected is not None)
            assert chat.selected.turn_index == 20
            assert main.agents.current is not None and main.agents.current.name == "ops"
            indexes = [t.turn_index for t in chat.turns]
            assert 20 in indexes and indexes[-1] < LONG - 1 and chat.has_newer


async def test_typing_never_waits_and_a_late_answer_is_dropped(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await _seed(store)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            screen = await _open_search(app, pilot)
            real = app.data.search
            asked: list[str] = []

            async def slow_search(query: str, **kw: Any) -> Any:
                asked.append(query)
                if query == "dawn":
                    await asyncio.sleep(1.0)  # a slow store for this one query
                return await real(query, **kw)

            app.data.search = slow_search  # type: ignore[method-assign]
            screen.box.value = "dawn"
            await wait_for(lambda: asked == ["dawn"])
            await pilot.press(*" ok")  # typed while that query is in flight
            assert screen.box.value == "dawn ok"
            await wait_for(lambda: screen.searches == 1, 5)
            assert asked == ["dawn", "dawn ok"]
            assert screen.hits == [] and "0 hits" in str(screen.query_one("#search-title").render())
            await asyncio.sleep(1.2)  # the slow answer for "dawn" never shows
            assert screen.hits == [] and screen.searches == 1
            # Quick typing asks once, for what stands in the box.
            asked.clear()
            screen.box.value = ""
            await pilot.press(*"zeppelin")
            await wait_for(lambda: screen.searches == 2)
            assert asked == ["zeppelin"] and len(screen.hits) == 2


async def test_colon_search_opens_it_and_esc_goes_back(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await _seed(store)
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="writer"))
        async with running(app) as pilot:
            before = (app.main.state.thread_id, [t.turn_index for t in app.main.panel.chat.turns])
            app.main.agents.focus()
            await pilot.press("colon")
            await wait_for(lambda: isinstance(app.screen, ResourcePrompt))
            app.screen.query_one(Input).value = "find"
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, SearchScreen))
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.main)
            await pilot.pause()
            after = (app.main.state.thread_id, [t.turn_index for t in app.main.panel.chat.turns])
            assert after == before


def _search_db(tmp_path: Path) -> str:
    async def seed(store: Store) -> None:
        await seed_demo(store, now=NOW)

    return asyncio.run(open_seeded(tmp_path / "search.db", seed))


async def _searched(pilot: Any) -> None:
    app = pilot.app
    app.main.agents.focus()
    await pilot.press("f4")
    await wait_for(lambda: isinstance(app.screen, SearchScreen))
    screen = app.screen
    screen.box.cursor_blink = False
    done = screen.searches
    await pilot.press(*"the")
    await wait_for(lambda: screen.searches > done and screen.box.value == "the")
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_search_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_search_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_searched))
