"""The chat of one thread: a window of turns that slides as the operator reads.

A thread opens on its newest turns; older ones load as the top comes into view (a marker
says how many are still above), newer ones as the bottom does. At most ``KEEP`` turns are
mounted: reading a long thread back to its first turn unmounts what is far below (and
the way back down mounts it again), so memory stays bounded. Home (or ``g``) jumps to the
first turn, End (or ``G``) back to the newest.

Following the bottom uses Textual's anchor: anchored while the operator is at the bottom,
released the moment they scroll up, re-anchored when they scroll back down. The children
use ``layout: stream`` so appending to the last turn does not re-arrange the whole list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from mcpctl_tui.store.messages import Turn as TurnRow
from mcpctl_tui.store.types import MessageRole, MessageStatus
from mcpctl_tui.ui import memory
from mcpctl_tui.ui.browse.panes import DELETE_THREAD_HELP, EXPORT_THREAD_HELP
from mcpctl_tui.ui.chat.choice import TurnChoice
from mcpctl_tui.ui.chat.turns import AssistantTurn, ToolTurn, Turn, UserTurn
from mcpctl_tui.ui.textual_internals import anchor_released

WINDOW = 6  # turns mounted when a thread opens (more follow if they do not fill the view)
PAGE = 20  # turns added per step when scrolling
KEEP = 3 * PAGE  # turns mounted at most: the rest is unmounted as the window slides
EDGE_CHECK = 0.5  # s between two looks at the window's edges (cheap: two comparisons)
COLLECT_EVERY = 2  # slides (40 turns unmounted) between two collections while sliding
COLLECT_AFTER = 1.0  # s without a slide before the unmounted turns are collected


def make_turn(row: TurnRow) -> Turn:
    if row.role == MessageRole.USER:
        return UserTurn(row)
    if row.role == MessageRole.TOOL:
        return ToolTurn(row)
    if row.role == MessageRole.SYSTEM:
        return UserTurn(row, text=f"[system] {row.content}")
    return AssistantTurn(row)


class ChatView(TurnChoice, VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    ChatView { layout: stream; }
    ChatView .window-edge { color: $text-muted; text-style: italic; padding: 0 1; }
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
        Binding(
            "home,g",
            "first_turn",
            "First turn",
            show=False,
            tooltip="jump to the thread's first turn",
        ),
        Binding("end,G", "last_turn", "Last turn", show=False, tooltip="back to the newest turn"),
        Binding(
            "left_square_bracket",
            "branch(-1)",
            "Branch ‹",
            key_display="[",
            tooltip="the chosen turn's previous branch (a turn marked ‹i/n›)",
        ),
        Binding(
            "right_square_bracket",
            "branch(1)",
            "Branch ›",
            key_display="]",
            tooltip="the chosen turn's next branch",
        ),
        Binding(
            "e", "edit_turn", "Edit", tooltip="edit the chosen question: asked on a new branch"
        ),
    ]

    class NeedOlder(Message):
        """The top of the window is visible and older turns exist. The page read goes
        back with ``generation``: a page for a window since replaced is dropped."""

        def __init__(self, before_turn: int, generation: int) -> None:
            super().__init__()
            self.before_turn = before_turn
            self.generation = generation

    class NeedNewer(Message):
        """The bottom of the window is visible and newer turns exist (unmounted)."""

        def __init__(self, after_turn: int, generation: int) -> None:
            super().__init__()
            self.after_turn = after_turn
            self.generation = generation

    class Jump(Message):
        """Home/End: show the thread from its first turn (``to_start``) or its newest."""

        def __init__(self, to_start: bool) -> None:
            super().__init__()
            self.to_start = to_start

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.has_older = False
        self.has_newer = False  # turns after the window exist (it slid up, or jumped)
        self.first_turn_index: int | None = None
        self._loading_older = False
        self._loading_newer = False
        self._collect: Timer | None = None
        self._sliding = asyncio.Lock()
        self._settling = False
        self._slides = 0
        self.generation = 0  # counts the windows shown: a page is for one of them

    async def show(
        self, rows: Sequence[TurnRow], *, has_older: bool, has_newer: bool = False
    ) -> None:
        """Replace the view with ``rows``: the newest turns of a thread (the view goes to
        the end and follows it), or with ``has_newer`` a window from its start (at the top)."""
        self._loading_older = self._loading_newer = self._settling = False
        self.generation += 1
        self._chosen = None
        with self.app.batch_update():
            await self.remove_children()
            if not rows:
                await self.mount(Static(Content.styled("No turns yet.", "dim"), classes="hint"))
            else:
                await self.mount_all([make_turn(r) for r in rows])
        self.first_turn_index = rows[0].turn_index if rows else None
        await self._edges(has_older, has_newer)
        if has_newer:
            self.scroll_home(animate=False, immediate=True)
            self.release_anchor()
        else:
            self.scroll_end(animate=False, immediate=True)
            self.anchor()
        self.call_after_refresh(self._fill)

    async def _edges(self, has_older: bool, has_newer: bool) -> None:
        """The markers at the window's edges: how many turns are above, that more are below."""
        await self.query(".window-edge").remove()
        if has_older and self.first_turn_index:
            n = self.first_turn_index
            above = f"▲ {n} older turn{'s' if n != 1 else ''}: scroll up, or Home for the first"
            marker = Static(above, classes="window-edge older")
            turns = self.turns
            await self.mount(marker, before=turns[0]) if turns else await self.mount(marker)
        if has_newer:
            below = Static("▼ newer turns: scroll down, or End for the newest")
            below.add_class("window-edge", "newer")
            await self.mount(below)
        self.has_older, self.has_newer = has_older, has_newer  # once the markers say so

    def _fill(self) -> None:
        """A window that does not fill the view cannot be scrolled: load more now."""
        if self.max_scroll_y == 0:
            self._at_edges()

    def _need_older(self) -> None:
        if not self._loading_older and self.first_turn_index is not None:
            self._loading_older = True
            self.post_message(self.NeedOlder(self.first_turn_index, self.generation))

    async def show_empty(self, message: Content) -> None:
        self._chosen = None
        await self.remove_children()
        await self.mount(Static(message, classes="hint"))
        self.has_older = self.has_newer = False
        self.first_turn_index = None
        self.generation += 1

    async def prepend(self, rows: Sequence[TurnRow], *, has_older: bool, generation: int) -> None:
        """Mount older turns above the window, keeping what the operator sees in place;
        past ``KEEP`` turns, the newest ones are unmounted (far below the view)."""
        async with self._sliding:  # one slide at a time: a page up and one down interleave
            if generation != self.generation:
                return  # read for a window that is gone (a jump, another thread)
            self._settling = True  # no edge is judged until the view is back in place
            try:
                await self._prepend(rows, has_older)
            finally:
                self._loading_older = False

    async def _prepend(self, rows: Sequence[TurnRow], has_older: bool) -> None:
        first = self.first_turn_index
        if first is not None and rows and rows[-1].turn_index != first - 1:
            rows, has_older = [], self.has_older  # read for an edge the window has left
        if not rows:
            await self._edges(has_older, self.has_newer)
            self._settling = False
            return
        turns = self.turns
        # Room first (the newest go, far below the view), then the older turns.
        extra = turns[max(KEEP - len(rows), 1) :] if len(turns) + len(rows) > KEEP else []
        if extra:
            await self.remove_children(extra)
            self._collect_soon()
        turns = self.turns
        # What the operator sees stays in place: the first turn shown keeps its row.
        held = turns[0] if turns else None
        held_y = held.virtual_region.y if held is not None else 0
        widgets = [make_turn(r) for r in rows[-KEEP:]]
        if held is not None:
            await self.mount_all(widgets, before=held)
        else:
            await self.mount_all(widgets)
        self.first_turn_index = rows[-KEEP:][0].turn_index
        await self._edges(has_older, self.has_newer or bool(extra))

        self.call_after_refresh(self._keep_position, held, held_y)

    async def append_page(
        self, rows: Sequence[TurnRow], *, has_newer: bool, generation: int
    ) -> None:
        """Mount newer turns below the window (scrolling back down); past ``KEEP`` turns,
        the oldest ones are unmounted and the view stays on what the operator reads."""
        async with self._sliding:
            if generation != self.generation:
                return
            self._settling = True
            try:
                await self._append_page(rows, has_newer)
            finally:
                self._loading_newer = False

    async def _append_page(self, rows: Sequence[TurnRow], has_newer: bool) -> None:
        last = self.last_index()
        if last is not None and rows and rows[0].turn_index != last + 1:
            rows, has_newer = [], self.has_newer  # read for an edge the window has left
        await self.query(".window-edge.newer").remove()
        turns = self.turns
        # Room first (the oldest go, far above the view), then the newer turns; what the
        # operator reads stays in place.
        extra = turns[: max(0, len(turns) + len(rows) - KEEP)] if rows else []
        extra = extra if len(extra) < len(turns) else []
        held = turns[len(extra)] if turns else None
        held_y = held.virtual_region.y if held is not None else 0
        if extra:
            await self.remove_children(extra)
            self.first_turn_index = held.turn_index if held is not None else None
            self._collect_soon()
        if rows:
            await self.mount_all([make_turn(r) for r in rows])
        await self._edges(self.has_older or bool(extra), has_newer)
        self.call_after_refresh(self._keep_position, held, held_y)

    def _keep_position(self, held: Turn | None, held_y: int) -> None:
        """After a page came above or below, the turn ``held`` (was at ``held_y``) stays
        where the operator saw it (an anchored view at its bottom stays at its bottom);
        then, at an edge still, the next page is asked for."""
        if held is not None and held.parent is self:
            moved = held.virtual_region.y - held_y
            if moved:
                self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True)
        self._settling = False
        self._at_edges()
        # The layout may settle at the edge only after this refresh: judge it again then.
        self.call_after_refresh(self._at_edges)

    @property
    def sliding(self) -> bool:
        """A page is being mounted or the view put back in place."""
        return self._sliding.locked() or self._settling

    def last_index(self) -> int | None:
        known = [t.turn_index for t in self.turns if t.turn_index is not None]
        return max(known) if known else None

    def on_mount(self) -> None:
        # A safety net for the edge trigger: a view that came to rest at an edge without a
        # scroll or resize event (a key at the very bottom moves nothing) still slides.
        self.set_interval(EDGE_CHECK, self._at_edges)

    def _collect_soon(self) -> None:
        """Unmounted turns are cycles (~0.25 MB each with their markdown): what was mounted
        since the last freeze is collected as the window slides, so a long read keeps a bounded
        heap (every ``COLLECT_EVERY`` slides: a collection is a pause of ~0.1-0.2 s); the
        frozen rest once the window stops sliding."""
        self._slides += 1
        if self._slides % COLLECT_EVERY == 0:
            memory.collect_young_widgets()
        if self._collect is not None:
            self._collect.stop()
        self._collect = self.set_timer(COLLECT_AFTER, memory.collect_and_freeze)

    def action_first_turn(self) -> None:
        self.post_message(self.Jump(to_start=True))

    def action_last_turn(self) -> None:
        if self.has_newer:
            self.post_message(self.Jump(to_start=False))
        else:
            self.scroll_end(animate=False)

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
        self._at_edges()

    def watch_virtual_size(self) -> None:
        # The window's edge may come into view as the layout settles, not only as it scrolls.
        if self.has_older or self.has_newer:
            self._at_edges()

    def _at_edges(self) -> None:
        """At the window's top (bottom) with turns above (below) unmounted: ask for them.
        After a page comes the view stays on what the operator reads, off the edge."""
        if self._settling:
            return
        if self.scroll_y <= 1 and self.has_older:
            self._need_older()
        if self.scroll_y >= self.max_scroll_y - 1 and self.has_newer:
            last = self.last_index()
            if not self._loading_newer and last is not None:
                self._loading_newer = True
                self.post_message(self.NeedNewer(last, self.generation))

    async def drop_after_last_user(self) -> None:
        """Regenerate answers the last question again: what followed it leaves the path."""
        turns = self.turns
        last_user = max((i for i, t in enumerate(turns) if isinstance(t, UserTurn)), default=-1)
        stale = turns[last_user + 1 :]
        if stale:
            await self.remove_children(stale)

    async def drop_from(self, turn_index: int) -> None:
        """A branch starts beside turn ``turn_index``: it and what followed it leave the
        path (and the screen), newer turns not mounted too."""
        stale = [t for t in self.turns if t.turn_index is None or t.turn_index >= turn_index]
        if stale:
            await self.remove_children(stale)
        self.has_newer = False

    def last_stored_before(self, turn_index: int) -> int | None:
        """The last stored turn shown before ``turn_index``: a sync checks it is still on
        the path (a branch chosen elsewhere takes it off)."""
        return max(
            (t.turn_index for t in self.turns if t.row is not None and t.turn_index is not None
             and t.turn_index < turn_index),
            default=None,
        )  # fmt: skip
