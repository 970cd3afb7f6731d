"""The light Markdown blocks: a growing tight list is updated in place, and the final
reconciled update keeps what already matches."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from mcpctl_tui.ui.chat.blocks import FlatBulletList, FlatOrderedList
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
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
            stream.write(piece)
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
