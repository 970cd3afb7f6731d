"""Pilot tests of the chat: send, stream, cancel, regenerate, errors, model text as text."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from textual import events
from textual.pilot import Pilot

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import ChatMessage, ChatThread, Llm, Personality
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus
from mcpctl_tui.store.usage import money
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.chat.turns import AssistantTurn
from mcpctl_tui.ui.state import StartAt
from tests.support.llm_servers import LlmServer, Reply, error_reply, openai_events, openai_reply
from tests.support.pilot import (
    clear_notifications,
    demo_store,
    enter_text,
    fixed_clock,
    notifications,
    notified,
    running,
    screen_text,
    temp_store,
    wait_for,
)
from tests.support.seed import add_llm_agent, add_thread


async def _messages(store: Store, thread_id: int, *, every: bool = False) -> list[ChatMessage]:
    """The thread's current path (``every``: its turns on every branch)."""
    async with store.session() as s:
        q = (
            select(ChatMessage)
            .where(ChatMessage.thread_id == thread_id, every or ChatMessage.on_path)
            .order_by(ChatMessage.turn_index)
        )
        return list((await s.execute(q)).scalars())


def _done(app: McpctlApp) -> bool:
    return not app.main.panel.streaming and app.main.panel.reply_stream is None


@asynccontextmanager
async def _served_agent(
    tmp_path: Path, reply: Reply | Sequence[Reply], *, llm: str, agent: str
) -> AsyncIterator[tuple[Store, McpctlApp]]:
    """A store whose one agent talks to a local LLM server answering ``reply``, and an
    app on it (not started)."""
    async with LlmServer(reply) as srv, temp_store(tmp_path) as store:
        await add_llm_agent(store, llm=llm, agent=agent, type="openai", url=srv.url)
        yield store, McpctlApp(store, clock=fixed_clock)


async def _send_and_wait(
    app: McpctlApp, pilot: Pilot[Any], text: str, status: MessageStatus
) -> None:
    """Send ``text`` and wait until its reply is over and stands in ``status``."""
    await enter_text(app, pilot, text)
    await wait_for(lambda: _done(app) and app.main.panel.chat.last_assistant() is not None)
    await wait_for(lambda: app.main.panel.chat.last_assistant().status == status)


async def _until_refused(app: McpctlApp, pilot: Pilot[Any], why: str) -> None:
    """Wait for the notification that says ``why`` a send was refused, and for the app to
    settle after it."""
    await wait_for(lambda: notified(app, why))
    await wait_for(lambda: _done(app))
    await pilot.pause()


async def _last_stored(store: Store, thread_id: int | None) -> ChatMessage:
    """The last message stored in the thread the app was on."""
    assert thread_id is not None
    return (await _messages(store, thread_id))[-1]


async def _send_then_type(app: McpctlApp, sent: str, typed: str) -> None:
    """Type ``sent``, Enter, then ``typed`` in one burst: the operator goes on typing while
    the send is refused."""

    app.main.panel.chat_input.focus()
    for ch in sent:
        app.post_message(events.Key(ch, ch))
    app.post_message(events.Key("enter", "\r"))
    for ch in typed:
        app.post_message(events.Key(ch, ch))


async def _delete_personality(store: Store, name: str) -> None:
    async with store.transaction() as s:
        row = (await s.execute(select(Personality).where(Personality.name == name))).scalar_one()
        await s.delete(row)


async def _mark_llms_inactive(store: Store) -> None:
    """Every LLM goes inactive behind the app's back (its publisher went away)."""
    async with store.transaction() as s:
        await s.execute(update(Llm).values(status=LlmStatus.INACTIVE))


async def test_echo_reply_streams_and_is_stored(tmp_path: Path) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="writer"))
        async with running(app) as pilot:
            before = app.main.state.thread_id
            await _send_and_wait(app, pilot, "ping from the pilot", MessageStatus.COMPLETE)
            turn = app.main.panel.chat.last_assistant()
            assert turn is not None
            assert "ping from the pilot" in turn.plain_text()
            assert app.main.panel.chat_input.text == ""
            assert app.main.state.thread_id == before
        rows = await _messages(store, ids.thread_ids[3])
        assert [r.role for r in rows[-2:]] == ["user", "assistant"]
        assert rows[-1].status == MessageStatus.COMPLETE
        assert "ping from the pilot" in rows[-1].content


async def test_markup_and_escapes_in_model_output_are_literal(tmp_path: Path) -> None:
    hostile = [
        "[@click=app.quit]x[/] ",
        "[bold red]alarm[/bold red] ",
        "\x1b[31mred\x1b[0m \x1b]0;title\x07",
        " done",
    ]
    served = _served_agent(tmp_path, openai_reply(hostile), llm="srv", agent="[b]agent[/b]")
    async with served as (_, app), running(app) as pilot:
        await _send_and_wait(app, pilot, "[@click=app.quit]me too[/]", MessageStatus.COMPLETE)
        await pilot.click("#chat")
        await pilot.pause()
        assert app.is_running
        shown = screen_text(app)
        assert "[@click=app.quit]x[/]" in shown
        assert "[bold red]alarm[/bold red]" in shown
        assert "[@click=app.quit]me too[/]" in shown
        assert "[b]agent[/b]" in shown
        assert "\x1b" not in shown
        assert "[31mred" in shown  # the ESC is gone, the rest is inert text


async def test_escape_cancels_and_keeps_the_partial_reply(tmp_path: Path) -> None:
    slow = Reply(openai_events([f"word{i} " for i in range(200)]), delay=0.02)
    async with _served_agent(tmp_path, slow, llm="slow", agent="slowpoke") as (store, app):
        async with running(app) as pilot:
            await enter_text(app, pilot, "take your time")
            await wait_for(
                lambda: (
                    app.main.panel.reply_stream is not None
                    and app.main.panel.reply_stream.written > 5
                )
            )
            await pilot.press("escape")
            await wait_for(lambda: _done(app))
            turn = app.main.panel.chat.last_assistant()
            assert turn is not None and turn.status == MessageStatus.CANCELLED
            partial = turn.plain_text()
            assert partial.startswith("word0 word1")
            assert "word199" not in partial
            assert "cancelled" in screen_text(app)
            thread_id = app.main.state.thread_id
        last = await _last_stored(store, thread_id)
        assert last.status == MessageStatus.CANCELLED
        assert last.content.startswith("word0 word1")


async def test_provider_error_shows_in_turn_and_notification(tmp_path: Path) -> None:
    busy = error_reply(429, "slow down [bold]now[/bold]")
    served = _served_agent(tmp_path, busy, llm="busy", agent="busy")
    async with served as (_, app), running(app) as pilot:
        await _send_and_wait(app, pilot, "hello?", MessageStatus.ERROR)
        await pilot.pause()
        assert app.is_running
        shown = screen_text(app)
        assert "HTTP 429 Too Many Requests" in shown
        assert "[bold]now[/bold]" in shown
        assert notified(app, "HTTP 429 Too Many Requests")


async def test_regenerate_answers_again_on_a_branch(tmp_path: Path) -> None:
    two = [openai_reply(["first ", "answer"]), openai_reply(["second"])]
    async with _served_agent(tmp_path, two, llm="two", agent="twice") as (store, app):
        async with running(app) as pilot:
            await _send_and_wait(app, pilot, "say something", MessageStatus.COMPLETE)
            await pilot.press("ctrl+r")
            await wait_for(
                lambda: (
                    app.main.panel.streaming
                    or app.main.panel.chat.last_assistant().plain_text() == "second"
                )
            )
            await wait_for(lambda: _done(app))
            await wait_for(
                lambda: app.main.panel.chat.last_assistant().status == MessageStatus.COMPLETE
            )
            replies = [t for t in app.main.panel.chat.turns if isinstance(t, AssistantTurn)]
            assert [t.plain_text() for t in replies] == ["second"]
            thread_id = app.main.state.thread_id
        assert thread_id is not None
        rows = await _messages(store, thread_id)
        assert [(r.role, r.content) for r in rows] == [
            ("user", "say something"),
            ("assistant", "second"),
        ]
        every = await _messages(store, thread_id, every=True)
        assert [(r.content, r.on_path) for r in every][1:] == [
            ("first answer", False),
            ("second", True),
        ]


async def test_inactive_virtual_agent_keeps_the_typed_message(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await add_llm_agent(
            store,
            llm="remote",
            agent="far",
            type="openai",
            kind=LlmKind.VIRTUAL,
            status=LlmStatus.INACTIVE,
        )
        app = McpctlApp(store, clock=fixed_clock)
        async with running(app) as pilot:
            await enter_text(app, pilot, "are you there?")
            await pilot.pause()
            assert app.main.panel.chat_input.text == "are you there?"
            assert notified(app, "publisher offline")
            assert not app.main.panel.chat.turns
            async with store.session() as s:
                assert (await s.execute(select(ChatThread))).first() is None


async def test_virtual_status_refreshes_on_its_own(tmp_path: Path) -> None:
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="remote", agent="far", kind=LlmKind.VIRTUAL)
        app = McpctlApp(store, clock=fixed_clock, liveness_seconds=0.1)
        async with running(app) as pilot:
            assert app.main.agents.rows[0].status == LlmStatus.ACTIVE
            await _mark_llms_inactive(store)
            await wait_for(lambda: app.main.agents.rows[0].status == LlmStatus.INACTIVE)
            await pilot.pause()
            assert "inactive" in screen_text(app)


@pytest.mark.timing
async def test_view_follows_until_scrolled_up_and_resumes_at_the_bottom(tmp_path: Path) -> None:
    lines = [f"line {i}\n\n" for i in range(300)]
    long = Reply(openai_events(lines), delay=0.02)
    served = _served_agent(tmp_path, long, llm="long", agent="long")
    async with served as (_, app), running(app, (100, 30)) as pilot:
        await enter_text(app, pilot, "go")
        chat = app.main.panel.chat
        # The view grows a frame before it scrolls to its new bottom: wait for both.
        await wait_for(lambda: chat.max_scroll_y > 40 and chat.scroll_y == chat.max_scroll_y)
        assert chat.following
        chat.focus()
        # The operator looks back. The key goes in as the terminal would send it: pilot's
        # press() waits for the app to go idle, which a streaming reply never does.
        before = chat.scroll_y
        app.simulate_key("pageup")
        # Page-up scrolls with an animation: wait for it to start, then to end (the
        # view growing below is not the scroll).
        await wait_for(lambda: not chat.following and chat.scroll_y < before)
        await app.animator.wait_until_complete()
        held = chat.scroll_y
        grown = chat.max_scroll_y
        await wait_for(lambda: chat.max_scroll_y > grown + 20)
        assert chat.scroll_y == held  # not dragged down while reading
        chat.scroll_end(animate=False, immediate=True)  # back to the bottom: follow again
        await wait_for(lambda: chat.following)
        # The rest of 300 paced lines: a loaded machine took over 10 s (what is asserted
        # is where the view is at the end, not how fast it got there).
        await wait_for(lambda: _done(app), limit=60.0)
        await pilot.pause()
        assert chat.scroll_y == chat.max_scroll_y
        assert "line 299" in screen_text(app)


async def test_enter_right_after_typing_sends_every_character(tmp_path: Path) -> None:
    """Keys arrive in one burst, as a terminal sends a fast typist's (or a paste without
    bracketed paste): Enter must see every character typed before it, and nothing typed
    after it may be cleared away."""

    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="writer"))
        async with running(app) as pilot:
            app.main.panel.chat_input.focus()
            await pilot.pause()
            n = len(app.main.panel.chat.turns)
            await _send_then_type(app, "burst", "next")
            await wait_for(lambda: len(app.main.panel.chat.turns) >= n + 2 and _done(app))
            await wait_for(
                lambda: app.main.panel.chat.last_assistant().status == MessageStatus.COMPLETE
            )
            await pilot.pause()
            assert app.main.panel.chat.turns[n].plain_text() == "burst"
            assert app.main.panel.chat_input.text == "next"


@pytest.mark.timing
async def test_a_long_reply_does_not_pile_up_garbage_while_it_streams(tmp_path: Path) -> None:
    """Every streamed update parses the growing block into a throwaway widget (a cycle);
    young collections keep running during a reply, so these never pile up."""
    import gc

    from textual.widgets.markdown import MarkdownBlock

    words = [f"w{i} " for i in range(600)]
    wordy = Reply(openai_events(words), delay=0.004)
    served = _served_agent(tmp_path, wordy, llm="wordy", agent="wordy")
    async with served as (_, app), running(app) as pilot:
        await enter_text(app, pilot, "talk")
        await wait_for(
            lambda: (
                app.main.panel.reply_stream is not None
                and app.main.panel.reply_stream.flushes > 300
            )
        )
        assert app.main.panel.streaming
        orphans = sum(
            1 for o in gc.get_objects() if isinstance(o, MarkdownBlock) and o.parent is None
        )
        assert orphans < 100, orphans
        await wait_for(lambda: _done(app), limit=30)
        # Let the thread-list refresh that follows a reply finish: a query cancelled
        # by the app's exit can leave aiosqlite's close waiting forever (see the note).
        await app.workers.wait_for_complete()


async def test_a_refused_send_puts_the_text_back_ahead_of_what_was_typed_since(
    tmp_path: Path,
) -> None:
    """The personality chosen is deleted behind the app's back: the engine refuses the send
    (nothing stored). The failed message comes back in front of the new text."""
    async with demo_store(tmp_path) as (store, _):
        start = StartAt(agent="ops", personality="teacher")
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            await _delete_personality(store, "teacher")
            await _send_then_type(app, "first", "second")
            await _until_refused(app, pilot, "teacher")
            assert app.main.panel.chat_input.text == "first\nsecond"
            # The cursor stays where the operator was typing: at the end of "second".
            assert app.main.panel.chat_input.cursor_location == (1, len("second"))


async def test_publisher_offline_at_send_puts_the_text_back_ahead_of_new_text(
    tmp_path: Path,
) -> None:
    """The screen still shows the virtual agent active (the liveness refresh has not run)
    but its publisher is gone: the dispatcher answers "publisher offline"."""
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="remote", agent="far", kind=LlmKind.VIRTUAL)
        app = McpctlApp(store, clock=fixed_clock, liveness_seconds=3600)
        async with running(app) as pilot:
            await _mark_llms_inactive(store)
            assert app.main.agents.rows[0].status == LlmStatus.ACTIVE
            await _send_then_type(app, "are you there?", "and now?")
            await _until_refused(app, pilot, "offline")
            assert app.main.panel.chat_input.text == "are you there?\nand now?"


async def test_a_virtual_error_says_its_kind_once(tmp_path: Path) -> None:
    """The notification reads "publisher offline: …" (the engine's refusal, nothing
    stored), not "offline: publisher offline: …"."""
    async with temp_store(tmp_path) as store:
        await add_llm_agent(store, llm="remote", agent="far", kind=LlmKind.VIRTUAL)
        app = McpctlApp(store, clock=fixed_clock, liveness_seconds=3600)
        async with running(app) as pilot:
            await _mark_llms_inactive(store)
            await enter_text(app, pilot, "are you there?")
            await _until_refused(app, pilot, "publisher offline: virtual LLM remote")
            shown = [str(n.message) for n in notifications(app) if "offline" in str(n.message)]
            assert len(shown) == 1 and shown[0].count("offline") == 1
            assert not app.main.panel.chat.turns
            async with store.session() as s:
                assert (await s.execute(select(ChatThread))).first() is None


@pytest.mark.timing
async def test_a_refused_send_or_regenerate_leaves_the_chat_as_stored(tmp_path: Path) -> None:
    """A refusal writes nothing. The user turn shown for the send stayed on screen (and its
    text was also back in the input: twice on the next send); a refused regenerate took the
    reply it would replace off the screen though it is still stored."""
    async with demo_store(tmp_path) as (store, ids):
        start = StartAt(agent="ops", personality="teacher", thread_id=ids.thread_ids[0])
        app = McpctlApp(store, clock=fixed_clock, start=start)
        async with running(app) as pilot:
            await pilot.pause()
            before = [t.plain_text() for t in app.main.panel.chat.turns]
            assert before and isinstance(app.main.panel.chat.turns[-1], AssistantTurn)
            # A refusal the app's following of the store cannot undo (a personality
            # deleted would be noticed, and the choice changed, before the send or not).
            async with store.transaction() as s:
                await s.execute(update(Llm).values(api_key_ref="env:MCPCTL_TEST_NEVER_SET"))

            await enter_text(app, pilot, "never sent")
            await _until_refused(app, pilot, "MCPCTL_TEST_NEVER_SET")
            assert [t.plain_text() for t in app.main.panel.chat.turns] == before
            assert app.main.panel.chat_input.text == "never sent"

            clear_notifications(app)
            app.main.panel.chat_input.text = ""
            await pilot.press("ctrl+r")
            await _until_refused(app, pilot, "MCPCTL_TEST_NEVER_SET")
            assert [t.plain_text() for t in app.main.panel.chat.turns] == before
            assert app.main.panel.chat_input.text == ""
        rows = await _messages(store, ids.thread_ids[0])
        assert len(rows) == len(before)


async def test_the_last_replys_figures_leave_the_status_line_with_its_thread(
    tmp_path: Path,
) -> None:
    async with demo_store(tmp_path) as (store, ids):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app) as pilot:
            await enter_text(app, pilot, "measure me")
            await wait_for(lambda: _done(app) and app.main.panel.stats.state == "done")
            await pilot.pause()
            assert "done" in str(app.query_one("#status").render())
            app.main.jump_to_thread(ids.agent_ids["ops"], ids.thread_ids[1])
            await wait_for(lambda: app.main.state.thread_id == ids.thread_ids[1])
            await pilot.pause()
            status = str(app.query_one("#status").render())
            assert "done" not in status and "tok" not in status and "ttft" not in status


async def test_a_stored_reply_shows_its_cost_and_its_thread_sums_it(tmp_path: Path) -> None:
    """The demo's echo LLM is priced: the status line gives the reply's tokens and cost,
    and the thread's row in the list what its replies cost, read back from the store."""
    async with demo_store(tmp_path) as (store, _):
        app = McpctlApp(store, clock=fixed_clock, start=StartAt(agent="ops"))
        async with running(app, size=(160, 50)) as pilot:
            await enter_text(app, pilot, "what does this cost")
            await wait_for(lambda: _done(app) and app.main.panel.stats.state == "done")
            await pilot.pause()
            stats = app.main.panel.stats
            assert stats.input_tokens and stats.output_tokens and stats.prices is not None
            cost = money(stats.prices.cost(stats.input_tokens, stats.output_tokens), "USD")
            status = str(app.query_one("#status").render())
            assert f"done  in {stats.input_tokens} · out {stats.output_tokens} tok · {cost}" in (
                status
            )
            threads = app.main.threads
            # It opened on the demo's newest thread, whose first reply used 58 + 61 tokens.
            await wait_for(lambda: threads.threads and threads.threads[0].usage.replies == 2)
            usage = threads.threads[0].usage
            assert (usage.input_tokens, usage.output_tokens) == (
                58 + stats.input_tokens,
                61 + stats.output_tokens,
            )
            total = money(stats.prices.cost(usage.input_tokens, usage.output_tokens), "USD")
            row = str(threads.get_option_at_index(0).prompt)
            assert row.endswith(f"· 4 turns · {total}"), row


async def test_a_new_thread_is_listed_while_its_first_reply_is_still_coming(
    tmp_path: Path,
) -> None:
    """A new thread showed in the Threads pane only once its first reply ended: during a
    slow or stalled reply the operator could not see it in the list."""
    stalled = Reply(openai_events(["late"]), first_delay=30)
    served = _served_agent(tmp_path, stalled, llm="slow", agent="slowpoke")
    async with served as (store, app):
        await add_thread(store, 1, title="older")
        async with running(app) as pilot:
            await pilot.press("ctrl+n")
            await wait_for(lambda: app.main.state.thread_id is None)
            await enter_text(app, pilot, "a question that takes a while")
            await wait_for(lambda: app.main.state.thread_id is not None)
            await wait_for(lambda: len(app.main.threads.threads) == 2)
            await pilot.pause()
            assert app.main.panel.streaming and app.main.panel.stats.ttft_ms is None  # no reply yet
            assert app.main.threads.threads[0].id == app.main.state.thread_id
            assert app.main.threads.highlighted == 0
            await pilot.press("escape")
            await wait_for(lambda: _done(app))
            # The refresh after the reply: see the note in the follow test above.
            await app.workers.wait_for_complete()
            assert [t.title for t in app.main.threads.threads] == [app.main.state.title, "older"]
            assert app.main.threads.highlighted == 0


async def test_quit_while_a_reply_streams_stores_it_cancelled_and_exits(tmp_path: Path) -> None:
    words = [f"word{i} " for i in range(400)]
    slow = Reply(openai_events(words), delay=0.01)
    async with _served_agent(tmp_path, slow, llm="slow", agent="slowpoke") as (store, app):
        async with running(app) as pilot:
            await enter_text(app, pilot, "go on")
            await wait_for(
                lambda: (
                    app.main.panel.reply_stream is not None
                    and app.main.panel.reply_stream.written > 5
                )
            )
            thread_id = app.main.state.thread_id
            app.simulate_key("ctrl+q")  # pilot.press would wait for an idle (streaming) app
            await wait_for(lambda: not app.is_running)
        last = await _last_stored(store, thread_id)
        assert last.status == MessageStatus.CANCELLED
        assert last.content.startswith("word0 word1")
