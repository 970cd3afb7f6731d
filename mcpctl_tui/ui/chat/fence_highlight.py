"""Syntax highlighting of a code block that grows while its reply streams.

Every streamed update re-parses the reply's last block, and a code block highlights its
whole code when it is built: over a streamed block that is quadratic (a 1,000-line file
took 9 s to stream, 0.12 s of Pygments per update by the end). While a reply streams, the
lines already highlighted are kept and only the lines added since are highlighted. A token
that spans lines (a docstring, a block comment) may be coloured as code until the reply's
final update, which highlights every such block whole (``FlatFence.approximate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from textual.content import Content
from textual.highlight import guess_language

# (code, language) -> highlighted; Textual's highlighter with the theme already chosen.
Highlight = Callable[[str, str], Content]


@dataclass(slots=True)
class _Done:
    key: tuple[str, bool, bool]  # language as asked, ansi, dark
    language: str  # as used: a block without one is guessed once, from its first lines
    code: str  # complete lines, each ending in "\n"
    content: Content | None  # ``code`` highlighted (None: no complete line yet)


class IncrementalHighlighter:
    """Highlights the growing code of one streaming reply (one block at a time)."""

    def __init__(self) -> None:
        self._done: _Done | None = None

    def highlight(
        self, code: str, language: str, ansi: bool, dark: bool, whole: Highlight
    ) -> Content:
        key = (language, ansi, dark)
        cut = code.rfind("\n") + 1  # complete lines end here
        done = self._done
        if done is not None and done.key == key and code.startswith(done.code):
            lang = done.language
            head = done.content
            if cut > len(done.code):
                head = _joined(head, whole(code[len(done.code) : cut], lang))
        else:
            lang = language or guess_language(code, None) or "text"
            head = whole(code[:cut], lang) if cut else None
        self._done = _Done(key, lang, code[:cut], head)
        tail = code[cut:]
        if not tail:
            return head if head is not None else Content("")
        return _joined(head, whole(tail, lang))


def _joined(head: Content | None, more: Content) -> Content:
    # Textual's highlighter drops a snippet's last newline: lines join with one again.
    return more if head is None else Content.assemble(head, "\n", more)


_current: ContextVar[IncrementalHighlighter | None] = ContextVar("fence_highlight", default=None)


def current() -> IncrementalHighlighter | None:
    """The streaming reply's highlighter, inside ``streaming``; else None (highlight whole)."""
    return _current.get()


@contextmanager
def streaming(highlighter: IncrementalHighlighter) -> Iterator[None]:
    """Blocks built inside highlight their code with ``highlighter``."""
    token = _current.set(highlighter)
    try:
        yield
    finally:
        _current.reset(token)
