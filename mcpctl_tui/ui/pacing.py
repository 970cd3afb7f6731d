"""Frame pacing: paint as soon as a frame is due, and never skip one after a slow frame.

Textual paints a screen from an interval timer (``TEXTUAL_FPS``, 60/s) that it pauses
at the start of each frame and resumes when something changes. That timer ticks on a
fixed grid, and after a frame that outran the interval it jumps one grid point too far.
While a reply streams, frames cost 10-20 ms here, so the screen ended up painting every
second or third grid point: a chunk waited up to 50 ms for a frame that was due
much earlier. ``FramePacer`` keeps Textual's contract (``pause``/``resume``, at most one
frame per interval) but schedules the next frame from when the last one *started*: a
change that arrives after a slow frame is painted at once.

The timer is swapped in through ``textual_internals.PacedFrames`` (Textual's private
API); ``tests/ui/test_pacing.py`` fails if Textual stops going through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from textual.screen import ModalScreen, Screen

from mcpctl_tui.ui.textual_internals import PacedFrames, max_fps

DUTY = 1.5


class FramePacer:
    """Runs ``frame`` when resumed, at most once per ``interval``, as soon as allowed."""

    def __init__(self, frame: Callable[[], None], interval: float) -> None:
        self._frame = frame
        self._interval = interval
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last_start = float("-inf")
        self._last_cost = 0.0
        self.frames = 0

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def resume(self) -> None:
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        # A frame dearer than the interval (a long reply on a big terminal) spaces the
        # next one out so painting never takes more than 1/DUTY of the loop's time:
        # the reader and the keyboard must still get their turn.
        spacing = max(self._interval, DUTY * self._last_cost)
        due = self._last_start + spacing - loop.time()
        # The loop copies the caller's context (Textual's active app and pump) into the
        # callback, as Textual's own timer task would have it.
        self._handle = loop.call_later(due, self._run) if due > 0 else loop.call_soon(self._run)

    def pause(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        self.pause()

    def _run(self) -> None:
        self._handle = None
        loop = asyncio.get_running_loop()
        self._last_start = loop.time()
        self.frames += 1
        try:
            self._frame()
        finally:
            self._last_cost = loop.time() - self._last_start


class _Paced(PacedFrames):
    def make_frame_timer(self, frame: Callable[[], None]) -> FramePacer:
        return FramePacer(frame, 1 / max_fps())


class PacedScreen(_Paced, Screen[None]):
    """The app's main screen."""


ResultType = TypeVar("ResultType")


class PacedModalScreen(_Paced, ModalScreen[ResultType], Generic[ResultType]):
    """Dialogs and editors."""
