"""Feeding a streamed reply into a ``Markdown`` widget, one update per batch of chunks.

``ReplyMarkdown.get_stream`` returns this ``MarkdownStream``: the same contract as
Textual's (``write`` fragments, ``stop`` at the end), a different engine.

Chunks arrive far faster than a terminal repaints (thousands a second off a local socket).
Re-rendering per chunk makes the cost grow with chunks x document; instead the chunks that
arrive while an update is being applied are joined and applied in one go, and only the
reply's last top-level block is re-parsed (the rest of the document is settled). When the
stream ends the document gets one full update so the final rendering is exactly what a
fresh parse of the whole reply gives; that update is reconciled against the mounted blocks
(``reconcile``) so it costs a parse, not a remount.

Why not ``Markdown.append``: it re-splits the whole document into lines per call, builds a
parser per call, and always updates under ``batch_update`` across awaits; a screen refresh
that falls inside that window is skipped, which at a reading pace (100 chunks/s) put a
chunk on screen up to three frames late. Here the usual update (the last paragraph, list
or code block grows) is synchronous and leaves the refresh to Textual's own frame timer,
and a block that changes kind is swapped without waiting for the swap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownStream

from mcpctl_tui.ui.chat import fence_highlight
from mcpctl_tui.ui.chat.blocks import FlatFence, update_in_place
from mcpctl_tui.ui.textual_internals import (
    block_token,
    build_blocks,
    is_pruning,
    markdown_parser,
    note_source,
    settle_source,
)

log = logging.getLogger(__name__)

# Above this many chunks a second nobody reads along: update 20 times a second and leave
# the time to taking the chunks in (a flood off a local socket), instead of painting.
FLOOD_RATE = 400.0
FLOOD_INTERVAL = 0.05
RATE_WINDOW = 0.1


class CoalescingMarkdownStream(MarkdownStream):
    """Textual's ``MarkdownStream``, but cheap per chunk and never a frame behind.

    ``feed`` (and so ``write``) is O(1) and never waits for rendering.
    ``on_flush`` is called after each batch is on the widget (the chat view uses it to
    keep following the bottom; the benchmark to time chunks). The widget must start
    empty, and written text must use ``\\n`` line ends (the UI's ``clean`` guarantees
    it): the re-parsed tail is cut by counting newlines, as markdown-it counts lines.
    """

    def __init__(
        self,
        markdown: Markdown,
        *,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(markdown)
        self.markdown = markdown
        self._on_flush = on_flush
        self._parser = markdown_parser(markdown)
        self._batch: list[str] = []
        self._parts: list[str] = []
        self._tail = ""  # source from the start of the last top-level block on
        self._tail_line = 0  # the line of the whole text where ``_tail`` starts
        self._scheduled: asyncio.Handle | None = None
        self._last_flush = 0.0
        self._interval = 0.0  # between updates: none at a reading pace, FLOOD_INTERVAL above
        self._window_start = asyncio.get_running_loop().time()
        self._window_chunks = 0
        self._closed = False
        self._broken = False  # an update failed: the rest waits for the final full update
        self.flushes = 0
        self._highlighter = fence_highlight.IncrementalHighlighter()
        self.written = 0  # chunks accepted, for the status line and the benchmark

    @property
    def text(self) -> str:
        """Everything written so far (rendered or not)."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def start(self) -> None:
        """Nothing to start: updates are scheduled as chunks arrive."""

    async def write(self, markdown_fragment: str) -> None:
        self.feed(markdown_fragment)

    async def stop(self) -> None:
        await self.close()

    def feed(self, fragment: str) -> None:
        """Take a chunk; it is on the widget within a loop pass (a flood: 1/20 s)."""
        if self._closed:
            raise RuntimeError("stream already closed")
        if not fragment:
            return
        self._batch.append(fragment)
        self._parts.append(fragment)
        self.written += 1
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled is None:
            # call_soon: every chunk the reader delivers in this loop pass joins the batch.
            loop = asyncio.get_running_loop()
            delay = self._last_flush + self._interval - loop.time()
            self._scheduled = (
                loop.call_later(delay, self._flush) if delay > 0 else loop.call_soon(self._flush)
            )

    def _flush(self) -> None:
        self._scheduled = None
        if not self._batch or self._broken:
            return
        now = asyncio.get_running_loop().time()
        self._window_chunks += len(self._batch)
        if now - self._window_start >= RATE_WINDOW:
            # Judged over a window: a few chunks that bunch up behind a slow frame are
            # not a flood.
            rate = self._window_chunks / (now - self._window_start)
            self._interval = FLOOD_INTERVAL if rate > FLOOD_RATE else 0.0
            self._window_start, self._window_chunks = now, 0
        self._last_flush = now
        batch = "".join(self._batch)
        self._batch.clear()
        try:
            self._apply(batch)
        except Exception:
            # A rendering bug must not cost the reply: the text is all in ``_parts`` and
            # ``close`` renders it with a full parse.
            log.exception("streamed markdown update failed; waiting for the full update")
            self._broken = True
            return
        self.flushes += 1
        if self._on_flush is not None:
            self._on_flush()

    def _apply(self, batch: str) -> None:
        md = self.markdown
        self._tail += batch
        tokens = self._parser.parse(self._tail)
        with fence_highlight.streaming(self._highlighter):
            new_blocks = list(build_blocks(md, tokens))
        for block in new_blocks:
            if block.source_range is not None:
                start, end = block.source_range
                block.source_range = (start + self._tail_line, end + self._tail_line)
        note_source(md, self.text)
        # The last top-level block may still grow: the next parse starts there.
        for token in reversed(tokens):
            if token.map is not None and token.level == 0:
                self._advance(token.map[0])
                break
        blocks = _live_blocks(md)
        last = blocks[-1] if blocks else None
        first = new_blocks[0] if new_blocks else None
        # The new parse starts where the last mounted block starts (unless that source
        # made no block, an HTML block say): then its first block is that block, grown.
        if last is not None and first is not None and _same_start(last, first):
            if update_in_place(last, first):
                last.source_range = first.source_range
                new_blocks = new_blocks[1:]
            else:
                # A block that changed kind (a paragraph turned out to be a heading, a list,
                # a table…): replaced without waiting. Hidden at once so no frame shows it
                # twice; not under ``batch_update``, which would skip the frames meanwhile.
                last.display = False
                last.remove()
        if new_blocks:
            md.mount_all(new_blocks)  # in the DOM now; composed on the next message pass

    def _advance(self, lines: int) -> None:
        """Drop the first ``lines`` lines of the tail: they belong to settled blocks."""
        if lines <= 0:
            return
        cut = 0
        for _ in range(lines):
            cut = self._tail.index("\n", cut) + 1
        self._tail = self._tail[cut:]
        self._tail_line += lines

    async def close(self, *, final_update: bool = True) -> str:
        """One full (reconciled) update of the text; or, with ``final_update=False``, just
        the chunks not yet shown."""
        self._closed = True
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        text = self.text
        if final_update or self._broken:
            self._batch.clear()
            await reconcile(self.markdown, text)
            if self._on_flush is not None:
                self._on_flush()
        else:
            self._flush()
        return text


async def reconcile(markdown: Markdown, text: str) -> None:
    """Set ``markdown`` to a fresh full parse of ``text``, touching only blocks that differ.

    ``Markdown.update`` removes and remounts every block (about 1 ms each: a second for a
    long reply). After streaming, the mounted blocks already match the new parse except
    where later text changed an earlier block's shape; a top-level block of the same type
    over the same source lines of the same (append-only) text renders the same, so the
    common prefix is kept and only the rest is replaced. Uses Markdown internals (the
    block factory and parse state, through ``textual_internals``).
    """
    tokens = markdown_parser(markdown).parse(text)
    # Top-level block starts, compared without building widgets (a fence's widget runs
    # the syntax highlighter in its constructor).
    starts = [
        (i, t)
        for i, t in enumerate(tokens)
        if t.level == 0 and t.map is not None and (t.nesting == 1 or t.type in _SELF_CLOSED)
    ]
    async with markdown.lock:
        existing = _live_blocks(markdown)
        keep = 0
        for (_i, tok), old in zip(starts, existing, strict=False):
            token = block_token(old)
            same = (
                token.type == tok.type
                and token.tag == tok.tag
                and tok.map is not None
                and old.source_range == (tok.map[0], tok.map[1])
            )
            if not same:
                break
            keep += 1
        for old in existing[:keep]:
            if isinstance(old, FlatFence):
                old.settle()  # kept as streamed: highlight it whole now
        if keep < len(existing) or keep < len(starts):
            first = starts[keep][0] if keep < len(starts) else len(tokens)
            new_blocks = list(build_blocks(markdown, tokens[first:]))
            with markdown.app.batch_update():
                if keep < len(existing):
                    await markdown.remove_children(existing[keep:])
                if new_blocks:
                    await markdown.mount_all(new_blocks)
        settle_source(markdown, text)


def _same_start(old: MarkdownBlock, new: MarkdownBlock) -> bool:
    return (
        old.source_range is not None
        and new.source_range is not None
        and old.source_range[0] == new.source_range[0]
    )


def _live_blocks(markdown: Markdown) -> list[MarkdownBlock]:
    """The document's blocks, without any still on its way out after a swap."""
    return [c for c in markdown.children if isinstance(c, MarkdownBlock) and not is_pruning(c)]


_SELF_CLOSED = frozenset({"fence", "code_block", "hr"})
