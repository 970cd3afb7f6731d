"""``/`` on a sidebar list filters it (substring, ``!`` inverts, a regex when valid): the
list narrows as the operator types without opening anything, Enter opens the row it
lands on, Esc clears and puts the highlight back, and a reload keeps the filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mcpctl_tui.chat.context import NO_PERSONALITY
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.browse.sidebar import ListFilter
from tests.support.pilot import demo_store, fixed_clock, running, wait_for
from tests.support.seed import add_agent

SIZE = (100, 30)


def _agents(app: McpctlApp) -> list[str]:
    return [r.name for r in app.main.agents.rows]


def _titles(app: McpctlApp) -> list[str]:
    return [t.title or "" for t in app.main.threads.shown]


async def _filter(app: McpctlApp, pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash")
    box = app.main.query_one(ListFilter)
    await wait_for(lambda: box.has_focus)
    box.value = ""
    for ch in text:
        await pilot.press(ch if ch.isalnum() else _KEY.get(ch, ch))
    await pilot.pause()


_KEY = {" ": "space", "!": "exclamation_mark", "^": "circumflex_accent", "|": "vertical_line"}


async def test_agents_narrow_as_you_type_enter_opens_esc_restores(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (_store, _ids):
        app = McpctlApp(_store, clock=fixed_clock)
        async with running(app, SIZE) as pilot:
            assert app.main.state.agent is not None and app.main.state.agent.name == "ops"
            app.main.agents.focus()
            await _filter(app, pilot, "wri")
            assert _agents(app) == ["writer"]
            assert app.main.agents.border_subtitle == "/wri"
            # Typing moved nothing: ops is still open, the box still has the keys.
            assert app.main.state.agent.name == "ops"
            await pilot.press("enter")
            await wait_for(lambda: app.main.state.agent and app.main.state.agent.name == "writer")
            assert app.main.agents.has_focus and _agents(app) == ["writer"]  # filter kept
            await wait_for(lambda: _titles(app) == ["Release notes 1.4"])

            # Esc in the box clears the filter; the highlight stays where it was.
            await pilot.press("slash")
            box = app.main.query_one(ListFilter)
            await wait_for(lambda: box.has_focus)
            assert box.value == "wri"  # the filter in effect, to edit
            await pilot.press("escape")
            await pilot.pause()
            assert _agents(app) == ["ops", "writer"] and not box.display
            assert app.main.agents.current is not None
            assert app.main.agents.current.name == "writer"
            assert app.main.agents.border_subtitle == ""
            assert app.main.state.agent is not None and app.main.state.agent.name == "writer"


async def test_inverted_regex_and_a_reload_keeps_the_filter(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app, SIZE) as pilot:
            app.main.agents.focus()
            await _filter(app, pilot, "!ops")
            assert _agents(app) == ["writer"]
            await _filter(app, pilot, "^(ops|wr)")
            assert _agents(app) == ["ops", "writer"]
            await _filter(app, pilot, "^w")  # a regex: anchored, so "ops" (llm echo…) is out
            assert _agents(app) == ["writer"]
            await _filter(app, pilot, "a[")  # not a regex: a plain substring, no error
            assert _agents(app) == []
            await _filter(app, pilot, "wr")
            await pilot.press("enter")
            await pilot.pause()
            # Another process adds two agents: the list follows the store, filtered.
            async with store.transaction() as s:
                await add_agent(s, "wrangler", ids.llm_id)
                await add_agent(s, "auditor", ids.llm_id)
            await pilot.press("r")
            await wait_for(lambda: _agents(app) == ["wrangler", "writer"])
            assert [r.name for r in app.main.agents.all_rows] == [
                "auditor",
                "ops",
                "wrangler",
                "writer",
            ]


async def test_threads_filter_by_title_and_the_message_box_keeps_its_slash(
    tmp_path: Path,
) -> None:
    async with demo_store(tmp_path) as (store, _ids):
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app, SIZE) as pilot:
            await wait_for(lambda: len(_titles(app)) == 3)
            opened = app.main.state.thread_id
            app.main.threads.focus()
            await _filter(app, pilot, "disk")
            assert _titles(app) == ["Disk usage on build hosts"]
            assert app.main.state.thread_id == opened  # nothing opened while typing
            await pilot.press("enter")
            want = app.main.threads.shown[0].id
            await wait_for(lambda: app.main.state.thread_id == want)
            # Personalities filter on name and description; "none" is a row like the rest.
            app.main.personalities.focus()
            await _filter(app, pilot, "pager")
            assert app.main.personalities.values == ["oncall"]
            await _filter(app, pilot, "!oncall")
            assert app.main.personalities.values == [NO_PERSONALITY, "teacher"]
            # In the message box "/" is text (a slash command), never the list filter.
            app.main.panel.chat_input.focus()
            await pilot.press("slash")
            await pilot.pause()
            assert app.main.panel.chat_input.text == "/"
            assert not app.main.query_one(ListFilter).display
