"""Feeding a streamed reply into a ``Markdown`` widget at most once per frame.

Chunks arrive far faster than a terminal repaints (thousands a second off a local socket).
Re-rendering per chunk makes the cost grow with chunks x document; instead every chunk that
lands within one frame is joined and handed to ``Markdown.append`` (which re-parses only the
last top-level block) in one go. When the stream ends the document gets one full update so
the final rendering is exactly what a fresh parse of the whole reply gives; that update is
reconciled against the mounted blocks (``reconcile``) so it costs a parse, not a remount.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from markdown_it import MarkdownIt
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

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
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            # Wait for the frame boundary so everything arriving meanwhile joins this batch.
            delay = self._last_flush + self._frame - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._closed:
                break
            await self._flush_once()

    async def close(self, *, final_update: bool = True) -> str:
        """Let an in-flight batch finish, then one full (reconciled) update of the text."""
        self._closed = True
        self._wake.set()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        text = self.text
        if final_update:
            self._pending.clear()
            await reconcile(self.markdown, text)
            if self._on_flush is not None:
                self._on_flush()
        else:
            await self._flush_once()
        return text


async def reconcile(markdown: Markdown, text: str) -> None:
    """Set ``markdown`` to a fresh full parse of ``text``, touching only blocks that differ.

    ``Markdown.update`` removes and remounts every block (about 1 ms each: a second for a
    long reply). After streaming, the mounted blocks already match the new parse except
    where later text changed an earlier block's shape; a top-level block of the same type
    over the same source lines of the same (append-only) text renders the same, so the
    common prefix is kept and only the rest is replaced. Uses Markdown internals (the
    block factory and parse state), pinned by textual<9.
    """
    factory = markdown._parser_factory
    parser = MarkdownIt("gfm-like") if factory is None else factory()
    tokens = parser.parse(text)
    # Top-level block starts, compared without building widgets (a fence's widget runs
    # the syntax highlighter in its constructor).
    starts = [
        (i, t)
        for i, t in enumerate(tokens)
        if t.level == 0 and t.map is not None and (t.nesting == 1 or t.type in _SELF_CLOSED)
    ]
    async with markdown.lock:
        existing = [c for c in markdown.children if isinstance(c, MarkdownBlock)]
        keep = 0
        for (_i, tok), old in zip(starts, existing, strict=False):
            same = (
                old._token.type == tok.type
                and old._token.tag == tok.tag
                and tok.map is not None
                and old.source_range == (tok.map[0], tok.map[1])
            )
            if not same:
                break
            keep += 1
        if keep < len(existing) or keep < len(starts):
            first = starts[keep][0] if keep < len(starts) else len(tokens)
            new_blocks = list(markdown._parse_markdown(tokens[first:]))
            with markdown.app.batch_update():
                if keep < len(existing):
                    await markdown.remove_children(existing[keep:])
                if new_blocks:
                    await markdown.mount_all(new_blocks)
        markdown._markdown = text
        markdown._table_of_contents = None
        lines = text.splitlines()
        markdown._last_parsed_line = len(lines) - (1 if lines and lines[-1] else 0)


_SELF_CLOSED = frozenset({"fence", "code_block", "hr"})
