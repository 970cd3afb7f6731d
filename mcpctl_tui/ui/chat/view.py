"""The chat of one thread: a window of recent turns, older ones loaded on scrolling up.

Following the bottom uses Textual's anchor: anchored while the operator is at the bottom,
released the moment they scroll up, re-anchored when they scroll back down. The children
use ``layout: stream`` so appending to the last turn does not re-arrange the whole list.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from mcpctl_tui.store.messages import Turn as TurnRow
from mcpctl_tui.store.types import MessageRole, MessageStatus
from mcpctl_tui.ui.browse.panes import DELETE_THREAD_HELP, EXPORT_THREAD_HELP
from mcpctl_tui.ui.chat.turns import AssistantTurn, ToolTurn, Turn, UserTurn
from mcpctl_tui.ui.textual_internals import anchor_released, scroll_keeping_anchor

WINDOW = 6  # turns mounted when a thread opens (more follow if they do not fill the view)
PAGE = 20  # turns added per step when scrolling up


def make_turn(row: TurnRow) -> Turn:
    if row.role == MessageRole.USER:
        return UserTurn(row)
    if row.role == MessageRole.TOOL:
        return ToolTurn(row)
    if row.role == MessageRole.SYSTEM:
        return UserTurn(row, text=f"[system] {row.content}")
    return AssistantTurn(row)


class ChatView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    ChatView { layout: stream; }
    """
    # Keys of the open thread, while the chat has focus (in the message box these keys
    # edit the message: Ctrl+D deletes a character, Ctrl+E goes to the line's end …).
    BINDINGS = [
        Binding(
            "ctrl+y", "copy_message", "Copy", tooltip="copy the chosen message, else the last reply"
        ),
        Binding(
            "ctrl+k",
            "copy_code",
            "Copy code",
            tooltip="copy a code block of the chosen message, else of the last reply",
        ),
        Binding("ctrl+d", "screen.delete_thread", "Delete thread", tooltip=DELETE_THREAD_HELP),
        Binding("ctrl+e", "screen.export_thread", "Export", tooltip=EXPORT_THREAD_HELP),
    ]

    class NeedOlder(Message):
        """The top of the window is visible and older turns exist."""

        def __init__(self, before_turn: int) -> None:
            super().__init__()
            self.before_turn = before_turn

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.has_older = False
        self.first_turn_index: int | None = None
        self._loading_older = False
        self._selected: Turn | None = None

    @property
    def turns(self) -> list[Turn]:
        return [c for c in self.children if isinstance(c, Turn)]

    async def show(self, rows: Sequence[TurnRow], *, has_older: bool) -> None:
        """Replace the view with ``rows`` (the newest turns of a thread) and go to the end."""
        self._loading_older = False
        self._selected = None
        with self.app.batch_update():
            await self.remove_children()
            if not rows:
                await self.mount(Static(Content.styled("No turns yet.", "dim"), classes="hint"))
            else:
                await self.mount_all([make_turn(r) for r in rows])
        self.has_older = has_older
        self.first_turn_index = rows[0].turn_index if rows else None
        self.scroll_end(animate=False, immediate=True)
        self.anchor()
        self.call_after_refresh(self._fill)

    def _fill(self) -> None:
        """A window that does not fill the view cannot be scrolled up: load more now."""
        if (
            self.max_scroll_y == 0
            and self.has_older
            and not self._loading_older
            and self.first_turn_index is not None
        ):
            self._loading_older = True
            self.post_message(self.NeedOlder(self.first_turn_index))

    async def show_empty(self, message: Content) -> None:
        self._selected = None
        await self.remove_children()
        await self.mount(Static(message, classes="hint"))
        self.has_older = False
        self.first_turn_index = None

    async def prepend(self, rows: Sequence[TurnRow], *, has_older: bool) -> None:
        """Mount older turns above the window, keeping what the operator sees in place."""
        self.has_older = has_older
        self._loading_older = False
        if self.first_turn_index is not None:  # a page that raced another: no duplicates
            rows = [r for r in rows if r.turn_index < self.first_turn_index]
        if not rows:
            return
        before = self.virtual_size.height
        first = self.children[0] if self.children else None
        widgets = [make_turn(r) for r in rows]
        if first is not None:
            await self.mount_all(widgets, before=first)
        else:
            await self.mount_all(widgets)
        self.first_turn_index = rows[0].turn_index

        def keep_position() -> None:
            if self.following:
                return  # the compositor keeps an anchored view at the bottom
            grown = self.virtual_size.height - before
            scroll_keeping_anchor(self, self.scroll_y + grown)

        self.call_after_refresh(keep_position)
        self.call_after_refresh(self._fill)

    def sync_from(self) -> int:
        """Where a sync reads from: the first turn shown that the store may have changed
        since (one still pending: another process's reply; one shown live, not yet read
        back), else the turn after the last one shown."""
        stored: list[int] = []
        unsettled: list[int] = []
        for t in self.turns:
            if t.turn_index is None:
                continue
            if t.row is not None:
                stored.append(t.turn_index)
            if t.row is None or t.row.status == MessageStatus.PENDING:
                unsettled.append(t.turn_index)
        return min([max(stored) + 1 if stored else 0, *unsettled])

    async def sync(self, rows: Sequence[TurnRow], first: int, live: Sequence[Turn] = ()) -> bool:
        """Bring the turns from index ``first`` on in line with ``rows`` (the store's, in
        order): changed ones are replaced, new ones put in their place, gone ones removed.
        A turn shown live takes its stored row, but those of ``live`` (a reply still
        streaming) are left alone. True if anything changed on screen."""
        shown = {t.turn_index: t for t in self.turns if t.turn_index is not None}
        wanted = {r.turn_index for r in rows}
        gone = [
            t
            for i, t in shown.items()
            if i >= first and i not in wanted and t.row is not None and t not in live
        ]
        changed = bool(gone)
        if gone:
            await self.remove_children(gone)
        for row in rows:
            turn = shown.get(row.turn_index)
            if turn is not None and turn in live:
                continue
            if turn is not None and turn.row is None:
                turn.row = row  # shown as it streamed: now the stored turn
                continue
            if turn is not None and turn.row == row:
                continue
            fresh = make_turn(row)
            later = [t for t in self.turns if (t.turn_index or -1) > row.turn_index]
            if turn is not None:
                await self.mount(fresh, after=turn)
                await turn.remove()
            elif later:
                await self.mount(fresh, before=later[0])
            else:
                await self.add(fresh)
            changed = True
        return changed

    async def add(self, turn: Turn) -> None:
        hints = self.query(".hint")
        if hints:
            await hints.remove()
        await self.mount(turn)
        if self.first_turn_index is None and turn.turn_index is not None:
            self.first_turn_index = turn.turn_index

    @property
    def following(self) -> bool:
        """True while the view sticks to the bottom (the compositor keeps it there)."""
        return self.is_anchored and not anchor_released(self)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if (
            new <= 1
            and new < old
            and self.has_older
            and not self._loading_older
            and self.first_turn_index is not None
        ):
            self._loading_older = True
            self.post_message(self.NeedOlder(self.first_turn_index))

    async def drop_after_last_user(self) -> None:
        """Regenerate replaces the turns after the last user turn."""
        turns = self.turns
        last_user = max((i for i, t in enumerate(turns) if isinstance(t, UserTurn)), default=-1)
        stale = turns[last_user + 1 :]
        if stale:
            await self.remove_children(stale)

    # --- the chosen turn (copy any message, not only the last reply) ---------------------

    @property
    def selected(self) -> Turn | None:
        """The turn the operator chose (Alt+Up/Down or a click), while it is mounted."""
        turn = self._selected
        return turn if turn is not None and turn.parent is self else None

    def select(self, turn: Turn | None) -> None:
        old = self.selected
        if old is not None:
            old.styles.outline_right = None
        self._selected = turn
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
