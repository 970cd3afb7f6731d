"""Lighter Markdown blocks for long replies.

Textual lays out every widget of a document on each layout pass, so the cost of a long
reply is its widget count. A stock list item is four widgets (row, bullet, column,
paragraph); model replies are list-heavy, so lists dominate. Here a list item whose body
is one paragraph (the usual, tight case) is ONE widget that draws its bullet and wraps its
text with a hanging indent; anything richer falls back to the stock layout. A code fence
is one widget too (the stock fence is a scroll container around a label); long code lines
wrap instead of scrolling sideways.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets._markdown import (
    MarkdownBullet,
    MarkdownBulletList,
    MarkdownFence,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownOrderedListItem,
    MarkdownParagraph,
)


class FlatListItem(Widget):
    """``bullet`` then ``body`` wrapped to the width, continuation lines indented."""

    DEFAULT_CSS = """
    FlatListItem { width: 1fr; height: auto; }
    """

    def __init__(self, bullet: str, body: Content) -> None:
        super().__init__()
        self.bullet = bullet
        self.body = body
        self._cache: tuple[int, list[Content]] | None = None

    def _lines(self, width: int) -> list[Content]:
        if self._cache is not None and self._cache[0] == width:
            return self._cache[1]
        indent = len(self.bullet)
        wrapped = self.body.wrap(max(1, width - indent)) or [Content("")]
        bullet = Content.styled(self.bullet, "$text-primary")
        pad = Content(" " * indent)
        lines = [
            Content.assemble(bullet if i == 0 else pad, line) for i, line in enumerate(wrapped)
        ]
        self._cache = (width, lines)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Content:
        return Content("\n").join(self._lines(self.content_size.width))


def _items(blocks: list[object], bullets: list[str]) -> ComposeResult:
    for block, symbol in zip(blocks, bullets, strict=True):
        assert isinstance(block, MarkdownListItem)
        body = block._blocks
        if len(body) == 1 and isinstance(body[0], MarkdownParagraph):
            yield FlatListItem(symbol, body[0]._content)
        else:
            bullet = MarkdownBullet()
            bullet.symbol = symbol
            yield Horizontal(bullet, Vertical(*body))


class FlatBulletList(MarkdownBulletList):
    def compose(self) -> ComposeResult:
        items = [b for b in self._blocks if isinstance(b, MarkdownListItem)]
        yield from _items(list(items), [b.bullet for b in items])
        self._blocks.clear()


class FlatOrderedList(MarkdownOrderedList):
    def compose(self) -> ComposeResult:
        items = [b for b in self._blocks if isinstance(b, MarkdownListItem)]
        start = 1
        if items and isinstance(items[0], MarkdownOrderedListItem):
            try:
                start = int(items[0].bullet)
            except ValueError:
                pass
        labels = [f"{n}. " for n in range(start, start + len(items))]
        size = max((len(x) for x in labels), default=0)
        yield from _items(list(items), [x.rjust(size + 1) for x in labels])
        self._blocks.clear()


class FlatFence(MarkdownFence):
    DEFAULT_CSS = """
    FlatFence { overflow: hidden hidden; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        yield from ()

    def render(self) -> Content:
        return self._highlighted_code

    def set_content(self, content: Content) -> None:
        self._content = content
        self.refresh(layout=True)
