"""Every use of Textual's private API, in one place. Written for Textual 8.2.

pyproject pins ``textual>=8.2,<8.3``: a new minor version may rename or rework any of
what is below, so it is taken on purpose, by reading this module against the new
source and running the tests that pin each piece (``tests/ui/test_pacing.py``,
``test_blocks.py``, ``test_stream.py``). The rest of ``ui/`` reaches Textual's internals
only through these names; ``tests/ui/test_private_api.py`` checks it.

Three features need them:
  - frame pacing (``ui/pacing.py``): a screen's update timer, which Textual only pauses
    and resumes, is replaced by a ``FramePacer`` (``PacedFrames`` below);
  - the streamed reply (``ui/chat/stream.py``): the Markdown widget's parser, block
    factory and parse state, so a chunk re-parses only the last block;
  - light Markdown blocks (``ui/chat/blocks.py``): a block's parsed children and
    content, and the hooks through which Textual updates a mounted block in place;
  and two more: the message box sees Enter before its text area types it, and the chat
  keeps its anchor while older turns are mounted above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from markdown_it import MarkdownIt
from markdown_it.token import Token
from textual import constants, events
from textual.app import App
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.notifications import Notification
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TextArea

# The block classes are public only through this private module (textual.widgets.markdown
# exports Markdown, MarkdownBlock and MarkdownFence alone).
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

TEXTUAL_VERSION = "8.2"

__all__ = [
    "TEXTUAL_VERSION",
    "BlockUpdateHooks",
    "KeysFirst",
    "Markdown",
    "MarkdownBlock",
    "MarkdownBullet",
    "MarkdownBulletList",
    "MarkdownFence",
    "MarkdownHeader",
    "MarkdownList",
    "MarkdownListItem",
    "MarkdownOrderedList",
    "MarkdownOrderedListItem",
    "MarkdownParagraph",
    "PacedFrames",
]


# --- Markdown: parser and parse state --------------------------------------------------


def markdown_parser(markdown: Markdown) -> MarkdownIt:
    """A parser as ``markdown`` builds its own."""
    factory = markdown._parser_factory
    return MarkdownIt("gfm-like") if factory is None else factory()


def build_blocks(markdown: Markdown, tokens: list[Token]) -> Iterable[MarkdownBlock]:
    """The (unmounted) blocks ``markdown`` makes of ``tokens``, with its block classes."""
    return markdown._parse_markdown(tokens)


def note_source(markdown: Markdown, text: str) -> None:
    """Record ``text`` as the document's source (``Markdown.source``) without a parse."""
    markdown._markdown = text


def settle_source(markdown: Markdown, text: str) -> None:
    """The parse state after a full update to ``text``: its source, its table of contents
    to be rebuilt, the last line parsed (what ``Markdown.append`` would continue from)."""
    markdown._markdown = text
    markdown._table_of_contents = None
    lines = text.splitlines()
    markdown._last_parsed_line = len(lines) - (1 if lines and lines[-1] else 0)


def block_token(block: MarkdownBlock) -> Token:
    return block._token


def is_pruning(widget: Widget) -> bool:
    """True for a widget already on its way out (removed, not yet gone from the DOM)."""
    return bool(widget._pruning)


def child_blocks(block: MarkdownBlock) -> list[MarkdownBlock]:
    """The blocks parsed inside ``block`` (a list's items, an item's paragraphs)."""
    return block._blocks


def block_content(block: MarkdownBlock) -> Content:
    """A paragraph's or heading's inline content, as parsed."""
    return block._content


def keep_block_content(block: MarkdownBlock, content: Content) -> None:
    """Record ``content`` as what ``block`` shows (a block that draws itself)."""
    block._content = content


def copy_block(old: MarkdownBlock, new: MarkdownBlock) -> None:
    """Take ``new``'s token, source range and parsed state into the mounted ``old``."""
    old._copy_context(new)


def fence_code(fence: MarkdownFence) -> Content:
    """A code block's highlighted code, as it shows it."""
    return fence._highlighted_code


def set_fence_code(fence: MarkdownFence, content: Content) -> None:
    fence._highlighted_code = content


class _UpdatesFromBlock(Protocol):
    def update_from(self, block: MarkdownBlock) -> bool: ...


# Checked as the MarkdownBlock it is mixed into; a plain mixin at run time (Textual takes
# a widget's default CSS from its first Widget base, which must stay the Markdown class).
if TYPE_CHECKING:
    _BlockBase = MarkdownBlock
else:
    _BlockBase = object


class BlockUpdateHooks(_BlockBase):
    """Mixin for a block class: Textual's in-place update of a mounted block (a full
    ``Markdown.update`` reusing it) and its context copy reach ``update_from`` and
    ``copied_from``, the public names the block classes of ``ui/chat/blocks.py`` use."""

    def update_from(self, block: MarkdownBlock) -> bool:
        """Take ``block`` in place; False: Textual's own update does it."""
        return False

    def copied_from(self, block: MarkdownBlock) -> None:
        """Called after Textual copied ``block``'s context into this one."""

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        if not self.update_from(block):
            await super()._update_from_block(block)

    def _copy_context(self, block: MarkdownBlock) -> None:
        super()._copy_context(block)
        self.copied_from(block)


# --- Keys -----------------------------------------------------------------------------


if TYPE_CHECKING:
    _TextAreaBase = TextArea
else:
    _TextAreaBase = object


class KeysFirst(_TextAreaBase):
    """Mixin for a ``TextArea``: ``key_first`` sees each key, in order with the keys typed
    before it, before the text area types it (Textual 8.2 types keys in ``_on_key``)."""

    def key_first(self, event: events.Key) -> bool:
        """True: the key was handled here and is not typed."""
        return False

    async def _on_key(self, event: events.Key) -> None:
        if self.key_first(event):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)


# --- Scrolling -------------------------------------------------------------------------


def anchor_released(view: ScrollableContainer) -> bool:
    """True once the operator scrolled an anchored view away from its end."""
    return bool(view._anchor_released)


# --- Frame pacing --------------------------------------------------------------------------


class FrameTimer(Protocol):
    """What a screen does with its update timer: pause it, resume it (and stop it)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...


def max_fps() -> int:
    return constants.MAX_FPS


def run_frame(screen: Screen[Any]) -> None:
    """One screen update, as Textual's update timer runs it: errors go to the app."""
    try:
        screen._on_timer_update()
    except Exception as error:
        screen.app._handle_exception(error)


# Checked as the Screen it is mixed into; still a plain mixin at run time.
if TYPE_CHECKING:
    _ScreenBase = Screen[Any]
else:
    _ScreenBase = object


class PacedFrames(_ScreenBase):
    """Mixin for a ``Screen``: its updates go through the timer ``make_frame_timer`` builds
    (Textual 8.2 only pauses and resumes ``Screen._update_timer``; it never reads it as a
    ``Timer``)."""

    _frame_timer: FrameTimer | None = None

    def make_frame_timer(self, frame: Callable[[], None]) -> FrameTimer:
        raise NotImplementedError

    @property
    def _update_timer(self) -> FrameTimer:  # type: ignore[override]
        if self._frame_timer is None:
            screen = self
            self._frame_timer = self.make_frame_timer(lambda: run_frame(screen))
        return self._frame_timer

    def _on_unmount(self) -> None:
        if self._frame_timer is not None:
            self._frame_timer.stop()
        super()._on_unmount()


# --- Tests and tools -----------------------------------------------------------------------


def notifications(app: App[Any]) -> list[Notification]:
    """The notifications the app holds (shown or still to show), oldest first."""
    return list(app._notifications)


def clear_notifications(app: App[Any]) -> None:
    app._notifications.clear()
