"""A safe keymap: the message box keeps its editing keys, the thread's keys act outside it,
a confirmation defaults to No and ignores a letter typed in the same burst, and the
footer shows the keys of the focused area.

The cases of issue 9: with a draft in the message box, Ctrl+D opened "Delete the thread
…?" and a following ``y`` deleted the thread; Ctrl+E opened Export, Ctrl+K copied a code
block, Ctrl+Y copied the reply.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Footer

from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.screens.dialogs import AskScreen, ConfirmScreen
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import (
    answer_yes,
    demo_store,
    enter_text,
    fixed_clock,
    running,
    screen_text,
    wait_for,
)


def _footer_keys(app: McpctlApp) -> set[str]:
    footer = app.screen.query_one(Footer)
    return {b.description for _, b, _, _ in footer.screen.active_bindings.values() if b.show}


async def test_the_message_box_keeps_its_editing_keys(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[0]  # its reply holds a code block: Ctrl+K had one to copy
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            box = app.main.panel.chat_input
            box.focus()
            box.text = "hello world"
            box.move_cursor((0, 0))
            await pilot.press("ctrl+e")  # end of the line, not Export
            await pilot.pause()
            assert box.cursor_location == (0, len("hello world"))
            box.move_cursor((0, 5))
            await pilot.press("ctrl+d")  # delete right, not Delete thread
            await pilot.pause()
            assert box.text == "helloworld"
            await pilot.press("ctrl+k")  # delete to the end, not Copy code
            await pilot.pause()
            assert box.text == "hello"
            await pilot.press("ctrl+z")  # undo (edits close in time are undone together)
            await pilot.pause()
            assert box.text in ("helloworld", "hello world")
            await pilot.press("ctrl+y")  # redo, not Copy
            await pilot.pause()
            assert box.text == "hello"
            await pilot.press("y")  # a y after all that is a letter in the draft
            await pilot.pause(0.2)
            assert box.text == "helloy"
            assert app.screen is app.screen_stack[0]  # no dialog opened
            assert app.clipboard == ""  # nothing copied
        async with store.session() as s:
            assert await s.get(ChatThread, tid) is not None


async def test_outside_the_box_the_keys_act_on_the_thread_and_the_footer_says_so(
    tmp_path: Path,
) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[0]
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app, (160, 40)) as pilot:
            await pilot.pause()
            in_box = _footer_keys(app)
            assert "Send" in in_box and "Delete thread" not in in_box
            app.main.threads.focus()
            await pilot.pause()
            in_list = _footer_keys(app)
            assert {"Delete thread", "Export"} <= in_list and "Send" not in in_list
            app.main.panel.chat.focus()
            await pilot.pause()
            assert {"Copy", "Copy code", "Delete thread", "Export"} <= _footer_keys(app)
            await pilot.press("ctrl+k")
            assert app.clipboard.startswith("async def healthz(request):")
            await pilot.press("ctrl+e")
            await wait_for(lambda: isinstance(app.screen, AskScreen))
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.screen_stack[0])
            app.main.agents.focus()
            await pilot.pause()
            assert "Delete agent" in _footer_keys(app)


async def test_a_confirmation_defaults_to_no(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[0]
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            app.main.threads.focus()
            await pilot.press("ctrl+d")
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause()
            focused = app.screen.focused
            assert isinstance(focused, Button) and focused.id == "no"
            await pilot.pause(0.6)  # however long the operator reads it, Enter is No
            await pilot.press("enter")
            await wait_for(lambda: app.screen is app.screen_stack[0])
            assert app.main.state.thread_id == tid
        async with store.session() as s:
            assert await s.get(ChatThread, tid) is not None


async def test_a_y_typed_in_the_same_burst_as_ctrl_d_is_not_the_answer(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[0]
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            app.main.threads.focus()
            await pilot.press("ctrl+d", "y")  # a slip: both keys at once
            await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")  # and again, before the dialog could be read
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmScreen)  # still asking
            async with store.session() as s:
                assert await s.get(ChatThread, tid) is not None
            await answer_yes(pilot)  # a y once it has been read is the answer
            await wait_for(lambda: app.main.state.thread_id is None)
        async with store.session() as s:
            assert await s.get(ChatThread, tid) is None


async def test_main_screen_keys_are_inert_under_a_dialog(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[0]
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            await pilot.press("f2")  # rename: a one-line question
            await wait_for(lambda: isinstance(app.screen, AskScreen))
            await pilot.pause()
            for key in ("ctrl+n", "ctrl+r", "alt+up", "f1"):
                await pilot.press(key)
            await pilot.pause(0.2)
            assert isinstance(app.screen, AskScreen)  # no help over it, nothing else either
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.screen_stack[0])
            assert app.main.state.thread_id == tid  # Ctrl+N did not start a new thread
            assert "Health check endpoint" in screen_text(app)


async def test_lists_move_like_k9s_and_enter_goes_to_the_message_box(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app) as pilot:
            threads = app.main.threads
            threads.focus()
            await pilot.press("j")
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[1])
            await pilot.press("G")
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[2])
            await pilot.press("k", "g")
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[0])
            await pilot.press("enter")
            await pilot.pause()
            assert app.focused is app.main.panel.chat_input
            app.main.agents.focus()
            await pilot.press("i")  # from anywhere outside the box: into it
            await pilot.pause()
            assert app.focused is app.main.panel.chat_input
            await pilot.press("i")  # in the box it is a letter
            assert app.main.panel.chat_input.text == "i"


async def test_up_in_an_empty_box_recalls_the_threads_questions(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        tid = ids.thread_ids[1]  # asked "Which build host is the fullest?" and a follow-up
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops", thread_id=tid))
        async with running(app) as pilot:
            box = app.main.panel.chat_input
            box.focus()
            await enter_text(app, pilot, "and the emptiest?")
            await wait_for(lambda: not app.main.panel.streaming and box.text == "")
            await pilot.press("up")
            await wait_for(lambda: box.text == "and the emptiest?")
            await pilot.press("up")
            await wait_for(lambda: box.text not in ("", "and the emptiest?"))
            older = box.text
            await pilot.press("down")
            await wait_for(lambda: box.text == "and the emptiest?")
            await pilot.press("down")
            await wait_for(lambda: box.text == "")
            await pilot.press("up", "up")
            await wait_for(lambda: box.text == older)
            await pilot.press("!")  # edited: Up is the cursor's again
            await pilot.press("up")
            await pilot.pause()
            assert box.text == older + "!"
