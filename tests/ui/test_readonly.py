"""Read-only mode: every write the UI can make is refused with a notice, and the store
is left exactly as it was (every row of every table compared)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from mcpctl_tui.config import ConfigError, load_settings
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.data import ReadOnly
from mcpctl_tui.ui.screens.dialogs import AskScreen, ConfirmScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.databases import dump_store
from tests.support.pilot import (
    answer_yes,
    demo_store,
    enter_text,
    fixed_clock,
    notified,
    open_editor,
    running,
    screen_text,
    wait_for,
)
from tests.ui.test_resources import open_view

OFF = "read-only mode: {} is off"


async def test_every_write_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        before = await dump_store(store)
        tid = ids.thread_ids[0]
        app = McpctlApp(
            store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid), readonly=True
        )
        async with running(app, notifications=True) as pilot:
            assert "READ-ONLY" in screen_text(app)
            # Send, regenerate, and the slash commands that store.
            await enter_text(app, pilot, "hello")
            await wait_for(lambda: notified(app, OFF.format("sending")))
            await wait_for(lambda: not app.main.panel.streaming)
            app.main.threads.focus()
            await pilot.press("ctrl+r")
            await wait_for(lambda: notified(app, OFF.format("regenerating")))
            await wait_for(lambda: not app.main.panel.streaming)
            await enter_text(app, pilot, "/save renamed")
            await wait_for(lambda: notified(app, OFF.format("renaming")))
            # Rename and delete the thread (its dialogs).
            app.main.threads.focus()
            await pilot.press("f2")
            await wait_for(lambda: isinstance(app.screen, AskScreen))
            app.screen.query_one(Input).value = "new title"
            await pilot.press("enter")
            await wait_for(lambda: app.screen is app.main)
            assert sum(OFF.format("renaming") in str(n.message) for n in _notes(app)) == 2
            app.main.threads.focus()
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await answer_yes(pilot)
            await wait_for(lambda: notified(app, OFF.format("deleting")))
            # An editor's save.
            editor = await open_editor(app, pilot, "agent", "current")
            await pilot.press("ctrl+s")
            await pilot.pause()
            error = str(editor.query_one("#editor-error", Static).render())
            assert OFF.format("saving") in error
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.main)
            # The resource views: edit and delete.
            screen = await open_view(app, pilot, "agents")
            await pilot.press("e")
            await wait_for(lambda: notified(app, OFF.format("editing")))
            await pilot.press("ctrl+d")
            await wait_for(lambda: notified(app, OFF.format("deleting")))
            assert app.screen is screen  # refused before anything was asked
            assert "READ-ONLY" in str(screen.query_one("#res-title").render())
            # Apply, as the edit would.
            with pytest.raises(ReadOnly):
                await app.data.apply_text("kind: project\nname: sneaky\n")
        assert await dump_store(store) == before


def _notes(app: McpctlApp) -> list[object]:
    from tests.support.pilot import notifications

    return list(notifications(app))


def test_readonly_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("readonly: true\n")
    assert load_settings(path).readonly is True
    path.write_text("db: sqlite+aiosqlite:///x.db\n")
    assert load_settings(path).readonly is False
    path.write_text("readonly: yes please\n")
    with pytest.raises(ConfigError, match="'readonly' must be true or false"):
        load_settings(path)
