"""A code block that grows while its reply streams is highlighted a few lines at a time,
and whole once the reply ends."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets._markdown import MarkdownFence

from mcpctl_tui.ui.chat.blocks import FlatFence
from mcpctl_tui.ui.chat.fence_highlight import IncrementalHighlighter
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
from tests.support.pilot import SIZE

LINE_LOCAL = "".join(
    f"def step_{i}(x):\n    return compute(x, limit={i}, name='step {i}')  # {i}\n\n"
    for i in range(12)
)
# A docstring spans lines: piecemeal highlighting may colour its inner lines as code.
SPANNING = 'def f():\n    """First line\n    second line: if x in y\n    """\n    return 1\n' * 8


def _looks(content: Content) -> list[tuple[str, tuple[str, ...]]]:
    """Each character with the styles on it (newlines left out: where one piece ends and
    the next begins, the joining newline carries no style, and draws nothing anyway)."""
    styles: list[list[str]] = [[] for _ in content.plain]
    for span in content.spans:
        for i in range(span.start, min(span.end, len(styles))):
            styles[i].append(str(span.style))
    return [
        (ch, tuple(sorted(st))) for ch, st in zip(content.plain, styles, strict=True) if ch != "\n"
    ]


def _whole(code: str, language: str) -> Content:
    return MarkdownFence.highlight(code, language)


@pytest.mark.parametrize("size", [2, 7, 17, 400])
def test_piecemeal_highlighting_of_line_local_code_matches_whole(size: int) -> None:
    highlighter = IncrementalHighlighter()
    for end in range(size, len(LINE_LOCAL) + size, size):
        code = LINE_LOCAL[:end]
        got = highlighter.highlight(code, "python", False, False, _whole)
        whole = _whole(code, "python")
        assert got.plain == whole.plain
        assert _looks(got) == _looks(whole), end


def test_a_new_block_or_language_starts_over() -> None:
    highlighter = IncrementalHighlighter()
    highlighter.highlight("x = 1\ny = 2\n", "python", False, False, _whole)
    other = highlighter.highlight("SELECT 1;\n", "sql", False, False, _whole)
    assert _looks(other) == _looks(_whole("SELECT 1;\n", "sql"))
    again = highlighter.highlight("\n\nlet a = 1;\n", "rust", False, False, _whole)
    assert again.plain == _whole("\n\nlet a = 1;\n", "rust").plain  # leading blank lines kept


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield VerticalScroll()


@pytest.mark.timing
async def test_a_streaming_code_block_is_highlighted_in_linear_time_then_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each update built the block anew and highlighted all of it: a 1,000-line file took
    9 s to stream, most of it in Pygments."""
    from mcpctl_tui.ui.chat.turns import ReplyMarkdown

    highlighted: list[int] = []
    whole = MarkdownFence.highlight.__func__  # type: ignore[attr-defined]

    def counting(cls: type, code: str, language: str, ansi: bool = False, dark: bool = False):  # type: ignore[no-untyped-def]
        highlighted.append(len(code))
        return whole(cls, code, language, ansi, dark)

    monkeypatch.setattr(MarkdownFence, "highlight", classmethod(counting))
    reply = f"Here:\n\n```python\n{SPANNING}```\n\nDone.\n"
    app = _Host()
    async with app.run_test(size=SIZE) as pilot:
        md = ReplyMarkdown("")
        await app.query_one(VerticalScroll).mount(md)
        stream = CoalescingMarkdownStream(md)
        for start in range(0, len(reply), 7):
            stream.feed(reply[start : start + 7])
            await asyncio.sleep(0)  # one update per chunk: the worst case
        # Enough updates that highlighting the whole block at each would pass the bound
        # below several times over (a loaded machine coalesces more of them).
        assert stream.flushes > len(reply) // 28
        (fence,) = md.query(FlatFence)
        assert fence.approximate
        # Each character highlighted about once (the line in progress again each time),
        # not the whole block on every update.
        assert sum(highlighted) < 4 * len(reply)
        await stream.close()
        await pilot.pause()
        (fence,) = md.query(FlatFence)
        assert not fence.approximate
        assert _looks(fence._highlighted_code) == _looks(_whole(SPANNING, "python"))
