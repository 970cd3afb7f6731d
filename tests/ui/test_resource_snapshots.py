"""Snapshots of the resource views: the ``:`` prompt, the agents and llms tables, a
``y`` modal, at both sizes. Look at each changed SVG as a PNG before committing it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.types import Prices
from mcpctl_tui.ui.resources.actions import TextScreen
from mcpctl_tui.ui.resources.prompt import ResourcePrompt
from mcpctl_tui.ui.resources.screen import ResourceScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import SIZES, open_seeded, wait_for
from tests.support.seed import add_agent, add_llm, add_thread
from tests.ui.test_snapshots import NOW, _app, _crowded_db, _demo_db, _run


async def _prompt(pilot: Any) -> None:
    pilot.app.main.agents.focus()
    await pilot.press("colon")
    await wait_for(lambda: isinstance(pilot.app.screen, ResourcePrompt))
    pilot.app.screen.query_one(Input).cursor_blink = False
    await pilot.press(*"ll")  # the suggestion shows: llms
    await pilot.pause(0.2)


def _view(name: str) -> Any:
    async def go(pilot: Any) -> None:
        await _prompt(pilot)
        box = pilot.app.screen.query_one(Input)
        box.value = name
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(pilot.app.screen, ResourceScreen) and pilot.app.screen.loads > 0
        )
        # A table sizes its columns to new rows when it is next idle, which a loaded
        # machine may not reach within a fixed pause: wait for the columns to fit.
        await wait_for(lambda: _columns_fit(pilot.app.screen))
        await pilot.pause(0.2)

    return go


def _columns_fit(screen: ResourceScreen) -> bool:
    table = screen.table
    return all(
        column.content_width >= max((cell.cell_len for cell in table.get_column(key)), default=0)
        for key, column in table.columns.items()
    )


async def _yaml(pilot: Any) -> None:
    await pilot.press("y")
    await wait_for(lambda: isinstance(pilot.app.screen, TextScreen))
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_resource_prompt(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_prompt))


@pytest.mark.parametrize("size", SIZES)
def test_agents_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_crowded_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_view("agents")))


@pytest.mark.timing
@pytest.mark.parametrize("size", SIZES)
def test_llms_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_crowded_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_view("llms")))


@pytest.mark.parametrize("size", SIZES)
def test_yaml_modal(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_view("agents"), _yaml))


async def _spending(store: Any) -> None:
    """The demo plus an EUR-priced LLM and an unpriced one, each with an agent that has
    replied: the usage columns' cases (priced, unknown tokens, unpriced, currencies)."""
    await seed_demo(store, now=NOW)
    eu = await add_llm(store, "mistral-eu", type="openai", prices=Prices(2.0, 6.0, "EUR"))
    local = await add_llm(store, "local-llama", type="ollama")  # no prices
    for name, llm, usage in (
        ("analyst", eu, (120_000, 30_000)),
        ("tinkerer", local, (4_000, 900)),
    ):
        agent = await add_agent(store, name, llm.id)
        reply = {"role": "assistant", "content": "done", "llm": llm.name}
        await add_thread(
            store,
            agent.id,
            [{"role": "user", "content": "go"}, reply | {"usage": dict(zip(
                ("input_tokens", "output_tokens"), usage, strict=True))}],
            created_at=NOW,
        )  # fmt: skip


def _by_cost(pilot: Any) -> Any:
    async def go(pilot: Any) -> None:
        screen = pilot.app.screen
        headers = [c.header for c in screen.view.columns]
        for _ in range(headers.index("COST")):  # s: the sort moves one column on
            await pilot.press("s")
        await pilot.press("S")  # the dearest first
        table = screen.table  # scrolled to its right end: the usage columns in view
        table.scroll_to(x=table.max_scroll_x, animate=False, immediate=True)
        await pilot.pause(0.2)

    return go(pilot)


@pytest.mark.parametrize("view", ["agents", "llms"])
@pytest.mark.parametrize("size", SIZES)
def test_usage_columns(snap_compare: Any, tmp_path: Path, size: tuple[int, int], view: str) -> None:
    url = asyncio.run(open_seeded(tmp_path / "spend.db", _spending))
    app = _app(url, StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(_view(view), _by_cost))
