"""Choosing a turn of the chat (Alt+Up/Down or a click), then copying it or its code,
switching it to another branch (``[`` / ``]`` on a turn marked ``‹i/n›``) or editing it
(``e`` on a question: asked again on a new branch).

Mixed into ``ChatView``: any message can be copied, not only the last reply. A switch or
an edit is posted as a message for the panel, which owns the store and the reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.color import Color
from textual.containers import VerticalScroll
from textual.message import Message

from mcpctl_tui.ui.chat.turns import AssistantTurn, Turn, UserTurn

# Checked as the scrolling container it is mixed into; a plain mixin at run time.
if TYPE_CHECKING:
    _Base = VerticalScroll
else:
    _Base = object


class TurnChoice(_Base):
    _chosen: Turn | None = None

    class BranchStep(Message):
        """Show the branch ``step`` places from the one turn ``turn_index`` is on."""

        def __init__(self, turn_index: int, step: int) -> None:
            super().__init__()
            self.turn_index = turn_index
            self.step = step

    class EditTurn(Message):
        """Edit question ``turn_index`` (its text to start from) into a new branch."""

        def __init__(self, turn_index: int, text: str) -> None:
            super().__init__()
            self.turn_index = turn_index
            self.text = text

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

    def action_branch(self, step: int) -> None:
        """The chosen turn's next (previous) branch; without a choice, the newest turn
        shown that has branches."""
        turn = self.selected or next(
            (t for t in reversed(self.turns) if t.row is not None and t.row.branches > 1), None
        )
        if turn is None or turn.row is None or turn.row.branches < 2:
            self.notify("no branches here: pick a turn marked ‹i/n› (Alt+Up/Down)")
            return
        self.post_message(self.BranchStep(turn.row.turn_index, step))

    def action_edit_turn(self) -> None:
        chosen = self.selected
        if not isinstance(chosen, UserTurn) or chosen.row is None:
            self.notify("pick a question to edit (Alt+Up/Down): it is asked again on a new branch")
            return
        self.post_message(self.EditTurn(chosen.row.turn_index, chosen.plain_text()))

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
