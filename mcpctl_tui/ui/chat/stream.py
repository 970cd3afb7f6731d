"""Feeding a streamed reply into a ``Markdown`` widget at most once per frame.

Chunks arrive far faster than a terminal repaints (thousands a second off a local socket).
Re-rendering per chunk makes the cost grow with chunks x document; instead every chunk that
lands within one frame is joined and handed to ``Markdown.append`` (which re-parses only the
last top-level block) in one go. When the stream ends the document gets one full update so
the final rendering is exactly what a fresh parse of the whole reply gives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.widgets import Markdown

FRAME_SECONDS = 1 / 60


class CoalescingMarkdownStream:
    """Like ``MarkdownStream``, but paced to the frame and cheap per chunk.

    ``write`` is synchronous and O(1): the reader loop never waits for rendering.
    ``on_flush`` is called after each batch is on the widget (the chat view uses it to
    keep following the bottom; the benchmark to time chunks).
    """

    def __init__(
        self,
        markdown: Markdown,
        *,
        frame: float = FRAME_SECONDS,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        self.markdown = markdown
        self._frame = frame
        self._on_flush = on_flush
        self._pending: list[str] = []
        self._parts: list[str] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._last_flush = 0.0
        self._task = asyncio.create_task(self._run())
        self.flushes = 0
        self.written = 0  # chunks accepted, for the status line and the benchmark

    @property
    def text(self) -> str:
        """Everything written so far (rendered or not)."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def write(self, fragment: str) -> None:
        if self._closed:
            raise RuntimeError("stream already closed")
        if not fragment:
            return
        self._pending.append(fragment)
        self._parts.append(fragment)
        self.written += 1
        self._wake.set()

    async def _flush_once(self) -> None:
        if not self._pending:
            return
        batch = "".join(self._pending)
        self._pending.clear()
        await self.markdown.append(batch)
        self.flushes += 1
        self._last_flush = time.monotonic()
        if self._on_flush is not None:
            self._on_flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Wait for the frame boundary so everything arriving meanwhile joins this batch.
            delay = self._last_flush + self._frame - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await asyncio.shield(self._flush_once())

    async def close(self, *, final_update: bool = True) -> str:
        """Stop pacing, put the rest on screen, then (optionally) one full re-parse."""
        self._closed = True
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        text = self.text
        if final_update:
            self._pending.clear()
            await self.markdown.update(text)
            if self._on_flush is not None:
                self._on_flush()
        else:
            await self._flush_once()
        return text
