"""Pilot tests of browsing: welcome, paging, windows of turns, slash commands, thread actions."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Input, Static

from mcpctl_tui.store.branches import branch_from
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, insert_turns, lock_thread
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.backend import NO_PERSONALITY
from mcpctl_tui.ui.screens.dialogs import AskScreen, ConfirmScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import (
    NOW,
    clear_notifications,
    demo_store,
    enter_text,
    fixed_clock,
    notifications,
    notified,
    running,
    screen_text,
    set_params,
    temp_store,
    wait_for,
)
from tests.support.seed import add_llm_agent, add_thread


async def _many_threads(store: Store, agent_id: int, threads: int, turns: int = 0) -> list[int]:
    ids = []
    async with store.transaction() as s:
        for i in range(threads):
            at = NOW - timedelta(minutes=i)
            rows = [
                {
                    "role": "user" if j % 2 == 0 else "assistant",
                    "content": f"turn number {j}",
                    "created_at": at,
                }
                for j in range(turns)
            ]
            t = await add_thread(s, agent_id, rows, title=f"thread {i:03d}", created_at=at)
            ids.append(t.id)
    return ids


async def _slash(app: McpctlApp, pilot: Pilot[Any], line: str) -> None:
    """Send a line (a slash command) and let the app act on it."""
    await enter_text(app, pilot, line)
    await pilot.pause()


async def _answer(app: McpctlApp, pilot: Pilot[Any], key: str, answer: str) -> None:
    """Press ``key``, which asks a question (AskScreen), and enter ``answer`` to it."""
    if key in ("ctrl+d", "ctrl+e"):
        app.main.panel.chat.focus()  # the thread's keys act outside the message box
    await pilot.press(key)
    await wait_for(lambda: isinstance(app.screen, AskScreen))
    app.screen.query_one(Input).value = answer
    await pilot.press("enter")


async def test_empty_store_shows_the_welcome(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await pilot.pause()
            shown = screen_text(app)
            assert "Welcome to mcpctl-tui" in shown
            assert "apply -f" in shown and "mcpctl-tui demo" in shown
            await app.main.panel.send("hello")
            await pilot.pause()
            assert notified(app, "add an agent first")


async def test_threads_page_as_the_list_scrolls(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        agent = (await add_llm_agent(store, llm="l", agent="pager")).id
        await _many_threads(store, agent, 120)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            assert len(app.main.threads.threads) == 50
            assert app.main.threads.has_more
            app.main.threads.focus()
            await pilot.press("end")
            await wait_for(lambda: len(app.main.threads.threads) == 100)
            await pilot.press("end")
            await wait_for(lambda: len(app.main.threads.threads) == 120)
            titles = [t.title for t in app.main.threads.threads]
            assert titles == [f"thread {i:03d}" for i in range(120)]  # newest first, no repeats
            assert not app.main.threads.has_more


@pytest.mark.timing
async def test_long_thread_mounts_a_window_and_loads_older_on_scroll(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        agent = (await add_llm_agent(store, llm="l", agent="talker")).id
        await _many_threads(store, agent, 1, turns=400)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await pilot.pause()
            first = app.main.panel.chat.turns
            assert first[-1].row is not None and first[-1].row.turn_index == 399
            assert len(first) < 60  # a window, not the thread
            assert "turn number 399" in screen_text(app)
            chat = app.main.panel.chat
            mounted = len(chat.turns)
            first_shown = chat.first_turn_index
            marker = chat.query_one(".window-edge.older", Static)
            assert f"▲ {first_shown} older turns" in str(marker.render())
            for _ in range(3):  # the operator scrolls to the top, three times
                chat.scroll_home(animate=False)
                await pilot.pause(0.1)
                chat.scroll_end(animate=False)
                await pilot.pause(0.1)
            await wait_for(lambda: len(chat.turns) > mounted)
            await wait_for(lambda: not chat.sliding)
            indexes = [t.row.turn_index for t in chat.turns if t.row is not None]
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
            assert chat.has_newer == (indexes[-1] != 399)  # newest unmounted: said below


async def test_slash_commands(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app) as pilot:
            await _slash(app, pilot, "/set temperature 0.7")
            await _slash(app, pilot, '/set stop ["END"]')
            assert app.main.state.settings.params == {"temperature": 0.7, "stop": ["END"]}
            assert app.main.panel.chat_input.text == ""
            assert "temperature=0.7" in screen_text(app)
            await _slash(app, pilot, "/unset stop")
            assert app.main.state.settings.params == {"temperature": 0.7}
            await _slash(app, pilot, "/system You answer in haiku.")
            assert app.main.state.settings.overrides.system == "You answer in haiku."
            await _slash(app, pilot, "/personality teacher")
            assert app.main.state.settings.personality == "teacher"
            assert app.main.personalities.current == "teacher"
            await _slash(app, pilot, "/personality none")
            assert app.main.state.settings.personality == NO_PERSONALITY
            await _slash(app, pilot, "/personality nosuch")
            assert app.main.panel.chat_input.text == "/personality nosuch"  # kept, with an error
            assert notified(app, "has no personality 'nosuch'")
            await _slash(app, pilot, "/save")  # params become the agent's defaults
            async with store.session() as s:
                ops = (await s.execute(select(Agent).where(Agent.name == "ops"))).scalar_one()
                assert ops.default_params["temperature"] == 0.7
            assert app.main.state.settings.params == {}
            await _slash(app, pilot, "/save Renamed by save")
            assert app.main.state.title == "Renamed by save"
            await _slash(app, pilot, "/clear")
            assert app.main.state.thread_id is None
            await _slash(app, pilot, "/bogus")
            assert notified(app, "unknown command /bogus")


async def test_delete_thread_asks_and_says_what_goes(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", thread_id=ids.thread_ids[1])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            assert app.main.state.thread_id == ids.thread_ids[1]
            app.main.threads.focus()  # the thread's keys act outside the message box
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause()
            shown = screen_text(app)
            assert "Disk usage on build hosts" in shown and "4 turns" in shown
            await pilot.press("escape")  # cancel first: nothing goes
            await pilot.pause()
            async with store.session() as s:
                assert await s.get(ChatThread, ids.thread_ids[1]) is not None
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#yes")
            await wait_for(lambda: app.main.state.thread_id is None)
            await wait_for(
                lambda: ids.thread_ids[1] not in [t.id for t in app.main.threads.threads]
            )
        async with store.session() as s:
            assert await s.get(ChatThread, ids.thread_ids[1]) is None
            left = (
                await s.execute(
                    select(ChatMessage).where(ChatMessage.thread_id == ids.thread_ids[1])
                )
            ).first()
            assert left is None


async def test_export_thread_markdown_and_json(tmp_path: Path) -> None:
    """Markdown: the current path; JSON: every branch, each turn with its parent."""
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[1]
        async with store.transaction() as s:  # the last reply answered again: a branch
            await lock_thread(s, tid)
            await branch_from(s, tid, 2)
            await insert_turns(s, tid, 4, [NewMessage("assistant", "Another answer.")], 2)
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app):
            await app.data.export_thread(tid, tmp_path / "t.md")
            await app.data.export_thread(tid, tmp_path / "t.json")
    md = (tmp_path / "t.md").read_text()
    assert md.startswith("# Disk usage on build hosts")
    assert "Tool call `disk_usage`" in md and "Another answer." in md
    assert "**build-2** is at 93%" not in md  # the reply that left the path
    data = json.loads((tmp_path / "t.json").read_text())
    assert [t["role"] for t in data["turns"]] == [
        "user", "assistant", "tool", "assistant", "assistant"
    ]  # fmt: skip
    assert data["turns"][1]["tool_calls"][0]["function"]["name"] == "disk_usage"
    assert data["turns"][2]["tool_call_id"] == "call_1"
    assert [(t["parent"], t["onPath"]) for t in data["turns"]] == [
        (None, True), (0, True), (1, True), (2, False), (2, True)
    ]  # fmt: skip
    assert "**build-2** is at 93%" in data["turns"][3]["content"]


async def test_start_options_open_agent_personality_thread(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", personality="teacher", thread_id=ids.thread_ids[2])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            await pilot.pause()
            assert app.main.state.agent is not None and app.main.state.agent.name == "ops"
            assert app.main.personalities.current == "teacher"
            assert app.main.state.thread_id == ids.thread_ids[2]
            assert "Rotate the API gateway certs" in screen_text(app)


async def test_slash_refusals_are_notifications_and_keep_the_line(tmp_path: Path) -> None:
    """A bad /set value is refused at once; /save against a thread or agent that another
    process removed is a notification, never a crash; the line stays to fix."""
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", thread_id=ids.thread_ids[1])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            await _slash(app, pilot, '/set api_key "sk-live-123"')
            assert app.main.state.settings.params == {}
            assert app.main.panel.chat_input.text == '/set api_key "sk-live-123"'
            assert notified(app, "literal secret") and not notified(app, "sk-live-123")
            await _slash(app, pilot, "/set temperature NaN")
            assert app.main.state.settings.params == {} and notified(app, "finite numbers")
            await _slash(app, pilot, "/set temperature 0.5")
            assert app.main.state.settings.params == {"temperature": 0.5}

            # The thread goes from under the app (another process deletes it).
            async with store.transaction() as s:
                await s.delete(await s.get(ChatThread, ids.thread_ids[1]))
            await _slash(app, pilot, "/save Another title")
            assert app.is_running
            assert app.main.panel.chat_input.text == "/save Another title"
            assert notified(app, "thread")
            # The agent goes too: /save of params is refused the same way.
            async with store.transaction() as s:
                await s.execute(ChatThread.__table__.delete())
                await s.execute(Agent.__table__.delete().where(Agent.name == "ops"))
            set_params(app, {"temperature": 0.5})
            await _slash(app, pilot, "/save")
            assert app.is_running and app.main.panel.chat_input.text == "/save"
            assert app.main.state.settings.params == {
                "temperature": 0.5
            }  # nothing saved, nothing dropped
            # F2 rename of the vanished thread: a notification as well.
            app.main.panel.state = app.main.state.in_thread(ids.thread_ids[1], "gone")
            await pilot.press("f2")
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert app.is_running


async def test_copy_any_chosen_message(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", thread_id=ids.thread_ids[0])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            user, reply = app.main.panel.chat.turns[-2:]
            assert user.plain_text() == "How do I add a health check to my service?"
            app.main.panel.chat.focus()  # the chat's keys (in the message box, Ctrl+Y redoes)
            await pilot.press("ctrl+y")  # nothing chosen: the last reply
            assert app.clipboard == reply.plain_text()
            await pilot.press("alt+up")  # from the end: the reply, then the question
            assert app.main.panel.chat.selected is reply
            await pilot.press("alt+up")
            assert app.main.panel.chat.selected is user
            assert user.styles.outline_right[0] == "thick"
            assert reply.styles.outline_right[0] == ""  # the mark moved with the choice
            await pilot.press("ctrl+y")
            assert app.clipboard == "How do I add a health check to my service?"
            await pilot.press("ctrl+k")  # the question has no code block: said, nothing copied
            assert app.clipboard == "How do I add a health check to my service?"
            assert notified(app, "no code block in the chosen")
            await pilot.press("alt+down")
            await pilot.press("ctrl+k")
            assert app.clipboard.startswith("async def healthz(request):")
            await pilot.click(user)  # a click chooses too
            assert app.main.panel.chat.selected is user
            # Another thread: the choice does not follow.
            app.main.panel.open_thread(ids.thread_ids[1])
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[1])
            await pilot.pause()
            assert app.main.panel.chat.selected is None


async def test_notifications_with_untrusted_text_paint_literally(tmp_path: Path) -> None:
    """A notification quoting a name, an error or a command (untrusted text) is painted as
    typed. Toasts are off in ``run_test`` by default, which hid that painting one crashed
    the app; they are on here."""
    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="[b]nosuch[/b]"))
        async with running(app, notifications=True) as pilot:
            await enter_text(app, pilot, "/bogus [@click=app.quit]x[/]")
            await pilot.pause(0.2)
            assert app.is_running
            shown = screen_text(app)
            assert "no agent named [b]nosuch[/b]" in shown
            assert "unknown command /bogus" in shown
        assert app.return_code in (None, 0)


async def test_start_thread_opens_with_its_own_agent(tmp_path: Path) -> None:
    """``--thread`` of another agent's thread (or alone) opened it under the first or the
    named agent, where a send is refused; an unknown thread left a blank chat."""
    async with demo_store(tmp_path) as (store, ids):
        ops_thread, writer_thread = ids.thread_ids[2], ids.thread_ids[3]
        cases = [
            (StartAt(agent="writer", thread_id=ops_thread), "ops", ops_thread),
            (StartAt(thread_id=writer_thread), "writer", writer_thread),
            (StartAt(agent="writer", thread_id=999), "writer", writer_thread),
        ]
        for start, agent, thread in cases:
            app = McpctlApp(store, clock=fixed_clock, start=start)
            async with running(app) as pilot:
                await pilot.pause()
                assert app.main.state.agent is not None and app.main.state.agent.name == agent
                assert app.main.state.thread_id == thread
                assert app.main.state.title  # the thread's title, not a blank chat
                said = [str(n.message) for n in notifications(app)]
                if start.thread_id == ops_thread:
                    assert f"thread {ops_thread} belongs to agent ops: opened with it" in said
                if start.thread_id == 999:
                    assert any("thread 999" in m and "not found" in m for m in said)


async def test_rename_refuses_an_empty_title_and_thread_keys_explain_a_new_thread(
    tmp_path: Path,
) -> None:
    """An empty title made an old thread look like "new thread"; F2, Ctrl+D and Ctrl+E on
    a thread not yet sent did nothing at all."""
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[1]
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            await _answer(app, pilot, "f2", "   ")
            await wait_for(lambda: not isinstance(app.screen, AskScreen))
            await pilot.pause()
            assert app.main.state.title == "Disk usage on build hosts"
            assert notified(app, "cannot be empty")

            await app.main.action_new_thread()
            clear_notifications(app)
            app.main.panel.chat.focus()  # where Ctrl+D and Ctrl+E act on the thread
            for key in ("f2", "ctrl+d", "ctrl+e"):
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is app.screen_stack[0]  # no dialog for a thread not sent
            said = [str(n.message) for n in notifications(app)]
            assert said.count("no thread yet: send a message first") == 3
        async with store.session() as s:
            thread = await s.get(ChatThread, tid)
            assert thread is not None and thread.title == "Disk usage on build hosts"


def _key_shown(key: str) -> str:
    """A binding's key as the help writes it: ctrl+s -> Ctrl+S, escape -> Esc."""
    names = {
        "escape": "Esc",
        "enter": "Enter",
        "colon": ":",
        "slash": "/",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }
    *mods, last = key.split("+")
    if len(last) == 1:
        shown = last.upper() if mods else last
    else:
        shown = names.get(last, last.upper() if last[1:].isdigit() else last.title())
    return "+".join([*(m.title() for m in mods), shown])


async def test_every_binding_is_in_the_footer_or_the_help(tmp_path: Path) -> None:
    """The issue asks for every binding in the footer or on the help screen. A dialog's
    keys (Ctrl+S, Esc, Y) are in its own footer only once it is open, so they must be in
    the help too; Alt+Down was only implied by "Alt+Up/Down"."""
    from textual.widgets import Footer

    from mcpctl_tui.ui.browse.panes import AgentList, ThreadList
    from mcpctl_tui.ui.chat.input import ChatInput
    from mcpctl_tui.ui.chat.view import ChatView
    from mcpctl_tui.ui.screens.editors import EditorScreen
    from mcpctl_tui.ui.screens.help import HelpScreen
    from mcpctl_tui.ui.screens.main import MainScreen

    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app, (160, 50)) as pilot:
            await pilot.pause()
            footer = app.screen.query_one(Footer)
            in_footer = {b.key for _, b, enabled, _ in footer.screen.active_bindings.values()}
            await pilot.press("f1")
            await wait_for(lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause()
            # Every row of the help, scrolled into view or not.
            help_text = "\n".join(str(k.render()) for k in app.screen.query(".help-key"))
    owners = [
        McpctlApp,
        MainScreen,
        ChatInput,
        ChatView,
        ThreadList,
        AgentList,
        EditorScreen,
        ConfirmScreen,
        AskScreen,
        HelpScreen,
    ]
    missing = []
    for owner in owners:
        for binding in owner.BINDINGS:
            assert not isinstance(binding, tuple)
            for key in binding.key.split(","):
                shown_in_footer = owner in (McpctlApp, MainScreen, ChatInput) and binding.show
                if shown_in_footer and key in in_footer:
                    continue
                if _key_shown(key) not in help_text:
                    missing.append(f"{owner.__name__}: {key}")
    assert missing == []


async def test_export_asks_before_replacing_a_file(tmp_path: Path) -> None:
    """Ctrl+E wrote over an existing file without a word."""
    async with demo_store(tmp_path) as (store, ids):
        kept = tmp_path / "notes.md"
        kept.write_text("my notes")
        start = StartAt(agent="ops", thread_id=ids.thread_ids[1])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:

            async def export_to(path: Path) -> None:
                await _answer(app, pilot, "ctrl+e", str(path))
                await wait_for(lambda: not isinstance(app.screen, AskScreen))
                await pilot.pause()

            await export_to(kept)
            assert isinstance(app.screen, ConfirmScreen)
            assert "exists. Replace it?" in screen_text(app)
            assert app.screen._message.plain == f"{kept} exists. Replace it?"
            await pilot.press("escape")
            await pilot.pause()
            assert kept.read_text() == "my notes"

            await export_to(kept)
            await pilot.click("#yes")
            await wait_for(lambda: kept.read_text().startswith("# Disk usage on build hosts"))

            fresh = tmp_path / "fresh.json"
            await export_to(fresh)  # a new file: no question
            await wait_for(fresh.exists)
            assert app.screen is app.screen_stack[0]


async def test_a_failed_export_asks_again_with_the_path_typed(tmp_path: Path) -> None:
    """A path in a missing directory closed the dialog: the path typed was lost."""
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", thread_id=ids.thread_ids[1])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            typed = str(tmp_path / "no-such-dir" / "disk-usage-notes.md")
            await _answer(app, pilot, "ctrl+e", typed)
            await wait_for(lambda: notified(app, "export failed"))
            await wait_for(lambda: isinstance(app.screen, AskScreen))
            assert app.screen.query_one(Input).value == typed
            fixed = str(tmp_path / "disk-usage-notes.md")
            app.screen.query_one(Input).value = fixed
            await pilot.press("enter")
            await wait_for(lambda: Path(fixed).exists())
