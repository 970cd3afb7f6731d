"""The light Markdown blocks: a growing tight list is updated in place, and the final
reconciled update keeps what already matches."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from mcpctl_tui.ui.chat.blocks import FlatBulletList, FlatOrderedList
from mcpctl_tui.ui.chat.stream import FLOOD_INTERVAL, CoalescingMarkdownStream
from mcpctl_tui.ui.chat.turns import ReplyMarkdown


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield ReplyMarkdown("")


async def test_streamed_tight_list_grows_in_place_and_renders_every_item() -> None:
    app = _Host()
    async with app.run_test(size=(60, 20)) as pilot:
        md = app.query_one(ReplyMarkdown)
        await md.append("Steps:\n\n- first\n")
        await pilot.pause()
        (lst,) = md.query(FlatBulletList)
        for piece in [
            "- second item that is long enough to wrap past the edge of ",
            "the view\n",
            "- third",
        ]:
            await md.append(piece)
            await pilot.pause()
        assert md.query(FlatBulletList).first() is lst  # updated, not remounted
        assert lst._flat is not None and [b.plain for _, b in lst._flat] == [
            "first",
            "second item that is long enough to wrap past the edge of the view",
            "third",
        ]
        lines = [c.plain for c in lst._flat_lines(40)]
        assert lines[0].endswith("first") and lines[-1].endswith("third")
        assert lines[2].startswith("  ")  # hanging indent under the text, not the bullet


async def test_close_reconciles_to_a_full_parse() -> None:
    app = _Host()
    async with app.run_test(size=(60, 20)) as pilot:
        md = app.query_one(ReplyMarkdown)
        stream = CoalescingMarkdownStream(md)
        # Streamed, "Title" is a paragraph until the "---" under it makes it a heading.
        for piece in ["1. one\n", "2. two\n\n", "Title\n", "---\n\nafter\n"]:
            stream.feed(piece)
            await pilot.pause(0.05)
        text = await stream.close()
        await pilot.pause()
        fresh = ReplyMarkdown(text)
        await app.query_one(VerticalScroll).mount(fresh)
        await pilot.pause()
        kinds = [type(b).__name__ for b in md.children]
        assert kinds == [type(b).__name__ for b in fresh.children]
        assert kinds[0] == FlatOrderedList.__name__ and "MarkdownH2" in kinds
        assert md.source == text


DOCUMENT = """# Runbook

Intro paragraph with **bold** and `code`.

1. first step
2. second step that is longer

Title
---

- a
- b

```python
def f(x):
    return x * 2
```

> quoted
> text

| col | val |
| --- | --- |
| a | 1 |

***

Closing words.
"""


def _blocks(md: ReplyMarkdown) -> list[tuple[str, str]]:
    """What a reader sees, block by block: the kind and the text."""
    out: list[tuple[str, str]] = []
    for block in md.children:
        if getattr(block, "_pruning", False) or not block.display:
            continue
        flat = getattr(block, "_flat", None)
        if flat is not None:
            text = "\n".join(f"{bullet}{body.plain}" for bullet, body in flat)
        elif hasattr(block, "code"):
            text = block.code
        elif getattr(block, "_content", None) is not None:
            text = block._content.plain
        else:
            text = ""
        out.append((type(block).__name__, text))
    return out


async def test_every_chunking_shows_what_a_fresh_parse_shows_before_close() -> None:
    """The incremental updates alone (no final reconcile) keep the document right, however
    the chunks split it: mid-word, mid-marker, one character at a time."""
    app = _Host()
    async with app.run_test(size=(80, 40)) as pilot:
        host = app.query_one(VerticalScroll)
        for size in (1, 3, 7, 40):
            streamed = ReplyMarkdown("")
            await host.mount(streamed)
            stream = CoalescingMarkdownStream(streamed)
            text = ""
            for start in range(0, len(DOCUMENT), size):
                piece = DOCUMENT[start : start + size]
                stream.feed(piece)
                text += piece
                if "\n" in piece or size > 7:  # compare at line ends (and for big chunks)
                    await pilot.pause()
                    fresh = ReplyMarkdown(text)
                    await host.mount(fresh)
                    await pilot.pause()
                    assert _blocks(streamed) == _blocks(fresh), (size, text)
                    await fresh.remove()
            assert stream.flushes > 1
            await stream.close()
            await streamed.remove()


async def test_a_chunk_at_reading_pace_is_applied_at_once() -> None:
    """No coalescing wait: the chunk is on the widget within a loop pass or two, before
    any frame (the frame then paints it)."""
    app = _Host()
    async with app.run_test(size=(60, 20)) as pilot:
        md = app.query_one(ReplyMarkdown)
        stream = CoalescingMarkdownStream(md)
        first = None
        for i in range(5):
            stream.feed(f"word{i} ")
            await asyncio.sleep(0)
            assert stream.flushes == i + 1
            assert f"word{i}" in _blocks(md)[0][1]
            await pilot.pause(0.02)
            first = first or md.children[0]
            assert md.children[0] is first  # grown in place, not remounted per chunk
        await stream.close()


async def test_a_flood_is_applied_in_a_few_batches() -> None:
    app = _Host()
    async with app.run_test(size=(60, 20)):
        md = app.query_one(ReplyMarkdown)
        stream = CoalescingMarkdownStream(md)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent: list[str] = []
        passes = first_window_passes = 0
        # Counted in loop passes as well as time, so a busy machine (slower passes) still
        # makes a flood long enough to judge. 50 chunks a pass: a flood unless a pass
        # takes over 0.1 s. Short paragraphs, so an update stays cheap as the reply grows.
        while loop.time() - started < 0.5 or passes < 300:
            for _ in range(50):
                chunk = "tok\n\n" if len(sent) % 400 == 399 else "tok "
                stream.feed(chunk)
                sent.append(chunk)
            await asyncio.sleep(0.001)
            passes += 1
            if loop.time() - started < 0.1:
                first_window_passes += 1
        elapsed = loop.time() - started
        text = await stream.close()
        assert text == "".join(sent)
        # At a reading pace every loop pass would be an update. After the first 0.1 s
        # window the rate is seen: about 20 updates a second from then on.
        # (A pass slowed past 0.1 s by a loaded machine can make a window look like a
        # reading pace: some slack for those.)
        assert stream.flushes <= first_window_passes + elapsed / FLOOD_INTERVAL + passes / 10
        assert stream.flushes < passes / 3
