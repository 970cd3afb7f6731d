"""One widget per turn: user, assistant (markdown, tool calls, error), tool result.

Every piece of model or operator text is shown through ``literal`` / ``clean``: it can
never be markup and never reach the terminal as a control sequence.
"""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Markdown, Static

from mcpctl_tui.store.messages import Turn as TurnRow
from mcpctl_tui.store.types import MessageStatus
from mcpctl_tui.ui.chat.blocks import FlatBulletList, FlatFence, FlatOrderedList
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
from mcpctl_tui.ui.text import clean, literal


def _tool_args(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except ValueError:
            return raw
    return json.dumps(raw, indent=2, ensure_ascii=False)


class ReplyMarkdown(Markdown):
    """Markdown for model output: links never open anything by themselves; lists use
    the one-widget items of ``blocks``; children use the cheap stream layout."""

    DEFAULT_CSS = """
    ReplyMarkdown { layout: stream; }
    """
    BLOCKS = {
        **Markdown.BLOCKS,
        "bullet_list_open": FlatBulletList,
        "ordered_list_open": FlatOrderedList,
        "fence": FlatFence,
        "code_block": FlatFence,
    }

    def __init__(self, text: str = "") -> None:
        super().__init__(clean(text), open_links=False)

    @classmethod
    def get_stream(cls, markdown: Markdown) -> CoalescingMarkdownStream:
        return CoalescingMarkdownStream(markdown)


class Turn(Vertical):
    """Base of all turns; ``row`` is None while a reply is still streaming."""

    DEFAULT_CSS = """
    Turn { height: auto; }
    """

    def __init__(self, row: TurnRow | None) -> None:
        super().__init__()
        self.row = row
        # Its place in the thread: a live turn learns it when the engine has stored it.
        self.turn_index: int | None = row.turn_index if row else None

    def plain_text(self) -> str:
        return self.row.content if self.row else ""


def branch_mark(row: TurnRow | None) -> Content:
    """``‹2/3›`` on a turn that is one of several after the same turn (a branch point):
    ``[`` and ``]`` on the chosen turn switch among them."""
    if row is None or row.branches < 2:
        return Content("")
    return Content.styled(f"  ‹{row.branch}/{row.branches}›", "bold $accent")


class UserTurn(Turn):
    def __init__(self, row: TurnRow | None, text: str | None = None) -> None:
        super().__init__(row)
        self.text = text if text is not None else (row.content if row else "")
        self.add_class("-user")

    def compose(self) -> ComposeResult:
        header = Content.assemble(Content.styled("you", "bold"), branch_mark(self.row))
        yield Static(header, classes="turn-header")
        yield Static(literal(self.text), classes="turn-body")

    def plain_text(self) -> str:
        return self.text


class ToolTurn(Turn):
    def __init__(self, row: TurnRow) -> None:
        super().__init__(row)
        self.add_class("-tool")

    def compose(self) -> ComposeResult:
        assert self.row is not None
        title = Content.assemble(
            "tool result", (" · ", "dim"), literal(self.row.tool_call_id or "")
        )
        with Collapsible(title=title, collapsed=True):  # type: ignore[arg-type]
            yield Static(literal(self.row.content), classes="tool-body")


def _marks(
    status: MessageStatus, model: str | None, personality: str | None, row: TurnRow | None
) -> Content:
    parts: list[Content | str | tuple[str, str]] = [Content.styled("assistant", "bold")]
    if model:
        parts += [(" · ", "dim"), literal(model, "dim")]
    if personality:
        parts += [(" · ", "dim"), literal(personality, "dim italic")]
    if status == MessageStatus.CANCELLED:
        parts += ["  ", Content.styled(" cancelled ", "reverse $warning")]
    elif status == MessageStatus.ERROR:
        parts += ["  ", Content.styled(" error ", "reverse $error")]
    elif status == MessageStatus.PENDING:
        parts += ["  ", Content.styled("…", "dim")]
    return Content.assemble(*parts, branch_mark(row))


class AssistantTurn(Turn):
    """A stored reply, or the live one (``row`` None) that ``stream`` feeds."""

    def __init__(
        self,
        row: TurnRow | None,
        *,
        model: str | None = None,
        personality: str | None = None,
    ) -> None:
        super().__init__(row)
        self.add_class("-assistant")
        self.model = row.model if row else model
        self.personality = row.personality if row else personality
        self.status = row.status if row else MessageStatus.PENDING
        self.markdown = ReplyMarkdown(row.content if row else "")
        self._error = Static("", classes="turn-error")
        self._header = Static(
            _marks(self.status, self.model, self.personality, row), classes="turn-header"
        )
        self._tools = Vertical(classes="tool-calls")
        self._set_status_class()

    def compose(self) -> ComposeResult:
        yield self._header
        yield self.markdown
        with self._tools:
            if self.row and self.row.tool_calls:
                yield from self._tool_widgets(self.row.tool_calls)
        yield self._error

    def on_mount(self) -> None:
        if self.row is not None and self.row.error:
            self.show_error(self.row.error)
        if self.row is not None and not self.row.content:
            self.markdown.display = False

    def _set_status_class(self) -> None:
        for s in MessageStatus:
            self.set_class(self.status == s, f"-{s.value}")

    @staticmethod
    def _tool_widgets(calls: list[dict[str, Any]]) -> list[Collapsible]:
        out = []
        for call in calls:
            fn = call.get("function") or {}
            name = str(fn.get("name") or call.get("name") or "?")
            title = Content.assemble(
                "tool call",
                (" · ", "dim"),
                literal(name, "bold"),
                (" ", ""),
                literal(str(call.get("id") or ""), "dim"),
            )
            body = Static(literal(_tool_args(fn.get("arguments", ""))), classes="tool-body")
            out.append(Collapsible(body, title=title, collapsed=True))  # type: ignore[arg-type]
        return out

    async def set_tool_calls(self, calls: list[dict[str, Any]]) -> None:
        await self._tools.remove_children()
        await self._tools.mount_all(self._tool_widgets(calls))

    def show_error(self, message: str) -> None:
        self._error.update(literal(message))
        self._error.display = True

    def set_status(self, status: MessageStatus, error: str | None = None) -> None:
        """Mark the live turn. No class change: toggling a class on the turn restyles
        every widget of a long reply (seconds); an inline border colour costs nothing."""
        self.status = status
        self._header.update(_marks(status, self.model, self.personality, self.row))
        var = {MessageStatus.CANCELLED: "warning", MessageStatus.ERROR: "error"}.get(status)
        if var is not None:
            color = Color.parse(self.app.theme_variables.get(var, "red"))
            self.styles.border_left = ("thick", color)
        if error:
            self.show_error(error)

    def plain_text(self) -> str:
        return self.markdown.source
