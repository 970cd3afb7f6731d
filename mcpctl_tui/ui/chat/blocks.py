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

from mcpctl_tui.ui.chat import fence_highlight
from mcpctl_tui.ui.textual_internals import (
    BlockUpdateHooks,
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
    block_content,
    child_blocks,
    copy_block,
    fence_code,
    keep_block_content,
    set_fence_code,
)


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


class _FlatList(BlockUpdateHooks, _ListBase):
    """A tight list (every item one paragraph, the usual case) drawn by the list widget
    itself: one widget for the whole list instead of four per item."""

    _flat: list[tuple[str, Content]] | None = None
    _flat_cache: tuple[int, list[Content]] | None = None

    def _bullets(self, items: list[MarkdownListItem]) -> list[str]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        parsed = child_blocks(self)
        items = [b for b in parsed if isinstance(b, MarkdownListItem)]
        yield from self._setup(items, self._bullets(items))
        parsed.clear()

    def update_from(self, block: MarkdownBlock) -> bool:
        return self.update_flat(block)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._flat is None:
            return super().get_content_height(container, viewport, width)
        return len(self._flat_lines(width))

    def render(self) -> RenderResult:
        if self._flat is None:
            return super().render()
        return Content("\n").join(self._flat_lines(self.content_size.width))

    def _setup(self, blocks: list[MarkdownListItem], bullets: list[str]) -> ComposeResult:
        flat = _tight(blocks, bullets)
        self._flat = flat
        return iter(()) if flat is not None else _items(blocks, bullets)

    def update_flat(self, block: MarkdownBlock) -> bool:
        """Streaming grows the last list: take the new parse's items in place (a remount
        of the list per frame is the costly part) when both are tight lists."""
        if self._flat is None or type(block) is not type(self):
            return False
        parsed = child_blocks(block)
        items = [b for b in parsed if isinstance(b, MarkdownListItem)]
        flat = _tight(items, self._bullets(items)) if len(items) == len(parsed) else None
        if flat is None:
            return False
        self._flat = flat
        self._flat_cache = None
        copy_block(self, block)
        self.refresh(layout=True)
        return True

    def _flat_lines(self, width: int) -> list[Content]:
        assert self._flat is not None
        if self._flat_cache is None or self._flat_cache[0] != width:
            lines = [ln for bullet, body in self._flat for ln in _wrap_item(bullet, body, width)]
            self._flat_cache = (width, lines)
        return self._flat_cache[1]


def _tight(items: list[MarkdownListItem], bullets: list[str]) -> list[tuple[str, Content]] | None:
    """(bullet, text) per item when every item is one paragraph (a tight list), else None."""
    bodies = [child_blocks(item) for item in items]
    if not all(len(b) == 1 and isinstance(b[0], MarkdownParagraph) for b in bodies):
        return None
    return [(bullet, block_content(b[0])) for b, bullet in zip(bodies, bullets, strict=True)]


def _items(blocks: list[MarkdownListItem], bullets: list[str]) -> ComposeResult:
    for block, symbol in zip(blocks, bullets, strict=True):
        body = child_blocks(block)
        if len(body) == 1 and isinstance(body[0], MarkdownParagraph):
            yield FlatListItem(symbol, block_content(body[0]))
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


class FlatFence(BlockUpdateHooks, MarkdownFence):
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

    def copied_from(self, block: MarkdownBlock) -> None:
        if isinstance(block, FlatFence):
            self.approximate = block.approximate

    def settle(self) -> None:
        """Highlight the whole code again if it was highlighted piecemeal while streaming."""
        if self.approximate:
            self.approximate = False
            code = self.highlight(
                self.code,
                self.lexer,
                ansi=self.app.native_ansi_color,
                dark=self.app.current_theme.dark,
            )
            set_fence_code(self, code)
            self.set_content(code)

    def compose(self) -> ComposeResult:
        yield from ()

    def render(self) -> Content:
        return fence_code(self)

    def set_content(self, content: Content) -> None:
        keep_block_content(self, content)
        self.refresh(layout=True)


def update_in_place(old: MarkdownBlock, new: MarkdownBlock) -> bool:
    """Take ``new``'s content into the mounted ``old`` without a remount, when both are the
    same kind of block and that kind can be updated synchronously (what grows while a
    reply streams: a paragraph, a heading, a tight list, a code block). False: the caller
    must replace ``old``."""
    if type(old) is not type(new):
        return False
    if isinstance(old, FlatFence):
        copy_block(old, new)
        old.set_content(fence_code(old))
        return True
    if isinstance(old, _FlatList):
        return old.update_flat(new)
    if isinstance(old, (MarkdownParagraph, MarkdownHeader)):
        copy_block(old, new)
        old.set_content(block_content(new))
        return True
    return False
