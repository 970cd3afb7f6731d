"""The main screen follows the store: what other processes write shows without a key press.

Rules:

- One long-running task per main screen (``Following``) reads the store's change feed
  (``UiData.changes``: LISTEN/NOTIFY on PostgreSQL, ``PRAGMA data_version`` on SQLite)
  and answers each ``Change`` with the screen's reload (agents, the selected agent's
  personalities and threads, the open thread), or, for a change that only touched the
  open thread's messages, with that thread's catch-up alone.
- Reloads never overlap: the worker awaits each one, and changes arriving meanwhile are
  merged by the feed into one more reload afterwards (``Followed.reread`` also takes a
  lock shared with Ctrl+L).
- A provider dying writes nothing, so no change arrives: ``LivenessTimer`` wakes the screen
  at the earliest ``live_until`` of the live virtual agents shown (store/liveness.py), and
  the reload then shows the agent inactive. Real time, not the screen's clock (a test's
  clock stands still; a heartbeat's age does not).
- The feed failing to open (a store down) is said once and retried; it costs freshness,
  never the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from textual.timer import Timer

from mcpctl_tui.store.types import utcnow
from mcpctl_tui.ui.data import AgentRow
from mcpctl_tui.ui.text import say

if TYPE_CHECKING:
    from mcpctl_tui.ui.screens.main import MainScreen

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
DUE_SLACK = 0.05  # wake just after the deadline, when the rule already says "gone"


async def follow_store(screen: MainScreen) -> None:
    """Run until cancelled (the screen goes away): reload on every change."""
    warned = False
    while True:
        try:
            async with screen.data.changes() as changes:
                warned = False
                async for change in changes:
                    tid = screen.panel.state.thread_id
                    if tid is not None and change.only_messages_of(tid):
                        await screen.panel.sync_thread()
                    else:
                        await screen.reread()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any store trouble: the feed is retried, the app goes on
            log.warning("change feed stopped: %s", exc)
            if not warned:
                say(screen, f"not following the store ({exc}); Ctrl+L reloads", severity="warning")
                warned = True
        await asyncio.sleep(RETRY_SECONDS)


class LivenessTimer:
    """One timer, at the earliest moment a live virtual agent shown stops being live."""

    def __init__(self, set_timer: Callable[[float, Callable[[], object]], Timer]) -> None:
        self._set_timer = set_timer
        self._timer: Timer | None = None
        self._due: datetime | None = None

    def watch(self, rows: Sequence[AgentRow], on_due: Callable[[], object]) -> None:
        now = utcnow()
        due = min((r.live_until for r in rows if r.live_until and r.live_until > now), default=None)
        if due == self._due:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._due = due
        if due is not None:
            delay = (due - now).total_seconds() + DUE_SLACK
            self._timer = self._set_timer(delay, lambda: self._fire(on_due))

    def _fire(self, on_due: Callable[[], object]) -> None:
        # The next ``watch`` schedules anew, even for the same moment.
        self._due = None
        self._timer = None
        on_due()


class Following:
    """The screen's side of following: the change-feed task, the reload lock, the timer.

    A plain task, not a Textual worker: workers are awaited as a whole (tests wait for
    "every worker done"), and this one never is; the screen stops it when it unmounts.
    """

    def __init__(self, screen: MainScreen) -> None:
        self._screen = screen
        self.lock = asyncio.Lock()  # rereads never overlap (the feed's and Ctrl+L's)
        self.liveness = LivenessTimer(screen.set_timer)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(follow_store(self._screen), name="follow-store")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
