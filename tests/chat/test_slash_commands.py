"""One slash-command language: the REPL and the TUI pass the same table (``slash_cases``).

The REPL runs on both backends (its lines through ``handle_line``, as it reads them);
the TUI runs in a pilot on SQLite (its lines typed into the message box).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from mcpctl_tui.chat.commands import (
    ChoosePersonality,
    CommandError,
    ListPersonalities,
    NewThread,
    Quit,
    Save,
    SendText,
    SessionSettings,
    SetLlm,
    SetParam,
    SetSystem,
    ShowParams,
    UnsetParam,
    help_rows,
    parse,
)
from mcpctl_tui.chat.context import NO_PERSONALITY
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.cli.chat import Session, handle_line
from mcpctl_tui.store.demo import DemoIds, seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import (
    NOW,
    demo_store,
    enter_text,
    fixed_clock,
    notifications,
    running,
    wait_for,
)
from tests.support.slash_cases import CASES, Outcome, SlashCase


def test_parse() -> None:
    assert parse("hello /set x") == SendText("hello /set x")
    assert parse("//set x 1") == SendText("/set x 1")
    assert parse("/set max-tokens 5") == SetParam("max_tokens", 5)
    assert parse('/set stop ["a", "b"]') == SetParam("stop", ["a", "b"])
    assert parse("/set stop two words") == SetParam("stop", "two words")
    assert parse("/set top-p") == UnsetParam("top_p")
    assert parse("/set") == ShowParams()
    assert parse("/system") == SetSystem(None)
    assert parse("/llm  gpt-eu ") == SetLlm("gpt-eu")
    assert parse("/llm") == SetLlm(None)
    assert parse("/personality none") == ChoosePersonality(NO_PERSONALITY)
    assert parse("/personality") == ListPersonalities()
    assert parse("/new") == NewThread() == parse("/clear")
    assert parse("/save  A title ") == Save("A title")
    assert parse("/exit") == Quit() == parse("/q")
    with pytest.raises(CommandError, match="usage: /unset KEY"):
        parse("/unset")
    with pytest.raises(CommandError, match="unknown command /nope"):
        parse("/nope x")
    with pytest.raises(CommandError, match="unknown command /"):
        parse("/ alone")


def test_help_lists_every_command_from_the_table() -> None:
    usages = [usage for usage, _ in help_rows()]
    for word in ("/set", "/unset", "/system", "/llm", "/personality", "/clear", "/save", "/help"):
        assert any(u.startswith(word) for u in usages), word
    assert any("//" in u for u in usages)  # how to send a line that starts with /


async def _outcome(
    store: Store, ids: DemoIds, said: str, settings: SessionSettings, thread_id: int | None
) -> Outcome:
    thread = ids.thread_ids[0]
    async with store.session() as s:
        agent = (await s.execute(select(Agent).where(Agent.name == "ops"))).scalar_one()
        stored = await s.get(ChatThread, thread)
        users = (
            await s.execute(
                select(ChatMessage.content)
                .where(ChatMessage.thread_id == thread, ChatMessage.role == "user")
                .order_by(ChatMessage.turn_index)
            )
        ).scalars()
        sent = list(users)[1:]  # the demo thread has one question already
    return Outcome(
        said=said,
        settings=settings,
        thread_id=thread_id,
        agent_params=dict(agent.default_params or {}),
        thread_title=stored.title if stored else "",
        sent=sent,
    )


def _judge(case: SlashCase, outcome: Outcome) -> None:
    assert case.says in outcome.said, outcome.said
    assert case.check(outcome), outcome


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_the_repl(store: Store, case: SlashCase) -> None:
    ids = await seed_demo(store, now=NOW)
    sess = Session(agent="ops", thread_id=ids.thread_ids[0])
    out, err = io.StringIO(), io.StringIO()
    async with ChatService(store) as svc:
        for line in case.lines:
            assert await handle_line(svc, sess, line, out, err)
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    said = lines[-1] if lines else ""
    _judge(case, await _outcome(store, ids, said, sess.settings, sess.thread_id))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_the_tui(tmp_path: Path, case: SlashCase) -> None:
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", thread_id=ids.thread_ids[0])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            for line in case.lines:
                await enter_text(app, pilot, line)
                await pilot.pause()
                if line.startswith("//"):  # a message: its reply is stored once it is done
                    await wait_for(lambda: app.main.panel.stats.state == "done")
                await wait_for(lambda: not app.main.panel.streaming)
                await pilot.pause()
            said = [str(n.message) for n in notifications(app)]
            state = app.main.state
            outcome = await _outcome(
                store, ids, said[-1] if said else "", state.settings, state.thread_id
            )
        _judge(case, outcome)


async def test_a_refused_command_stays_in_the_box_and_a_done_one_leaves_it(
    tmp_path: Path,
) -> None:
    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app) as pilot:
            box = app.main.panel.chat_input
            await enter_text(app, pilot, "/personality nosuch")
            await pilot.pause()
            assert box.text == "/personality nosuch"
            await enter_text(app, pilot, "/personality teacher")
            await pilot.pause()
            assert box.text == ""
