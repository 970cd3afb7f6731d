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

from typing import TYPE_CHECKING

from markdown_it.token import Token
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets._markdown import (
    Markdown,
    MarkdownBlock,
    MarkdownBullet,
    MarkdownBulletList,
    MarkdownFence,
    MarkdownHeader,
    MarkdownList,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownOrderedListItem,
    MarkdownParagraph,
)

from mcpctl_tui.ui.chat import fence_highlight


def _wrap_item(bullet: str, body: Content, width: int) -> list[Content]:
    """``bullet`` then ``body`` wrapped to ``width``, continuation lines indented."""
    indent = len(bullet)
    wrapped = body.wrap(max(1, width - indent)) or [Content("")]
    mark = Content.styled(bullet, "$text-primary")
    pad = Content(" " * indent)
    return [Content.assemble(mark if i == 0 else pad, line) for i, line in enumerate(wrapped)]


class FlatListItem(Widget):
    """One list item as one widget (used when its list also holds richer items)."""

    DEFAULT_CSS = """
    FlatListItem { width: 1fr; height: auto; }
    """

    def __init__(self, bullet: str, body: Content) -> None:
        super().__init__()
        self.bullet = bullet
        self.body = body
        self._cache: tuple[int, list[Content]] | None = None

    def _lines(self, width: int) -> list[Content]:
        if self._cache is None or self._cache[0] != width:
            self._cache = (width, _wrap_item(self.bullet, self.body, width))
        return self._cache[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    def render(self) -> Content:
        return Content("\n").join(self._lines(self.content_size.width))


# Mixed into both Markdown list kinds; ``super()`` reaches the one mixed in after. Checked
# as a MarkdownList, but a plain mixin at run time: Textual takes a widget's CSS from its
# first widget base, which must stay that Markdown list class.
if TYPE_CHECKING:
    _ListBase = MarkdownList
else:
    _ListBase = object


class _FlatList(_ListBase):
    """A tight list (every item one paragraph, the usual case) drawn by the list widget
    itself: one widget for the whole list instead of four per item."""

    _flat: list[tuple[str, Content]] | None = None
    _flat_cache: tuple[int, list[Content]] | None = None

    def _bullets(self, items: list[MarkdownListItem]) -> list[str]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        items = [b for b in self._blocks if isinstance(b, MarkdownListItem)]
        yield from self._setup(items, self._bullets(items))
        self._blocks.clear()

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        if not self.update_flat(block):
            await super()._update_from_block(block)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._flat is None:
            return super().get_content_height(container, viewport, width)
        return len(self._flat_lines(width))

    def render(self) -> RenderResult:
        if self._flat is None:
            return super().render()
        return Content("\n").join(self._flat_lines(self.content_size.width))

    def _setup(self, blocks: list[MarkdownListItem], bullets: list[str]) -> ComposeResult:
        simple = all(
            len(b._blocks) == 1 and isinstance(b._blocks[0], MarkdownParagraph) for b in blocks
        )
        if simple:
            self._flat = [
                (bullet, b._blocks[0]._content) for b, bullet in zip(blocks, bullets, strict=True)
            ]
            return iter(())
        self._flat = None
        return _items(blocks, bullets)

    def update_flat(self, block: MarkdownBlock) -> bool:
        """Streaming grows the last list: take the new parse's items in place (a remount
        of the list per frame is the costly part) when both are tight lists."""
        if self._flat is None or type(block) is not type(self):
            return False
        items = [b for b in block._blocks if isinstance(b, MarkdownListItem)]
        simple = all(
            len(b._blocks) == 1 and isinstance(b._blocks[0], MarkdownParagraph) for b in items
        )
        if not simple or len(items) != len(block._blocks):
            return False
        bullets = self._bullets(items)
        self._flat = [
            (bullet, b._blocks[0]._content) for b, bullet in zip(items, bullets, strict=True)
        ]
        self._flat_cache = None
        self._copy_context(block)
        self.refresh(layout=True)
        return True

    def _flat_lines(self, width: int) -> list[Content]:
        assert self._flat is not None
        if self._flat_cache is None or self._flat_cache[0] != width:
            lines = [ln for bullet, body in self._flat for ln in _wrap_item(bullet, body, width)]
            self._flat_cache = (width, lines)
        return self._flat_cache[1]


def _items(blocks: list[MarkdownListItem], bullets: list[str]) -> ComposeResult:
    for block, symbol in zip(blocks, bullets, strict=True):
        body = block._blocks
        if len(body) == 1 and isinstance(body[0], MarkdownParagraph):
            yield FlatListItem(symbol, body[0]._content)
        else:
            bullet = MarkdownBullet()
            bullet.symbol = symbol
            yield Horizontal(bullet, Vertical(*body))


class FlatBulletList(_FlatList, MarkdownBulletList):
    def _bullets(self, items: list[MarkdownListItem]) -> list[str]:
        return [b.bullet for b in items]


class FlatOrderedList(_FlatList, MarkdownOrderedList):
    def _bullets(self, items: list[MarkdownListItem]) -> list[str]:
        start = 1
        if items and isinstance(items[0], MarkdownOrderedListItem):
            try:
                start = int(items[0].bullet)
            except ValueError:
                pass
        labels = [f"{n}. " for n in range(start, start + len(items))]
        size = max((len(x) for x in labels), default=0)
        return [x.rjust(size + 1) for x in labels]


class FlatFence(MarkdownFence):
    DEFAULT_CSS = """
    FlatFence { overflow: hidden hidden; padding: 1 2; }
    """

    def __init__(self, markdown: Markdown, token: Token, code: str) -> None:
        # Built while its reply streams: highlighted a few lines at a time (see
        # ``fence_highlight``), to be highlighted whole once the reply ends (``settle``).
        self.approximate = fence_highlight.current() is not None
        super().__init__(markdown, token, code)

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        streaming = fence_highlight.current()
        if streaming is None:
            return MarkdownFence.highlight(code, language, ansi, dark)
        return streaming.highlight(
            code, language, ansi, dark, lambda c, lang: MarkdownFence.highlight(c, lang, ansi, dark)
        )

    def _copy_context(self, block: MarkdownBlock) -> None:
        super()._copy_context(block)
        if isinstance(block, FlatFence):
            self.approximate = block.approximate

    def settle(self) -> None:
        """Highlight the whole code again if it was highlighted piecemeal while streaming."""
        if self.approximate:
            self.approximate = False
            self._highlighted_code = self.highlight(
                self.code,
                self.lexer,
                ansi=self.app.native_ansi_color,
                dark=self.app.current_theme.dark,
            )
            self.set_content(self._highlighted_code)

    def compose(self) -> ComposeResult:
        yield from ()

    def render(self) -> Content:
        return self._highlighted_code

    def set_content(self, content: Content) -> None:
        self._content = content
        self.refresh(layout=True)


def update_in_place(old: MarkdownBlock, new: MarkdownBlock) -> bool:
    """Take ``new``'s content into the mounted ``old`` without a remount, when both are the
    same kind of block and that kind can be updated synchronously (what grows while a
    reply streams: a paragraph, a heading, a tight list, a code block). False: the caller
    must replace ``old``."""
    if type(old) is not type(new):
        return False
    if isinstance(old, FlatFence):
        old._copy_context(new)
        old.set_content(old._highlighted_code)
        return True
    if isinstance(old, _FlatList):
        return old.update_flat(new)
    if isinstance(old, (MarkdownParagraph, MarkdownHeader)):
        old._copy_context(new)
        old.set_content(new._content)
        return True
    return False
