"""Driving the TUI in tests: a SQLite store (empty, or the demo world), a fixed clock,
the app running and loaded, and helpers to wait, to act and to look as the operator.

UI tests run on SQLite only (one file per test): the store layer is tested on both
backends elsewhere.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from mcpctl_tui.store.demo import DemoIds, seed_demo
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.screens.dialogs import BURST_SECONDS
from mcpctl_tui.ui.screens.editors import EditorScreen
from mcpctl_tui.ui.textual_internals import clear_notifications, notifications
from tests.support.databases import open_migrated
from tests.support.seed import add_llm_agent

__all__ = ["clear_notifications", "notifications"]

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SIZE = (120, 40)  # the terminal of the pilot tests that are not about a size
# The two terminal sizes the layout must hold at.
SMALL = (80, 24)
LARGE = (160, 50)
SIZES = [pytest.param(SMALL, id="80x24"), pytest.param(LARGE, id="160x50")]


def fixed_clock() -> datetime:
    return NOW


def sqlite_url(tmp_path: Path, name: str = "ui.db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


async def add_crowded_agents(store: Store, how_many: int = 2) -> None:
    """The first ``how_many`` of the agents that stretch the Agents pane: virtual, inactive
    or hibernating, no project, names and LLM names longer than the pane."""
    crowd = [
        ("gpu-box-llama-70b-instruct", "incident-commander-assistant", LlmStatus.INACTIVE),
        ("laptop-qwen", "reviewer", LlmStatus.HIBERNATING),
    ]
    for llm, agent, status in crowd[:how_many]:
        await add_llm_agent(
            store,
            llm=llm,
            agent=agent,
            type="openai",
            model="test-model",
            kind=LlmKind.VIRTUAL,
            status=status,
        )


@asynccontextmanager
async def temp_store(tmp_path: Path) -> AsyncIterator[Store]:
    """An empty SQLite store in the test's directory, closed when the test is done."""
    store = await open_migrated(sqlite_url(tmp_path))
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def demo_store(tmp_path: Path) -> AsyncIterator[tuple[Store, DemoIds]]:
    """``temp_store`` with the demo world in it (at ``NOW``), and the demo's ids."""
    async with temp_store(tmp_path) as store:
        yield store, await seed_demo(store, now=NOW)


@asynccontextmanager
async def running(
    app: McpctlApp, size: tuple[int, int] = SIZE, *, notifications: bool = False
) -> AsyncIterator[Pilot[Any]]:
    """``app.run_test``, entered once the app's first load from the store is done."""
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await wait_for(lambda: app.main.loaded)
        yield pilot


async def enter_text(app: McpctlApp, pilot: Pilot[Any], text: str) -> None:
    """Put ``text`` in the chat input and press Enter, as the operator sends a line."""
    app.main.panel.chat_input.text = text
    app.main.panel.chat_input.focus()
    await pilot.press("enter")


async def answer_yes(pilot: Pilot[Any]) -> None:
    """Press ``y`` on the confirmation shown, once it has been on screen long enough for a
    ``y`` to count (one typed in the same burst as the key that asked is ignored)."""
    await pilot.pause(BURST_SECONDS)
    await pilot.press("y")


def notified(app: McpctlApp, text: str) -> bool:
    """Whether a notification so far says ``text``."""
    return any(text in str(n.message) for n in notifications(app))


async def open_editor(
    app: McpctlApp, pilot: Pilot[Any], kind: str, which: str | None
) -> EditorScreen:
    """The editor of ``kind`` (``which`` one, or a new one for None), open and drawn."""
    app.main.action_edit(kind, which)
    await wait_for(lambda: isinstance(app.screen, EditorScreen))
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, EditorScreen)
    return screen


async def wait_for(cond: Callable[[], Any], limit: float = 10.0) -> None:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > limit:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def error_shown(app: McpctlApp) -> str:
    """The error on the last reply, as its turn shows it: one string, however the screen
    wraps it."""
    turn = app.main.panel.chat.last_assistant()
    assert turn is not None
    return str(turn.query_one(".turn-error", Static).render())


def screen_text(app: Any) -> str:
    """What is on screen, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


_SVG_TEXT = re.compile(r'<text [^>]*clip-path="url\(#[\w-]*line-(\d+)\)"[^>]*>([^<]*)</text>')


def screen_rows(app: Any) -> list[str]:
    """What is on screen, one string per row (from the SVG screenshot): what shows
    through from below a dialog is in it, what the dialog covers is not."""
    rows = [""] * app.size.height
    for row, text in _SVG_TEXT.findall(app.export_screenshot()):
        rows[int(row)] += html.unescape(text).replace("\xa0", " ")
    return rows


async def open_seeded(path: Path, seed: Callable[[Store], Any]) -> str:
    """Create a SQLite store at ``path``, run ``seed`` on it, close it; the URL."""
    url = sqlite_url(path.parent, path.name)
    store = await open_store(url)
    try:
        await seed(store)
    finally:
        await store.close()
    return url


def set_params(app: McpctlApp, params: dict[str, Any]) -> None:
    """The session's parameter overrides, as ``/set`` leaves them."""
    main = app.main
    main.panel.state = replace(main.state, settings=main.state.settings.with_params(params))
