"""F3 (and ``/context``) show what the open agent would send: the personality and session
settings in effect, the thread's history, as plain text; nothing is sent or written."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.screens.context import ContextScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.databases import dump_store
from tests.support.pilot import enter_text, fixed_clock, running, temp_store, wait_for
from tests.support.seed import add_agent, add_llm, add_personality, add_prompt, bind_prompt


def _shown(app: McpctlApp) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static))


async def test_f3_and_slash_context_show_the_request_and_write_nothing(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        llm = (
            await add_llm(store, "gw", type="openai", model="gpt-x", url="http://127.0.0.1:9/v1")
        ).id
        a = (await add_agent(store, "ops", llm, system_prompt="SYS [bold]x[/bold] [/]")).id
        pager = (await add_personality(store, a, "pager")).id
        await bind_prompt(store, pager, (await add_prompt(store, "terse", "TERSE", agent_id=a)).id)
        before = await dump_store(store)
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app) as pilot:
            app.main.sidebar.focus()
            await pilot.press("f3")
            await wait_for(lambda: isinstance(app.screen, ContextScreen))
            text = _shown(app)
            assert "SYS [bold]x[/bold] [/]" in text  # shown as written, not as markup
            assert '"model": "gpt-x"' in text and "http://127.0.0.1:9/v1" in text
            assert "TERSE" not in text  # no personality chosen yet
            await pilot.press("escape")
            await wait_for(lambda: not isinstance(app.screen, ContextScreen))
            # The session's settings are what the next message goes with.
            await enter_text(app, pilot, "/personality pager")
            await enter_text(app, pilot, "/set temperature 0.2")
            await enter_text(app, pilot, "/context")
            await wait_for(lambda: isinstance(app.screen, ContextScreen))
            text = _shown(app)
            assert "TERSE" in text and '"temperature": 0.2' in text
            assert "personality pager" in text
            await pilot.press("escape")
        assert await dump_store(store) == before
