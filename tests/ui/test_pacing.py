"""Frame pacing: a change is painted as soon as a frame is allowed, never a frame late
after a slow one, and slow frames are spaced out so the loop keeps time for input."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import Static

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import open_store
from mcpctl_tui.ui.app import McpctlApp
from mcpctl_tui.ui.pacing import DUTY, FramePacer
from mcpctl_tui.ui.screens.help import HelpScreen
from mcpctl_tui.ui.textual_internals import PacedFrames
from tests.support.pilot import NOW, fixed_clock, wait_for


async def test_first_change_is_painted_on_the_next_loop_pass() -> None:
    starts: list[float] = []
    pacer = FramePacer(lambda: starts.append(time.monotonic()), 1 / 60)
    pacer.resume()
    await asyncio.sleep(0)
    assert len(starts) == 1


async def test_frames_are_at_most_one_per_interval() -> None:
    starts: list[float] = []
    pacer = FramePacer(lambda: starts.append(asyncio.get_running_loop().time()), 0.05)
    pacer.resume()
    await asyncio.sleep(0)
    pacer.resume()  # a change right after a frame waits for the interval …
    await asyncio.sleep(0.01)
    assert len(starts) == 1 and pacer.pending
    await wait_for(lambda: len(starts) == 2, limit=2)
    assert starts[1] - starts[0] >= 0.05 - 0.002  # … and then goes out at once


async def test_a_slow_frame_spaces_out_the_next() -> None:
    starts: list[float] = []

    def slow_frame() -> None:
        starts.append(asyncio.get_running_loop().time())
        time.sleep(0.04)

    pacer = FramePacer(slow_frame, 1 / 60)
    pacer.resume()
    await asyncio.sleep(0)
    pacer.resume()
    await wait_for(lambda: len(starts) == 2, limit=2)
    gap = starts[1] - starts[0]
    assert gap >= DUTY * 0.04 - 0.002
    assert gap < DUTY * 0.04 + 0.05  # not a whole extra frame (or two) later


async def test_pause_drops_the_pending_frame() -> None:
    starts: list[float] = []
    pacer = FramePacer(lambda: starts.append(0.0), 0.02)
    pacer.resume()
    await asyncio.sleep(0)
    pacer.resume()
    pacer.pause()
    await asyncio.sleep(0.06)
    assert len(starts) == 1 and not pacer.pending


async def test_the_app_paints_through_the_pacer(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    await seed_demo(store, now=NOW)
    app = McpctlApp(store, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.main.loaded)
        pacer = app.screen._update_timer
        assert isinstance(pacer, FramePacer)
        before = pacer.frames
        app.query_one("#thread-title", Static).update("changed")
        await wait_for(lambda: pacer.frames > before)
        await pilot.press("f1")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, PacedFrames)  # dialogs too
    await store.close()
