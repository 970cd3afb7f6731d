"""Layout at the two sizes the issue names (80x24, 160x50): nothing wraps, overlaps or is
cut where it must not be. The snapshots show how it looks; these say what must hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from mcpctl_tui.chat.commands import SessionSettings
from mcpctl_tui.chat.context import ChatOverrides
from mcpctl_tui.store.agents import AgentRow
from mcpctl_tui.store.types import LlmKind, LlmStatus, Prices
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.browse.agent_row import AgentColumns, agent_line
from mcpctl_tui.ui.chat.input import PLACEHOLDERS
from mcpctl_tui.ui.screens.help import HelpScreen
from mcpctl_tui.ui.state import ChatState, ReplyStats, StartAt
from mcpctl_tui.ui.status import render_status
from tests.support.pilot import (
    SIZES,
    SMALL,
    add_crowded_agents,
    demo_store,
    fixed_clock,
    open_editor,
    running,
    wait_for,
)


def _row(
    name: str,
    llm: str,
    kind: LlmKind = LlmKind.PUBLIC,
    status: LlmStatus = LlmStatus.ACTIVE,
    project: str | None = "platform",
) -> AgentRow:
    return AgentRow(1, name, "", 1, llm, "echo", "m", kind, status, project, None)


DEMO = [_row("ops", "echo-local"), _row("writer", "echo-local")]
CROWDED = [
    *DEMO,
    _row(
        "incident-commander-assistant",
        "gpu-box-llama-70b-instruct",
        LlmKind.VIRTUAL,
        LlmStatus.INACTIVE,
        None,
    ),
    _row("reviewer", "laptop-qwen", LlmKind.VIRTUAL, LlmStatus.HIBERNATING),
]


@pytest.mark.parametrize("rows", [DEMO, CROWDED], ids=["demo", "crowded"])
def test_an_agent_row_is_one_line_that_fits_any_width(rows: list[AgentRow]) -> None:
    cols = AgentColumns.of(rows)
    for width in range(6, 120):
        for r in rows:
            line = agent_line(r, cols, width)
            assert "\n" not in line.plain
            assert line.cell_length <= width, (width, line.plain)
            assert line.plain[0] in "●○◐"  # the status glyph always stays


def test_agent_rows_drop_the_least_important_first() -> None:
    cols = AgentColumns.of(DEMO)
    # The sidebar at 160 columns: everything, whole.
    wide = agent_line(DEMO[1], cols, 44).plain
    for part in ("writer", "echo-local", "public", "active", "platform"):
        assert part in wide
    # At 80 columns (20 cells): project and status word go, the badge shortens, the
    # LLM is cut with an ellipsis; the name stays whole.
    narrow = agent_line(DEMO[1], cols, 20).plain
    assert narrow.startswith("● writer") and "echo-l…" in narrow and "pub" in narrow
    assert "platform" not in narrow and "active" not in narrow


def test_columns_line_up_and_long_names_are_cut() -> None:
    cols = AgentColumns.of(CROWDED)
    lines = [agent_line(r, cols, 44).plain for r in CROWDED]
    kind_at = {
        line.index("public") if "public" in line else line.index("virtual") for line in lines
    }
    assert len(kind_at) == 1  # the badge column starts at the same cell on every row
    assert "incident-c…" in lines[2] and "gpu-box-l…" in lines[2]
    assert "inactive" in lines[2] and "hibernating" in lines[3]


def test_the_status_line_keeps_the_state_and_fits() -> None:
    agent = _row("ops", "echo-local")
    stats = ReplyStats(output_tokens=123, ttft_ms=42, tokens_per_s=87.5, state="done")
    overrides = ChatOverrides(system="x", params={"temperature": 0.7, "max_tokens": 2048})
    state = ChatState(
        agent=agent, settings=SessionSettings(personality="oncall", overrides=overrides)
    )
    for width in (30, 54, 80, 110):
        line = render_status(state, stats, width).plain
        assert len(line) <= width and "done" in line and line.startswith("ops")
    wide = render_status(state, stats, 200).plain
    assert "temperature=0.7" in wide and "ttft 42 ms" in wide and "87.5 tok/s" in wide
    assert "oncall" in wide and "system replaced" in wide
    # At the 80-column chat (54 cells) the figures stay right-aligned, details go.
    narrow = render_status(state, stats, 54).plain
    assert narrow.endswith("done  123 tok") and "ttft" not in narrow


def test_a_stored_reply_shows_its_tokens_and_cost_and_unknown_is_not_zero() -> None:
    state = ChatState(agent=_row("ops", "echo-local"))
    priced = ReplyStats(
        state="done", input_tokens=1200, output_tokens=400, prices=Prices(0.5, 1.5), ended=True
    )
    assert render_status(state, priced, 200).plain.endswith("in 1200 · out 400 tok · $0.0012")
    # At the 80-column chat the counts go before the cost does.
    narrow = render_status(state, priced, 54).plain
    assert narrow.endswith("done  $0.0012") and len(narrow) <= 54
    unpriced = replace(priced, prices=None)
    assert render_status(state, unpriced, 200).plain.endswith("in 1200 · out 400 tok")
    assert render_status(state, unpriced, 54).plain.endswith("done  1600 tok")
    unknown = ReplyStats(state="done", prices=Prices(0.5, 1.5), ended=True)
    assert render_status(state, unknown, 200).plain.endswith("done  tokens unknown")
    assert "$" not in render_status(state, unknown, 54).plain
    # While it streams, the counts so far; no cost until the reply is stored.
    streaming = ReplyStats(state="streaming", output_tokens=40, prices=Prices(0.5, 1.5))
    assert render_status(state, streaming, 200).plain.endswith("streaming  40 tok")


def test_a_wait_replaces_the_state_counts_from_the_send_and_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("mcpctl_tui.ui.status.monotonic", lambda: 107.9)
    state = ChatState(agent=_row("ops", "echo-local"))
    waiting = "first byte from gpu-box.internal.example:11434"
    stats = ReplyStats(state="streaming", waiting=waiting, since=100.0)
    wide = render_status(state, stats, 200).plain
    assert f"waiting 7 s for {waiting}" in wide and "streaming" not in wide
    for width in (54, 80):
        line = render_status(state, stats, width).plain
        assert len(line) <= width and "waiting 7 s" in line, line
    # No wait: the state is back.
    assert "streaming" in render_status(state, ReplyStats(state="streaming"), 200).plain


@asynccontextmanager
async def _demo_app(
    tmp_path: Path, size: tuple[int, int], crowded: bool = False
) -> AsyncIterator[tuple[McpctlApp, Pilot[Any]]]:
    """The demo (with one agent too long for the Agents pane if ``crowded``) on ``ops``,
    running at ``size``, loaded and drawn."""
    async with demo_store(tmp_path) as (store, _):
        if crowded:
            await add_crowded_agents(store, how_many=1)
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app, size) as pilot:
            await pilot.pause()
            yield app, pilot


@pytest.mark.parametrize("size", SIZES)
async def test_main_view_nothing_wraps_or_overlaps(tmp_path: Path, size: tuple[int, int]) -> None:
    async with _demo_app(tmp_path, size, crowded=True) as (app, _):
        # One line per agent, two per personality and thread: nothing wrapped.
        assert app.main.agents.virtual_size.height == len(app.main.agents.rows) == 3
        assert app.main.personalities.virtual_size.height == 1 + 2 * 2
        assert app.main.threads.virtual_size.height == 2 * len(app.main.threads.threads)
        # The footer is one row and no key sits on another (the palette hint used to
        # land on top of "f1 Help" at 80 columns).
        footer = app.query_one(Footer)
        keys = [k.region for k in footer.query(FooterKey)]
        assert footer.region.height == 1 and len(keys) >= 6
        assert all(r.y == footer.region.y for r in keys)
        for i, a in enumerate(keys):
            assert a.right <= size[0]
            for b in keys[i + 1 :]:
                assert not a.overlaps(b), (a, b)
        # The input's hint is whole (the longest that fits, never a cut one).
        hint = app.main.panel.chat_input.placeholder
        assert hint in PLACEHOLDERS and len(hint) < app.main.panel.chat_input.content_size.width
        assert "/help" in hint


@pytest.mark.parametrize("size", SIZES)
async def test_an_editor_is_as_tall_as_its_form(tmp_path: Path, size: tuple[int, int]) -> None:
    async with _demo_app(tmp_path, size) as (app, pilot):
        screen = await open_editor(app, pilot, "project", None)
        dialog = screen.query_one(".dialog")
        fields = screen.query_one(".editor-fields", VerticalScroll)
        assert dialog.region.width <= size[0]
        # Two fields: no scrolling, and no empty space (it was 90% of the screen).
        assert fields.max_scroll_y == 0
        assert dialog.region.height == 15


async def test_a_long_form_scrolls_between_title_and_buttons(tmp_path: Path) -> None:
    async with _demo_app(tmp_path, SMALL) as (app, pilot):
        screen = await open_editor(app, pilot, "agent", "current")
        dialog = screen.query_one(".dialog")
        fields = screen.query_one(".editor-fields", VerticalScroll)
        assert dialog.region.bottom <= SMALL[1] and dialog.region.right <= SMALL[0]
        assert fields.max_scroll_y > 0  # the form is longer than the screen: it scrolls
        for button in screen.query(Button):
            assert dialog.region.contains_region(button.region), button.id
            assert not fields.region.overlaps(button.region)
        # An error shows above the buttons even with the form at its longest.
        screen.query_one("#f-default_params").text = "{oops"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = screen.query_one("#editor-error")
        assert error.display and dialog.region.contains_region(error.region)
        assert not fields.region.overlaps(error.region)
        assert all(not error.region.overlaps(b.region) for b in screen.query(Button))


async def _open_dialog(app: McpctlApp, pilot: Any, which: str) -> None:
    if which == "editor":
        app.main.action_edit("agent", "current")  # the longest form
    else:
        if which == "confirm":
            app.main.threads.focus()  # Ctrl+D acts on the thread outside the message box
        await pilot.press({"confirm": "ctrl+d", "ask": "f2", "help": "f1"}[which])
    await wait_for(lambda: len(app.screen_stack) > 1)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("which", ["editor", "confirm", "ask", "help"])
async def test_a_dialog_fits_above_its_own_footer(
    tmp_path: Path, size: tuple[int, int], which: str
) -> None:
    async with _demo_app(tmp_path, size) as (app, pilot):
        await _open_dialog(app, pilot, which)
        footer = app.screen.query_one(Footer)
        await wait_for(lambda: footer.query(FooterKey))
        await pilot.pause()
        assert footer.region.bottom == size[1] and footer.region.width == size[0]
        dialog = app.screen.query_one(".dialog")
        assert dialog.region.bottom <= footer.region.y and dialog.region.right <= size[0]
        for key in footer.query(FooterKey):
            assert key.region.y == footer.region.y and key.region.right <= size[0]


@pytest.mark.parametrize("size", SIZES)
async def test_each_help_section_has_its_gap_above_its_heading(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """The "Slash commands" heading wrapped when the grid measured it at one column's
    width: its row grew a line, and the gap showed below the heading as well."""
    async with _demo_app(tmp_path, size) as (app, pilot):
        await pilot.press("f1")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        cells = list(app.screen.query_one(".help-grid").children)
        headings = [i for i, cell in enumerate(cells) if cell.has_class("help-heading")]
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        assert len(headings) == len(screen.groups) + 1  # and the slash commands
        for n, i in enumerate(headings):
            heading, first_row = cells[i], cells[i + 1]
            lines = [heading.render_line(y).text.strip() for y in range(heading.size.height)]
            assert lines[:-1] == ([] if n == 0 else [""]) and lines[-1], lines
            assert first_row.virtual_region.y == heading.virtual_region.bottom, lines[-1]
