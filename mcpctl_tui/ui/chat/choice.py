"""Choosing a turn of the chat (Alt+Up/Down or a click) and copying it or its code.

Mixed into ``ChatView``: any message can be copied, not only the last reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.color import Color
from textual.containers import VerticalScroll

from mcpctl_tui.ui.chat.turns import AssistantTurn, Turn

# Checked as the scrolling container it is mixed into; a plain mixin at run time.
if TYPE_CHECKING:
    _Base = VerticalScroll
else:
    _Base = object


class TurnChoice(_Base):
    _chosen: Turn | None = None

    @property
    def turns(self) -> list[Turn]:
        return [c for c in self.children if isinstance(c, Turn)]

    @property
    def selected(self) -> Turn | None:
        """The turn the operator chose (Alt+Up/Down or a click), while it is mounted."""
        turn = self._chosen
        return turn if turn is not None and turn.parent is self else None

    def select(self, turn: Turn | None) -> None:
        old = self.selected
        if old is not None:
            old.styles.outline_right = None
        self._chosen = turn
        if turn is not None:
            # A bar on the turn's right padding column: an inline outline changes no layout
            # and hides no text, and unlike a class it does not restyle every widget of a
            # long reply.
            accent = Color.parse(self.app.theme_variables.get("accent", "blue"))
            turn.styles.outline_right = ("thick", accent)
            self.scroll_to_widget(turn, animate=False)

    def select_step(self, step: int) -> Turn | None:
        """Move the choice ``step`` turns down (negative: up); from none, start at the end."""
        turns = self.turns
        if not turns:
            return None
        current = self.selected
        if current is None:
            index = len(turns) - 1
        else:
            index = max(0, min(len(turns) - 1, turns.index(current) + step))
        self.select(turns[index])
        return turns[index]

    def on_click(self, event: events.Click) -> None:
        node = event.widget
        while node is not None and node is not self:
            if isinstance(node, Turn):
                self.select(node)
                return
            node = node.parent  # type: ignore[assignment]

    def last_assistant(self) -> AssistantTurn | None:
        for child in reversed(self.children):
            if isinstance(child, AssistantTurn):
                return child
        return None

    def action_copy_message(self) -> None:
        """Copy the chosen message (Alt+Up/Down or a click), else the last reply."""
        chosen = self.selected
        turn = chosen if chosen is not None else self.last_assistant()
        if turn is None:
            self.notify("no message to copy", severity="warning")
            return
        self.app.copy_to_clipboard(turn.plain_text())
        self.notify("message copied" if chosen is not None else "reply copied")

    def action_copy_code(self) -> None:
        """Copy the last code block of the chosen message, else of the last reply."""
        chosen = self.selected
        turn = chosen if chosen is not None else self.last_assistant()
        code = last_code_block(turn.plain_text()) if turn else None
        if code is None:
            where = "the chosen message" if chosen is not None else "the last reply"
            self.notify(f"no code block in {where}", severity="warning")
            return
        self.app.copy_to_clipboard(code)
        self.notify("code block copied")


def last_code_block(text: str) -> str | None:
    """The body of the last fenced code block of ``text`` (Markdown), if any."""
    blocks: list[str] = []
    inside = False
    current: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if inside:
                blocks.append("\n".join(current))
                current = []
            inside = not inside
            continue
        if inside:
            current.append(line)
    return blocks[-1] if blocks else None
