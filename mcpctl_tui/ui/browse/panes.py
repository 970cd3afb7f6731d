"""The left column: agents, personalities of the selected agent, threads (paged).

Rows never wrap (the CSS sets ``text-wrap: nowrap``, long text ends in an ellipsis):
an agent is one line, a personality or a thread two (name, then a dim detail line)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mcpctl_tui.store.agents import AgentRow
from mcpctl_tui.store.models import Personality
from mcpctl_tui.store.threads import ThreadCursor, ThreadSummary
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.ui.backend import NO_PERSONALITY
from mcpctl_tui.ui.browse.agent_row import AgentColumns, AgentLine
from mcpctl_tui.ui.text import literal

DELETE_THREAD_HELP = "delete the open thread and its turns (asks first)"
EXPORT_THREAD_HELP = "export the open thread (.md or .json)"


# Vim's keys in every list (k9s moves the same way); OptionList has the arrows already.
LIST_KEYS = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "first", "First", show=False),
    Binding("G", "last", "Last", show=False),
]


def ago(then: datetime, now: datetime) -> str:
    """Relative time, coarse on purpose (it is read at a glance)."""
    secs = max(0, int((now - then).total_seconds()))
    if secs < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return "just now"


class AgentList(OptionList):
    BINDINGS = [
        *LIST_KEYS,
        Binding(
            "ctrl+d",
            "screen.delete_agent",
            "Delete agent",
            tooltip="delete the selected agent and its threads (asks first)",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[AgentRow] = []
        self.columns = AgentColumns.of([])
        self.border_title = "Agents"

    def set_rows(self, rows: Sequence[AgentRow], select_id: int | None) -> None:
        self.rows = list(rows)
        self.columns = AgentColumns.of(self.rows)
        self.set_options([Option(AgentLine(r, self.columns), id=str(r.id)) for r in rows])
        if rows:
            idx = next((i for i, r in enumerate(rows) if r.id == select_id), 0)
            self.highlighted = idx

    def update_liveness(self, live: dict[int, tuple[LlmKind, LlmStatus]]) -> bool:
        """Refresh badges in place; True if anything changed."""
        changed = []
        for i, r in enumerate(self.rows):
            kind_status = live.get(r.id)
            if kind_status and kind_status != (r.kind, r.status):
                self.rows[i] = replace(r, kind=kind_status[0], status=kind_status[1])
                changed.append(i)
        if changed:
            # A new status or kind may widen a column: every row lines up again.
            columns = AgentColumns.of(self.rows)
            redo = range(len(self.rows)) if columns != self.columns else changed
            self.columns = columns
            for i in redo:
                self.replace_option_prompt_at_index(i, AgentLine(self.rows[i], columns))
        return bool(changed)

    @property
    def current(self) -> AgentRow | None:
        i = self.highlighted
        return self.rows[i] if i is not None and 0 <= i < len(self.rows) else None


class PersonalityList(OptionList):
    """``None`` value = agent default; ``NO_PERSONALITY`` = explicitly none."""

    BINDINGS = [*LIST_KEYS]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Personalities"
        self.values: list[str] = []

    def set_items(
        self, items: Sequence[Personality], default_id: int | None, selected: str | None
    ) -> None:
        opts = [Option(Content.styled("none", "italic"), id="p:")]
        self.values = [NO_PERSONALITY]
        default_name: str | None = None
        for p in items:
            label: list[str | Content] = [literal(p.name)]
            if p.id == default_id:
                default_name = p.name
                label += [" ", Content.styled("(default)", "$accent")]
            if p.description:
                label += ["\n", literal(p.description, "dim")]
            opts.append(Option(Content.assemble(*label), id=f"p:{p.name}"))
            self.values.append(p.name)
        self.set_options(opts)
        want = selected if selected is not None else (default_name or NO_PERSONALITY)
        self.highlighted = self.values.index(want) if want in self.values else 0

    @property
    def current(self) -> str | None:
        i = self.highlighted
        return self.values[i] if i is not None and 0 <= i < len(self.values) else None


class ThreadList(OptionList):
    """Threads of an agent, newest first; the next page loads as the list scrolls."""

    BINDINGS = [
        *LIST_KEYS,
        Binding("ctrl+d", "screen.delete_thread", "Delete thread", tooltip=DELETE_THREAD_HELP),
        Binding("ctrl+e", "screen.export_thread", "Export", tooltip=EXPORT_THREAD_HELP),
    ]

    class NeedMore(Message):
        def __init__(self, cursor: ThreadCursor) -> None:
            super().__init__()
            self.cursor = cursor

    def __init__(self, *, clock: Callable[[], datetime], id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Threads"
        self.clock = clock
        self.threads: list[ThreadSummary] = []
        self.has_more = False
        self._asked = False
        self._ages: list[str] = []  # the relative times shown, to redraw only what changed

    def _prompt(self, t: ThreadSummary, age: str) -> Content:
        title = t.title or f"thread {t.id}"
        meta = f"{age} · {t.turn_count} turns"
        return Content.assemble(literal(title), "\n", Content.styled(meta, "dim"))

    def _thread_options(self, threads: Sequence[ThreadSummary]) -> list[Option]:
        now = self.clock()
        ages = [ago(t.last_turn_at, now) for t in threads]
        self._ages.extend(ages)
        return [
            Option(self._prompt(t, a), id=f"t:{t.id}") for t, a in zip(threads, ages, strict=True)
        ]

    def tick(self) -> None:
        """Relative times move on ("just now" becomes "1m ago"): redraw the rows whose
        label changed, nothing else."""
        now = self.clock()
        for i, t in enumerate(self.threads):
            age = ago(t.last_turn_at, now)
            if i < len(self._ages) and age != self._ages[i]:
                self._ages[i] = age
                self.replace_option_prompt_at_index(i, self._prompt(t, age))

    def set_threads(self, threads: Sequence[ThreadSummary], *, has_more: bool) -> None:
        self.threads = list(threads)
        self.has_more = has_more
        self._asked = False
        self._ages = []
        self.set_options(self._thread_options(threads))

    def add_page(self, threads: Sequence[ThreadSummary], *, has_more: bool) -> None:
        self.threads.extend(threads)
        self.has_more = has_more
        self._asked = False
        self.add_options(self._thread_options(threads))

    def index_of(self, thread_id: int) -> int | None:
        return next((i for i, t in enumerate(self.threads) if t.id == thread_id), None)

    def _maybe_more(self) -> None:
        if self.has_more and not self._asked and self.threads:
            last = self.threads[-1]
            self._asked = True
            self.post_message(self.NeedMore(ThreadCursor(last.last_turn_at, last.id)))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y - 2:
            self._maybe_more()

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if highlighted is not None and highlighted >= len(self.threads) - 3:
            self._maybe_more()

    @property
    def current(self) -> ThreadSummary | None:
        i = self.highlighted
        return self.threads[i] if i is not None and 0 <= i < len(self.threads) else None
