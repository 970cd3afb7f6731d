"""The left column: the agents, the selected agent's personalities, its threads.

The main screen decides what is selected; the sidebar shows it, keeps what the operator
selected when the lists are read again (nothing is redrawn that did not change, so a
reload from another process's write does not flicker or move the highlight), and loads
older threads as the thread list scrolls.

``/`` on a list opens the filter box under the lists: the list filters as you type,
Enter goes back to it with the filter kept, Esc clears the filter and goes back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static

from mcpctl_tui.chat.context import NO_PERSONALITY
from mcpctl_tui.ui.browse.panes import AgentList, FilteredList, PersonalityList, ThreadList
from mcpctl_tui.ui.data import AgentRow, AgentView, Page, ThreadCursor, UiData
from mcpctl_tui.ui.readonly import READ_ONLY_BANNER


@dataclass(frozen=True, slots=True)
class Shown:
    """What the personality list shows of an agent, for the chat's state."""

    names: tuple[str, ...]
    default: str | None  # the agent's default personality, by name
    choice: str | None  # the choice kept (None if the one asked for does not exist)
    missing: str | None  # a choice asked for that the agent does not have


class ListFilter(Input):
    """The sidebar's filter box; it filters one list at a time (``target``).

    Enter goes back to the list and opens the row highlighted there (as a move in the
    list would); Esc clears the filter and puts the highlight back where it was."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", tooltip="clear the filter")]

    def __init__(self) -> None:
        super().__init__(placeholder="filter: text, !text, or a regex", id="list-filter")
        self.target: FilteredList | None = None
        self.before: str | None = None  # the option highlighted when the box opened

    def open_for(self, target: FilteredList) -> None:
        self.target = target
        option = target.highlighted_option
        self.before = option.id if option is not None else None
        self.border_title = f"Filter {target.border_title}"
        with self.prevent(Input.Changed):
            self.value = target.filter_text
        self.display = True
        self.focus()

    def on_blur(self) -> None:
        self.display = False  # focus went elsewhere (Tab, a click): the filter stays

    def action_clear(self) -> None:
        target = self.target
        with self.prevent(Input.Changed):
            self.value = ""
        self.display = False
        if target is None:
            return
        target.set_filter("")
        with target.prevent(OptionList.OptionHighlighted):
            if self.before is not None:
                target.highlighted = target.get_option_index(self.before)
        target.focus()

    def submit_to_list(self) -> None:
        target = self.target
        self.display = False
        if target is None:
            return
        target.focus()
        target.post_message(FilteredList.Picked())


class Sidebar(Vertical):
    def __init__(self, data: UiData, *, clock: Callable[[], datetime], id: str) -> None:
        super().__init__(id=id)
        self.data = data
        self.clock = clock
        self.agent_id: int | None = None  # whose personalities and threads are shown
        self._personalities_shown: tuple[list[tuple[int, str, str]], int | None] = ([], None)

    def compose(self) -> ComposeResult:
        if self.data.readonly:  # said where the operator looks first, every moment
            yield Static(READ_ONLY_BANNER, id="readonly", markup=False)
        yield AgentList(id="agents")
        yield PersonalityList(id="personalities")
        yield ThreadList(clock=self.clock, id="threads")
        yield ListFilter()

    @property
    def agents(self) -> AgentList:
        return self.query_one(AgentList)

    @property
    def personalities(self) -> PersonalityList:
        return self.query_one(PersonalityList)

    @property
    def threads(self) -> ThreadList:
        return self.query_one(ThreadList)

    def show_agents(self, rows: Sequence[AgentRow], select_id: int | None) -> AgentRow | None:
        """The agents, ``select_id`` highlighted (else the first), without a highlight
        event; redrawn only if they changed or another agent is to be highlighted (a jump
        to another agent's thread). The agent highlighted."""
        current = self.agents.current
        moved = select_id is not None and (current is None or current.id != select_id)
        if moved or list(rows) != self.agents.all_rows or not rows:
            with self.agents.prevent(OptionList.OptionHighlighted):
                self.agents.set_rows(rows, select_id)
        if not rows:
            self.agent_id = None
            self.personalities.set_items([], None, None)
            self.threads.set_threads([], has_more=False)
        return self.agents.current

    def show_agent_view(
        self, agent: AgentRow, view: AgentView, choice: str | None, *, redraw: bool
    ) -> Shown:
        """The agent's personalities and threads as read. ``redraw``: another agent
        opens; else only what changed is redrawn, the highlights kept."""
        self.agent_id = agent.id
        names = tuple(p.name for p in view.personalities)
        default_id = agent.default_personality_id
        default = next((p.name for p in view.personalities if p.id == default_id), None)
        missing = None
        if choice not in (None, NO_PERSONALITY) and choice not in names:
            missing, choice = choice, None
        listed = [(p.id, p.name, p.description) for p in view.personalities]
        if redraw or (listed, default_id) != self._personalities_shown:
            self._personalities_shown = (listed, default_id)
            self.personalities.set_items(view.personalities, default_id, choice)
        page = view.threads
        threads = self.threads
        if redraw or (page.threads, page.has_more) != (threads.threads, threads.has_more):
            highlighted = threads.current
            threads.set_threads(page.threads, has_more=page.has_more)
            if highlighted is not None and not redraw:
                self.highlight_thread(highlighted.id)
        return Shown(names, default, choice, missing)

    def highlight_thread(self, thread_id: int | None) -> None:
        idx = self.threads.index_of(thread_id) if thread_id is not None else None
        if idx is not None and self.threads.highlighted != idx:
            with self.threads.prevent(OptionList.OptionHighlighted):
                self.threads.highlighted = idx

    def highlight_personality(self, name: str) -> None:
        values = self.personalities.values
        if name in values and self.personalities.current != name:
            with self.personalities.prevent(OptionList.OptionHighlighted):
                self.personalities.highlighted = values.index(name)

    def show_threads(self, agent_id: int, page: Page) -> None:
        """The first page of threads again (a thread was stored or renamed here)."""
        if agent_id == self.agent_id:
            self.threads.set_threads(page.threads, has_more=page.has_more)

    @property
    def filter_box(self) -> ListFilter:
        return self.query_one(ListFilter)

    def on_mount(self) -> None:
        self.filter_box.display = False

    @on(FilteredList.FilterAsked)
    def _filter_asked(self, event: FilteredList.FilterAsked) -> None:
        self.filter_box.open_for(event.target)

    @on(Input.Changed, "#list-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.filter_box.target is not None:
            self.filter_box.target.set_filter(event.value)

    @on(Input.Submitted, "#list-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.filter_box.submit_to_list()

    @on(ThreadList.NeedMore)
    def _need_more(self, event: ThreadList.NeedMore) -> None:
        if self.agent_id is not None:
            self.load_more_threads(self.agent_id, event.cursor)

    @work(group="threads-more", exclusive=True, exit_on_error=False)
    async def load_more_threads(self, agent_id: int, cursor: ThreadCursor) -> None:
        page = await self.data.threads(agent_id, after=cursor)
        if agent_id == self.agent_id:
            self.threads.add_page(page.threads, has_more=page.has_more)
