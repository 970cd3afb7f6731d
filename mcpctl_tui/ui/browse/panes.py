"""The left column: agents, personalities of the selected agent, threads (paged).

Rows never wrap (the CSS sets ``text-wrap: nowrap``, long text ends in an ellipsis):
an agent is one line, a personality or a thread two (name, then a dim detail line).

Each list keeps every row it was given and shows those its ``/`` filter matches (the one
rule of ``ui/resources/filter.py``); ``current`` and the option indices are the shown
rows'. The filter stays until cleared, across reloads, and is named in the border.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
from mcpctl_tui.ui.resources.filter import row_filter
from mcpctl_tui.ui.text import literal

DELETE_THREAD_HELP = "delete the open thread and its turns (asks first)"
FILTER_HELP = "filter this list (! inverts; a regex works; Esc in the box clears)"
EXPORT_THREAD_HELP = "export the open thread (.md or .json)"


# Vim's keys in every list (k9s moves the same way); OptionList has the arrows already.
LIST_KEYS = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "first", "First", show=False),
    Binding("G", "last", "Last", show=False),
    Binding("slash", "filter", "Filter", show=False, tooltip=FILTER_HELP),
]


class FilteredList(OptionList):
    """An option list with a ``/`` filter: ``filter_text`` and the border that names it.
    ``/`` asks the sidebar for its filter box (``FilterAsked``)."""

    class FilterAsked(Message):
        def __init__(self, target: FilteredList) -> None:
            super().__init__()
            self.target = target

    class Picked(Message):
        """The filter box's Enter: the row landed on opens, as a move in the list would."""

        bubble = False

    def action_filter(self) -> None:
        self.post_message(self.FilterAsked(self))

    def on_filtered_list_picked(self) -> None:
        # Posted from here (not from the sidebar), so the highlight reaches the screen;
        # after a refresh, once the focus given with it has landed.
        self.call_after_refresh(self._announce)

    def _announce(self) -> None:
        option, index = self.highlighted_option, self.highlighted
        if option is not None and index is not None:
            self.post_message(OptionList.OptionHighlighted(self, option, index))

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.filter_text = ""

    def matches(self, texts: Iterable[str]) -> list[bool]:
        test = row_filter(self.filter_text)
        return [test(t) for t in texts]

    def set_filter(self, text: str) -> None:
        """Show the rows ``text`` matches (empty: all), the highlight kept if still shown."""
        self.filter_text = text
        self.border_subtitle = Content(f"/{text}") if text else ""  # text, never markup
        with self.prevent(OptionList.OptionHighlighted):
            self.refilter()

    def refilter(self) -> None:
        """Rebuild the shown options from the rows kept (each list knows its rows)."""


def ago(then: datetime, now: datetime) -> str:
    """Relative time, coarse on purpose (it is read at a glance)."""
    secs = max(0, int((now - then).total_seconds()))
    if secs < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return "just now"


class AgentList(FilteredList):
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
        super().__init__("Agents", id=id)
        self.all_rows: list[AgentRow] = []  # as read
        self.rows: list[AgentRow] = []  # shown: those the filter matches
        self.columns = AgentColumns.of([])

    def set_rows(self, rows: Sequence[AgentRow], select_id: int | None) -> None:
        self.all_rows = list(rows)
        self.columns = AgentColumns.of(self.all_rows)  # the columns do not jump as you type
        self._show(select_id)

    def refilter(self) -> None:
        current = self.current
        self._show(current.id if current is not None else None)

    def _show(self, select_id: int | None) -> None:
        texts = (_agent_text(r) for r in self.all_rows)
        self.rows = [r for r, ok in zip(self.all_rows, self.matches(texts), strict=True) if ok]
        self.set_options([Option(AgentLine(r, self.columns), id=str(r.id)) for r in self.rows])
        if self.rows:
            idx = next((i for i, r in enumerate(self.rows) if r.id == select_id), 0)
            self.highlighted = idx

    def update_liveness(self, live: dict[int, tuple[LlmKind, LlmStatus]]) -> bool:
        """Refresh badges in place; True if anything changed."""
        changed = False
        for i, r in enumerate(self.all_rows):
            kind_status = live.get(r.id)
            if kind_status and kind_status != (r.kind, r.status):
                self.all_rows[i] = replace(r, kind=kind_status[0], status=kind_status[1])
                changed = True
        if changed:
            # A new status or kind may widen a column: every row lines up again.
            self.columns = AgentColumns.of(self.all_rows)
            by_id = {r.id: r for r in self.all_rows}
            self.rows = [by_id[r.id] for r in self.rows]
            for i, r in enumerate(self.rows):
                self.replace_option_prompt_at_index(i, AgentLine(r, self.columns))
        return changed

    @property
    def current(self) -> AgentRow | None:
        i = self.highlighted
        return self.rows[i] if i is not None and 0 <= i < len(self.rows) else None


def _agent_text(r: AgentRow) -> str:
    """What the filter matches an agent on: the cells its row shows."""
    kind = "virtual" if r.kind == LlmKind.VIRTUAL else "public"
    return " ".join((r.name, r.llm_name, r.project_name or "", kind, r.status.value))


class PersonalityList(FilteredList):
    """``None`` value = agent default; ``NO_PERSONALITY`` = explicitly none."""

    BINDINGS = [*LIST_KEYS]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Personalities", id=id)
        self.values: list[str] = []  # shown
        self._items: list[Personality] = []
        self._default_id: int | None = None

    def set_items(
        self, items: Sequence[Personality], default_id: int | None, selected: str | None
    ) -> None:
        self._items, self._default_id = list(items), default_id
        default_name = next((p.name for p in items if p.id == default_id), None)
        self._show(selected if selected is not None else (default_name or NO_PERSONALITY))

    def refilter(self) -> None:
        self._show(self.current)

    def _show(self, want: str | None) -> None:
        texts = ["none", *(f"{p.name} {p.description}" for p in self._items)]
        keep = self.matches(texts)
        opts = [Option(Content.styled("none", "italic"), id="p:")] if keep[0] else []
        self.values = [NO_PERSONALITY] if keep[0] else []
        for p, ok in zip(self._items, keep[1:], strict=True):
            if not ok:
                continue
            label: list[str | Content] = [literal(p.name)]
            if p.id == self._default_id:
                label += [" ", Content.styled("(default)", "$accent")]
            if p.description:
                label += ["\n", literal(p.description, "dim")]
            opts.append(Option(Content.assemble(*label), id=f"p:{p.name}"))
            self.values.append(p.name)
        self.set_options(opts)
        if self.values:
            self.highlighted = self.values.index(want) if want in self.values else 0

    @property
    def current(self) -> str | None:
        i = self.highlighted
        return self.values[i] if i is not None and 0 <= i < len(self.values) else None


class ThreadList(FilteredList):
    """Threads of an agent, newest first; the next page loads as the list scrolls (a
    filter matches the pages loaded so far)."""

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
        super().__init__("Threads", id=id)
        self.clock = clock
        self.threads: list[ThreadSummary] = []  # every page loaded
        self.shown: list[ThreadSummary] = []  # those the filter matches, one option each
        self.has_more = False
        self._asked = False
        self._ages: list[str] = []  # the relative times shown, to redraw only what changed

    def _prompt(self, t: ThreadSummary, age: str) -> Content:
        title = t.title or f"thread {t.id}"
        meta = f"{age} · {t.turn_count} turns"
        if t.usage.costs:  # what it cost; what it used when it has no price
            meta += f" · {t.usage.cost_text()}"
        elif t.usage.replies:
            meta += f" · {t.usage.tokens_text()} tok"
        return Content.assemble(literal(title), "\n", Content.styled(meta, "dim"))

    def _matching(self, threads: Sequence[ThreadSummary]) -> list[ThreadSummary]:
        texts = (f"{t.title or f'thread {t.id}'} {t.id}" for t in threads)
        return [t for t, ok in zip(threads, self.matches(texts), strict=True) if ok]

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
        for i, t in enumerate(self.shown):
            age = ago(t.last_turn_at, now)
            if i < len(self._ages) and age != self._ages[i]:
                self._ages[i] = age
                self.replace_option_prompt_at_index(i, self._prompt(t, age))

    def set_threads(self, threads: Sequence[ThreadSummary], *, has_more: bool) -> None:
        self.threads = list(threads)
        self.has_more = has_more
        self._asked = False
        self._show()

    def refilter(self) -> None:
        current = self.current
        self._show()
        if self.shown:  # the row highlighted if still shown, else the first match
            i = self.index_of(current.id) if current is not None else None
            self.highlighted = i if i is not None else 0

    def _show(self) -> None:
        self._ages = []
        self.shown = self._matching(self.threads)
        self.set_options(self._thread_options(self.shown))

    def add_page(self, threads: Sequence[ThreadSummary], *, has_more: bool) -> None:
        self.threads.extend(threads)
        self.has_more = has_more
        self._asked = False
        more = self._matching(threads)
        self.shown.extend(more)
        self.add_options(self._thread_options(more))

    def index_of(self, thread_id: int) -> int | None:
        return next((i for i, t in enumerate(self.shown) if t.id == thread_id), None)

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
        if highlighted is not None and highlighted >= len(self.shown) - 3:
            self._maybe_more()

    @property
    def current(self) -> ThreadSummary | None:
        i = self.highlighted
        return self.shown[i] if i is not None and 0 <= i < len(self.shown) else None
