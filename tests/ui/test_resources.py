"""The k9s-style resource views: ``:`` opens a table per kind; sort, filter, and the row
keys y (YAML, as ``get -o yaml``), e ($EDITOR, applied as ``apply -f``), d (what uses
it) and Ctrl+D (delete, naming what goes), on the demo world in a real SQLite file."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.manifest import Kind, get_objects
from mcpctl_tui.store.models import Agent, ChatThread
from mcpctl_tui.store.types import LlmKind
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.resources.actions import TextScreen
from mcpctl_tui.ui.resources.prompt import ResourcePrompt
from mcpctl_tui.ui.resources.screen import ResourceScreen
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.cli_runs import invoke_cli
from tests.support.databases import dump_store
from tests.support.pilot import (
    NOW,
    answer_yes,
    demo_store,
    fixed_clock,
    notified,
    running,
    sqlite_url,
    wait_for,
)
from tests.support.seed import add_llm


async def open_view(app: McpctlApp, pilot: Pilot[Any], name: str) -> ResourceScreen:
    """``:name`` Enter, from outside the message box; the view, loaded."""
    app.main.agents.focus()
    await pilot.press("colon")
    await wait_for(lambda: isinstance(app.screen, ResourcePrompt))
    await pilot.press(*name, "enter")
    await wait_for(lambda: isinstance(app.screen, ResourceScreen) and app.screen.loads > 0)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ResourceScreen)
    return screen


def column(screen: ResourceScreen, key: str) -> list[str]:
    """A column's cells as the table shows them, top to bottom."""
    table = screen.table
    return [str(table.get_cell(row, key)) for row in table.rows]


def _app(store: Store, **kw: Any) -> McpctlApp:
    return McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"), **kw)


@pytest.mark.parametrize(
    ("typed", "key", "expected"),
    [
        ("agents", "name", ["ops", "writer"]),
        ("agent", "llm", ["echo-local", "echo-local"]),
        ("llms", "name", ["echo-local"]),
        ("llm", "agents", ["2"]),
        ("projects", "agents", ["2"]),
        ("proj", "name", ["platform"]),
        ("prompts", "name", ["friendly", "house-style", "terse"]),
        ("personalities", "name", ["friendly", "oncall", "teacher"]),
        ("pers", "agent", ["writer", "ops", "ops"]),
        ("threads", "agent", ["ops", "ops", "ops", "writer"]),
        ("providers", "session", []),
        ("prov", "state", []),
    ],
)
async def test_each_view_opens_with_its_name_or_an_alias(
    tmp_path: Path, typed: str, key: str, expected: list[str]
) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app) as pilot:
            screen = await open_view(app, pilot, typed)
            if typed.startswith("thread"):
                assert sorted(column(screen, key)) == expected
            else:
                assert column(screen, key) == expected
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.main)


async def test_the_prompt_completes_refuses_unknown_names_and_esc_closes(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            tid = app.main.state.thread_id
            # In the message box ":" is a letter of the draft, not the prompt.
            app.main.panel.chat_input.focus()
            await pilot.press("colon")
            await pilot.pause()
            assert app.screen is app.main
            assert app.main.panel.chat_input.text == ":"
            app.main.agents.focus()
            await pilot.press("colon")
            await wait_for(lambda: isinstance(app.screen, ResourcePrompt))
            await pilot.press(*"bogus", "enter")
            await pilot.pause()
            assert notified(app, "unknown resource 'bogus'")
            assert isinstance(app.screen, ResourcePrompt)  # still there, to fix
            box = app.screen.query_one(Input)
            box.value = ""
            await pilot.press(*"pe", "tab")  # Tab takes the completion
            assert box.value == "personalities"
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.main)
            assert app.main.state.thread_id == tid  # the chat as it was


async def test_sorting_by_key_and_by_header_shows_in_the_header(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app) as pilot:
            screen = await open_view(app, pilot, "threads")
            headers = lambda: [str(c.label) for c in screen.table.columns.values()]  # noqa: E731
            assert headers()[0] == "ID ▲"
            assert column(screen, "id") == sorted(column(screen, "id"), key=int)
            await pilot.press("S")  # reversed
            assert headers()[0] == "ID ▼"
            assert column(screen, "id") == sorted(column(screen, "id"), key=int, reverse=True)
            await pilot.press("s")  # the next column: agent
            assert headers()[:2] == ["ID", "AGENT ▲"]
            assert column(screen, "agent") == ["ops", "ops", "ops", "writer"]
            table = screen.table
            x = sum(c.get_render_width(table) for c in table.ordered_columns[:3]) + 1
            await pilot.click("#res-table", offset=(x, 0))  # the TURNS header
            await pilot.pause()
            assert "TURNS ▲" in headers()
            assert column(screen, "turns") == ["2", "2", "2", "4"]
            # The cursor stays on its row through a re-sort.
            screen.table.move_cursor(row=3)
            picked = screen.current
            await pilot.press("S")
            assert screen.current == picked


async def test_filter_substring_inverted_and_regex_and_esc_clears(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app) as pilot:
            screen = await open_view(app, pilot, "personalities")
            await pilot.press("slash", *"OPS")
            assert column(screen, "name") == ["oncall", "teacher"]
            assert "filter: OPS" in str(screen.query_one("#res-title").render())
            screen.filter_box.value = "!ops"
            await pilot.pause()
            assert column(screen, "name") == ["friendly"]
            screen.filter_box.value = "^(on|fr)"
            await pilot.pause()
            assert column(screen, "name") == ["friendly", "oncall"]
            await pilot.press("enter")  # keep the filter, back to the table
            assert screen.table.has_focus
            await pilot.press("escape")  # clears the filter, the view stays
            assert column(screen, "name") == ["friendly", "oncall", "teacher"]
            assert isinstance(app.screen, ResourceScreen)
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.main)


async def _yaml_shown(app: McpctlApp, pilot: Pilot[Any], screen: ResourceScreen, name: str) -> str:
    row = column(screen, "name").index(name)
    screen.table.move_cursor(row=row)
    await pilot.press("y")
    await wait_for(lambda: isinstance(app.screen, TextScreen))
    shown = app.screen.query_one(TextArea).text
    await pilot.press("escape")
    await wait_for(lambda: app.screen is screen)
    return shown


@pytest.mark.parametrize(
    ("view", "name", "cli"),
    [
        ("agents", "ops", ["get", "agent", "ops"]),
        ("llms", "echo-local", ["get", "llm", "echo-local"]),
        ("projects", "platform", ["get", "project", "platform"]),
        ("prompts", "terse", ["get", "prompt", "terse", "--agent", "ops"]),
        ("personalities", "teacher", ["get", "personality", "teacher"]),
    ],
)
async def test_y_shows_what_get_o_yaml_prints(
    tmp_path: Path, view: str, name: str, cli: list[str]
) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app) as pilot:
            screen = await open_view(app, pilot, view)
            shown = await _yaml_shown(app, pilot, screen, name)
        url = sqlite_url(tmp_path)
        printed = await asyncio.to_thread(invoke_cli, url, *cli, "-o", "yaml")
        assert printed.exit_code == 0, printed.stderr
        assert shown == printed.stdout
        assert f"name: {name}" in shown


@pytest.fixture
def edits_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the edit's temp file goes in this test (not the shared temp dir)."""
    where = tmp_path / "edits"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    monkeypatch.delenv("VISUAL", raising=False)
    return where


def _editor(tmp_path: Path, *edits: list[tuple[str, str]]) -> str:
    """$EDITOR: a script that makes the n-th of ``edits`` (old -> new) on its n-th run
    (the last one on any later run); a real process, as the operator's editor is."""
    script = tmp_path / "edit.py"
    script.write_text(
        "import pathlib, sys\n"
        f"edits = {list(edits)!r}\n"
        f"count = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(n + 1))\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text()\n"
        "for old, new in edits[min(n, len(edits) - 1)]:\n"
        "    text = text.replace(old, new)\n"
        "path.write_text(text)\n"
    )
    return f"{sys.executable} {script}"


def _kept(where: Path, agent: str) -> list[Path]:
    """The edit files of ``agent`` left in ``where``."""
    return list(where.glob(f"mcpctl-agent-{agent}-*.yaml"))


async def _description(store: Store, name: str) -> str:
    async with store.session() as s:
        (found,) = await get_objects(s, Kind.AGENT, name)
    return str(found.document.get("description", ""))


async def test_e_edits_in_editor_and_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits_dir: Path
) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, [("Operations helper", "Pager duty helper")]))
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "agents")
            screen.table.move_cursor(row=0)
            await pilot.press("e")
            await wait_for(lambda: notified(app, "agent/ops configured"), 20)
            assert (tmp_path / "runs").read_text() == "1"  # the editor ran once
            assert await _description(store, "ops") == "Pager duty helper"
            assert screen.changed
            assert not _kept(edits_dir, "ops")  # cleaned up


async def test_e_refused_keeps_the_file_and_offers_another_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits_dir: Path
) -> None:
    # First run: an LLM that does not exist (refused); second run: fixed.
    editor = _editor(
        tmp_path,
        [("llm: echo-local", "llm: no-such-llm")],
        [("llm: no-such-llm", "llm: echo-local"), ("Docs and release notes", "fixed")],
    )
    monkeypatch.setenv("EDITOR", editor)
    async with demo_store(tmp_path) as (store, _ids):
        before = await _description(store, "writer")
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "agents")
            screen.table.move_cursor(row=1)
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen), 20)
            body = " ".join(str(w.render()) for w in app.screen.query(".dialog-body"))
            assert "no-such-llm" in body and "not found" in body
            kept = _kept(edits_dir, "writer")
            assert len(kept) == 1 and "no-such-llm" in kept[0].read_text()
            assert await _description(store, "writer") == before  # nothing applied
            await answer_yes(pilot)  # edit again: the second run fixes it
            await wait_for(lambda: notified(app, "agent/writer configured"), 20)
            assert (tmp_path / "runs").read_text() == "2"
            assert not kept[0].exists()
        assert await _description(store, "writer") == "fixed"


async def test_e_refused_and_left_says_where_the_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits_dir: Path
) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, [("llm: echo-local", "llm: nope")]))
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "agents")
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen), 20)
            await pilot.press("escape")  # no second try
            await wait_for(lambda: notified(app, "your edit is kept in"))
            (kept,) = _kept(edits_dir, "ops")
            assert "llm: nope" in kept.read_text()
            kept.unlink()
            assert not screen.changed


async def test_d_says_what_uses_the_row(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = _app(store)
        async with running(app) as pilot:
            screen = await open_view(app, pilot, "llms")
            await pilot.press("d")
            await wait_for(lambda: isinstance(app.screen, TextScreen))
            text = app.screen.query_one(TextArea).text
            assert text.splitlines() == ["agents (2):", "  ops", "  writer"]
            await pilot.press("escape")
            await wait_for(lambda: app.screen is screen)
            await pilot.press("colon", *"prompts", "enter")  # another view in place
            await wait_for(lambda: screen.view.name == "prompts" and bool(screen.lines))
            screen.table.move_cursor(row=column(screen, "name").index("terse"))
            await pilot.press("d")
            await wait_for(lambda: isinstance(app.screen, TextScreen))
            text = app.screen.query_one(TextArea).text
            assert "bound to personalities (1):\n  oncall (agent ops)" in text


async def test_ctrl_d_names_the_cascade_and_deletes(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "llms")
            await pilot.press("ctrl+d")  # in use by two agents: refused, nothing asked
            await wait_for(lambda: notified(app, "in use by 2 agents: ops, writer"))
            assert app.screen is screen
            await pilot.press("colon", *"agents", "enter")
            await wait_for(lambda: screen.view.name == "agents" and bool(screen.lines))
            screen.table.move_cursor(row=column(screen, "name").index("writer"))
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            body = " ".join(str(w.render()) for w in app.screen.query(".dialog-body"))
            assert "agent/writer" in body
            assert "1 personality, 1 prompt, 1 thread, 2 messages" in body
            await answer_yes(pilot)
            await wait_for(lambda: column(screen, "name") == ["ops"])
            assert notified(app, "agent/writer deleted")
            await pilot.press("escape")  # back: the main screen reads again
            await wait_for(lambda: [r.name for r in app.main.agents.rows] == ["ops"])
        async with store.session() as s:
            assert await s.get(Agent, ids.agent_ids["writer"]) is None
            assert await s.get(ChatThread, ids.thread_ids[-1]) is None


async def test_ctrl_d_on_a_thread_uses_the_thread_dialog(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "threads")
            screen.table.move_cursor(row=column(screen, "id").index(str(ids.thread_ids[0])))
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("escape")  # No: nothing goes
            await wait_for(lambda: app.screen is screen)
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await answer_yes(pilot)
            await wait_for(lambda: str(ids.thread_ids[0]) not in column(screen, "id"))
        async with store.session() as s:
            assert await s.get(ChatThread, ids.thread_ids[0]) is None
            assert await s.get(ChatThread, ids.thread_ids[1]) is not None


async def test_the_views_on_both_backends(store: Store) -> None:
    """The same flow on SQLite and PostgreSQL: a view, y, d, and a delete that cascades."""
    ids = await seed_demo(store, now=NOW)
    app = _app(store)
    async with running(app, notifications=True) as pilot:
        screen = await open_view(app, pilot, "agents")
        shown = await _yaml_shown(app, pilot, screen, "writer")
        assert shown.startswith("---\nkind: agent\nname: writer\nllm: echo-local\n")
        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, TextScreen))
        assert "personalities (1):\n  friendly" in app.screen.query_one(TextArea).text
        await pilot.press("escape")
        await wait_for(lambda: app.screen is screen)
        await pilot.press("ctrl+d")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await answer_yes(pilot)
        await wait_for(lambda: column(screen, "name") == ["ops"])
    async with store.session() as s:
        assert await s.get(Agent, ids.agent_ids["writer"]) is None


async def test_a_virtual_row_is_not_edited_here_its_provider_is_named(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        await add_llm(store, "gpu", kind=LlmKind.VIRTUAL, provider_session_id="box-7")
        before = await dump_store(store)
        app = _app(store)
        async with running(app, notifications=True) as pilot:
            screen = await open_view(app, pilot, "llms")
            screen.table.move_cursor(row=column(screen, "name").index("gpu"))
            await pilot.press("e")
            await wait_for(lambda: notified(app, "provider session box-7 publishes it"))
            assert app.screen is screen  # no editor ran
            await pilot.press("d")
            await wait_for(lambda: isinstance(app.screen, TextScreen))
            text = app.screen.query_one(TextArea).text
            assert "published by provider session (1):\n  box-7" in text
        assert await dump_store(store) == before
