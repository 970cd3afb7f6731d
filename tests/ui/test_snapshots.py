"""Snapshots of every flow (pytest-textual-snapshot), on fixed data and a fixed clock.

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and look at each
changed SVG as a PNG before committing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mcpctl_tui.chat.context import ChatOverrides
from mcpctl_tui.chat.events import ChatEvent, TurnStarted
from mcpctl_tui.llm.events import TextDelta
from mcpctl_tui.store.branches import branch_from
from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, insert_turns, lock_thread
from mcpctl_tui.store.types import LlmKind
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.state import StartAt
from tests.support.pilot import NOW, SIZES, add_crowded_agents, fixed_clock, open_seeded, wait_for


async def _demo(store: Store) -> None:
    await seed_demo(store, now=NOW)


async def _crowded(store: Store) -> None:
    """The demo plus the agents that stretch the Agents pane (see add_crowded_agents)."""
    await _demo(store)
    await add_crowded_agents(store)


def _demo_db(tmp_path: Path) -> str:
    return asyncio.run(open_seeded(tmp_path / "snap.db", _demo))


def _crowded_db(tmp_path: Path) -> str:
    return asyncio.run(open_seeded(tmp_path / "crowded.db", _crowded))


async def _branched(store: Store) -> None:
    """The demo, with the cancelled reply of "Rotate the API gateway certs" answered
    again beside it: the thread's current path ends in the new reply, ‹2/2›."""
    await _demo(store)
    reply = NewMessage(
        "assistant",
        "1. Issue the new certificate from the **internal CA**\n"
        "2. Stage it on the gateway with `certctl stage`\n"
        "3. Swap the listeners, then revoke the old certificate",
        model="echo",
    )
    async with store.transaction() as s:
        await lock_thread(s, 3)
        await branch_from(s, 3, 0)
        await insert_turns(s, 3, 2, [reply], 0)


def _empty_db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


async def _ready(pilot: Any) -> None:
    app = pilot.app
    app.main.panel.chat_input.cursor_blink = False  # a blinking cursor is a coin toss per frame
    await wait_for(lambda: app.main.loaded)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


class HeldReply:
    """A chat engine stand-in frozen mid-reply: the deterministic mid-point of a stream
    (the real engine is exercised by the pilot tests and the benchmark)."""

    PARTIAL = [
        "## Rotation plan\n\n",
        "1. Issue the new certificate from the **internal CA**\n",
        "2. Stage it on the gateway with `certctl stage`\n",
        "3. Swap the list",
    ]

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        edit_turn: int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        yield TurnStarted(
            thread_id=thread_id or 0,
            thread_title="",
            new_thread=False,
            user_message_id=None,
            assistant_message_id=0,
            assistant_turn_index=0,
            agent=str(agent),
            personality=personality,
            model="echo",
            llm="echo-local",
            llm_kind=LlmKind.PUBLIC,
        )
        for piece in self.PARTIAL:
            yield TextDelta(piece)
        await self.release.wait()

    async def regenerate(self, thread_id: int, **_: Any) -> AsyncIterator[ChatEvent]:
        if False:  # pragma: no cover - never called in the snapshot
            yield

    async def save_overrides(self, agent: int | str, overrides: ChatOverrides) -> dict[str, Any]:
        return {}


def _app(url: str, start: StartAt | None = None, backend: Any = None) -> McpctlApp:
    return McpctlApp(url, backend, start=start, clock=fixed_clock)


def _run(*steps: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await _ready(pilot)
        for step in steps:
            await step(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_welcome(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(_app(_empty_db(tmp_path)), terminal_size=size, run_before=_run())


@pytest.mark.parametrize("size", SIZES)
def test_browsing_code_block_reply(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run())


@pytest.mark.parametrize("size", SIZES)
def test_agents_of_every_kind_and_status(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    """One line per agent at both sizes: what does not fit is cut or left out, never
    wrapped."""
    app = _app(_crowded_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run())


@pytest.mark.parametrize("size", SIZES)
def test_personality_selected(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def pick(pilot: Any) -> None:
        pilot.app.main.personalities.focus()
        await pilot.press("down")

    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(pick))


@pytest.mark.parametrize("size", SIZES)
def test_thread_list_filtered(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """``/`` on the thread list: the box under the lists, the list narrowed, the filter
    named in its border."""

    async def narrow(pilot: Any) -> None:
        pilot.app.main.threads.focus()
        await pilot.press("slash", "d", "i", "s", "k")
        await pilot.pause()

    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(narrow))


@pytest.mark.parametrize("size", SIZES)
def test_tool_call_reply(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    url = _demo_db(tmp_path)

    async def expand(pilot: Any) -> None:
        from textual.widgets import Collapsible

        for c in pilot.app.query(Collapsible):
            c.collapsed = False
        await pilot.pause()

    app = _app(url, StartAt(agent="ops", thread_id=2))
    assert snap_compare(app, terminal_size=size, run_before=_run(expand))


@pytest.mark.parametrize("size", SIZES)
def test_error_turn(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_demo_db(tmp_path), StartAt(agent="writer"))
    assert snap_compare(app, terminal_size=size, run_before=_run())


@pytest.mark.parametrize("size", SIZES)
def test_cancelled_turn(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = _app(_demo_db(tmp_path), StartAt(agent="ops", thread_id=3))
    assert snap_compare(app, terminal_size=size, run_before=_run())


@pytest.mark.parametrize("size", SIZES)
def test_reply_streaming_midpoint(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    held = HeldReply()

    async def send(pilot: Any) -> None:
        app = pilot.app
        app.main.panel.chat_input.text = "Draft the cert rotation steps again."
        await pilot.press("enter")
        await wait_for(
            lambda: (
                app.main.panel.reply_stream is not None and app.main.panel.reply_stream.flushes >= 1
            )
        )
        await wait_for(lambda: "Swap the list" in app.main.panel.reply_stream.markdown.source)
        await pilot.pause(0.1)

    app = _app(_demo_db(tmp_path), StartAt(agent="ops", thread_id=3), backend=held)
    assert snap_compare(app, terminal_size=size, run_before=_run(send))


@pytest.mark.parametrize("size", SIZES)
def test_delete_confirmation(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def ask(pilot: Any) -> None:
        pilot.app.main.threads.focus()  # from the thread list: in the message box Ctrl+D edits
        await pilot.press("ctrl+d")

    app = _app(_demo_db(tmp_path), StartAt(agent="ops", thread_id=2))
    assert snap_compare(app, terminal_size=size, run_before=_run(ask))


@pytest.mark.parametrize("size", SIZES)
def test_palette(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def palette(pilot: Any) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        from textual.widgets import Input

        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.press(*"thread")
        # Providers answer asynchronously: wait until the list stops changing.
        from textual.command import CommandList

        seen: list[int] = []
        while len(seen) < 4 or len(set(seen[-4:])) > 1:
            await pilot.pause(0.1)
            seen.append(pilot.app.screen.query_one(CommandList).option_count)
        await pilot.pause(0.2)

    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(palette))


@pytest.mark.parametrize("size", SIZES)
def test_branch_switcher(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """A reply answered again: ‹2/2› on it, chosen, the chat's keys ([ ] e) in the footer."""

    async def choose(pilot: Any) -> None:
        await pilot.press("alt+up")
        await pilot.pause()

    url = asyncio.run(open_seeded(tmp_path / "branched.db", _branched))
    app = _app(url, StartAt(agent="ops", thread_id=3))
    assert snap_compare(app, terminal_size=size, run_before=_run(choose))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def show(pilot: Any) -> None:
        await pilot.press("f1")

    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(show))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("kind", "which"),
    [
        ("llm", "current"),
        ("project", None),
        ("agent", "current"),
        ("prompt", "terse@ops"),
        ("personality", "current"),
    ],
)
def test_editor(
    snap_compare: Any, tmp_path: Path, kind: str, which: str | None, size: tuple[int, int]
) -> None:
    async def edit(pilot: Any) -> None:
        pilot.app.main.action_edit(kind, which)
        await wait_for(lambda: len(pilot.app.screen_stack) > 1)
        await pilot.pause(0.2)

    app = _app(_demo_db(tmp_path), StartAt(agent="ops"))
    assert snap_compare(app, terminal_size=size, run_before=_run(edit))


@pytest.mark.parametrize("size", SIZES)
def test_context_inspector(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def inspect(pilot: Any) -> None:
        from mcpctl_tui.ui.screens.context import ContextScreen

        await pilot.press("f3")
        await wait_for(lambda: isinstance(pilot.app.screen, ContextScreen))

    app = _app(_demo_db(tmp_path), StartAt(agent="ops", thread_id=2))
    assert snap_compare(app, terminal_size=size, run_before=_run(inspect))
