"""The main screen: agents, their personalities and threads on the left, the chat on the right.

The screen holds the workflow (what opens when the operator picks something, the
dialogs, the editors); the app holds the services. Its keys are in ``BINDINGS`` here and
in the widgets they belong to (the thread list, the chat), never priority keys: a modal
screen on top makes them all inert, and a focused text field keeps its editing keys.
Loads run in workers, exclusive per group, so a newer selection cancels an older load;
dialogs are awaited (``push_screen_wait``) inside workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, OptionList

from mcpctl_tui.chat.context import NO_PERSONALITY
from mcpctl_tui.store.manifest.documents import Kind, PersonalityDoc
from mcpctl_tui.ui.backend import ChatBackend
from mcpctl_tui.ui.browse.panes import AgentList, PersonalityList, ThreadList
from mcpctl_tui.ui.browse.sidebar import Sidebar
from mcpctl_tui.ui.chat.panel import ChatPanel
from mcpctl_tui.ui.data import AgentRow, AgentView, StoreError, UiData
from mcpctl_tui.ui.follow import Following
from mcpctl_tui.ui.pacing import PacedScreen
from mcpctl_tui.ui.palette import MainCommands
from mcpctl_tui.ui.resources.screen import browse
from mcpctl_tui.ui.screens import thread_dialogs
from mcpctl_tui.ui.screens.context import inspect
from mcpctl_tui.ui.screens.editors import edit_target, run_editor
from mcpctl_tui.ui.screens.help import HelpScreen, main_groups
from mcpctl_tui.ui.screens.main_keys import MAIN_KEYS
from mcpctl_tui.ui.screens.search import find_turn
from mcpctl_tui.ui.state import ChatState, StartAt
from mcpctl_tui.ui.text import say

TICK_SECONDS = 20.0  # relative times ("5m ago") move on at least this often


class MainScreen(PacedScreen):
    CSS_PATH = "main.tcss"
    COMMANDS = {MainCommands}
    BINDINGS = MAIN_KEYS

    def __init__(
        self,
        data: UiData,
        backend: ChatBackend,
        *,
        start: StartAt,
        clock: Callable[[], datetime],
        liveness_seconds: float,
    ) -> None:
        super().__init__(id="_default")
        self.data = data
        self.backend = backend
        self.start = start
        self.clock = clock
        self.liveness_seconds = liveness_seconds
        self.loaded = 0  # agent loads completed (tests wait for the first)
        self.follow = Following(self)  # the store's changes (ui/follow.py)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(self.data, clock=self.clock, id="sidebar")
            yield ChatPanel(self.data, self.backend, id="right")
        yield Footer(compact=True)  # the normal spacing needs 87 cells: too wide at 80

    @property
    def panel(self) -> ChatPanel:
        return self.query_one(ChatPanel)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def agents(self) -> AgentList:
        return self.sidebar.agents

    @property
    def personalities(self) -> PersonalityList:
        return self.sidebar.personalities

    @property
    def threads(self) -> ThreadList:
        return self.sidebar.threads

    @property
    def state(self) -> ChatState:
        return self.panel.state

    def on_mount(self) -> None:
        self.watch(self.panel, "state", self._state_changed, init=False)
        self.load_agents(initial=True)
        self.set_interval(self.liveness_seconds, self.refresh_liveness)
        self.set_interval(TICK_SECONDS, self.threads.tick)
        self.follow.start()
        self.panel.chat_input.focus()

    def on_unmount(self) -> None:
        self.follow.stop()

    # --- loading ----------------------------------------------------------------------------

    @work(group="agents", exclusive=True, exit_on_error=False)
    async def load_agents(
        self,
        *,
        initial: bool = False,
        select_id: int | None = None,
        select_name: str | None = None,
        thread_id: int | None = None,
        keep_chat: bool = False,
        at_turn: int | None = None,
    ) -> None:
        """(Re)load the agents and open the selected one (``select_id``, else the agent
        named ``select_name``, else the first). ``keep_chat``: a refresh after a change
        (an editor saved): if the same agent stays selected, the open thread (or the new
        one being typed) stays open instead of jumping to the newest thread. ``at_turn``:
        the thread opens there (a search hit), that turn picked."""
        rows = await self.data.agents()
        self.follow.liveness.watch(rows, self.action_reload)
        if not rows:
            self.sidebar.show_agents([], None)
            await self.panel.show_welcome()
            self.loaded += 1
            return
        want = select_id
        if select_name is not None:
            want = next((r.id for r in rows if r.name == select_name), want)
        personality: str | None = None
        if initial:
            want, thread_id = await self._start_selection(rows, want)
            if self.start.personality is not None:
                wanted = self.start.personality
                personality = NO_PERSONALITY if wanted == "none" else wanted
        agent = self.sidebar.show_agents(rows, want)
        if agent is not None:
            keep = keep_chat and self.state.agent is not None and self.state.agent.id == agent.id
            self.open_agent(
                agent, thread_id=thread_id, keep_chat=keep, personality=personality, at_turn=at_turn
            )

    async def _start_selection(
        self, rows: list[AgentRow], want: int | None
    ) -> tuple[int | None, int | None]:
        """``--agent`` and ``--thread``: the agent to select and the thread to open. A
        thread opens with its own agent; an unknown thread is said and the agent opens
        on its newest thread instead of a blank chat."""
        start = self.start
        if start.agent:
            match = next((r for r in rows if r.name == start.agent), None)
            if match is None:
                say(self, f"no agent named {start.agent}", severity="error")
            else:
                want = match.id
        if start.thread_id is None:
            return want, None
        try:
            owner_id = await self.data.thread_owner(start.thread_id)
        except StoreError as exc:
            say(self, str(exc), severity="error")
            return want, None
        owner = next((r for r in rows if r.id == owner_id), None)
        if owner is None:
            return want, None
        if start.agent is not None and start.agent != owner.name:
            say(
                self,
                f"thread {start.thread_id} belongs to agent {owner.name}: opened with it",
                severity="warning",
            )
        return owner.id, start.thread_id

    @work(group="agent", exclusive=True, exit_on_error=False)
    async def open_agent(
        self,
        agent: AgentRow,
        *,
        thread_id: int | None = None,
        keep_chat: bool = False,
        personality: str | None = None,
        at_turn: int | None = None,
    ) -> None:
        """Show ``agent``'s personalities and threads, and open ``thread_id`` (else its
        newest thread). ``personality``: the choice to start with (None: the default)."""
        try:
            await self._open_agent(agent, thread_id, keep_chat, personality, at_turn)
        finally:
            self.loaded += 1

    async def _open_agent(
        self,
        agent: AgentRow,
        thread_id: int | None,
        keep_chat: bool,
        personality: str | None,
        at_turn: int | None = None,
    ) -> None:
        view = await self.data.agent_view(agent.id)
        choice = self.state.settings.personality if keep_chat else personality
        self._show_agent_view(agent, view, choice, redraw=True)
        if keep_chat:
            self.sidebar.highlight_thread(self.state.thread_id)
            return
        if self.panel.streaming:
            return  # never pull the chat from under a streaming reply
        target = thread_id
        if target is None and view.threads.threads:
            target = view.threads.threads[0].id
        if target is None:
            await self.panel.start_new_thread()
            return
        self.sidebar.highlight_thread(target)
        await self.panel.show_thread(target, at_turn=at_turn)

    @work(group="reload", exclusive=True, exit_on_error=False)
    async def action_reload(self) -> None:
        await self.reread()

    async def reread(self) -> None:
        """Show what the store holds now: agents come and go (a selection that still
        exists stays), the selected agent's personalities and threads, the open thread's
        turns. Nothing is redrawn that did not change; never two at once (ui/follow.py)."""
        async with self.follow.lock:
            try:
                rows = await self.data.agents()
            except StoreError as exc:
                say(self, str(exc), severity="error")
                return
            self.follow.liveness.watch(rows, self.action_reload)
            shown = self.state.agent
            if shown is None:
                if rows:  # the first agents of an empty store
                    self.load_agents()
                return
            self.sidebar.show_agents(rows, shown.id)
            now = next((r for r in rows if r.id == shown.id), None)
            if now is None:
                say(self, f"agent {shown.name} was deleted", severity="warning")
                self.load_agents()
                return
            view = await self.data.agent_view(now.id, threads_shown=len(self.threads.threads))
            if self.state.agent is None or self.state.agent.id != now.id:
                return  # another agent was opened meanwhile
            self._show_agent_view(now, view, self.state.settings.personality, redraw=False)
            await self.panel.sync_thread()

    def _show_agent_view(
        self, agent: AgentRow, view: AgentView, choice: str | None, *, redraw: bool
    ) -> None:
        """The agent's personalities and threads as read, and the chat's state with them."""
        shown = self.sidebar.show_agent_view(agent, view, choice, redraw=redraw)
        if shown.missing is not None:
            missing = shown.missing
            say(self, f"agent {agent.name} has no personality {missing}", severity="warning")
        state = self.state
        new = replace(
            state,
            agent=agent,
            settings=replace(state.settings, personality=shown.choice),
            default_personality=shown.default,
            personalities=shown.names,
        )
        if new != state:
            self.panel.state = new

    @work(group="threads-refresh", exclusive=True, exit_on_error=False)
    async def refresh_thread_list(self) -> None:
        agent = self.state.agent
        if agent is None:
            return
        self.sidebar.show_threads(agent.id, await self.data.threads(agent.id))
        self.sidebar.highlight_thread(self.state.thread_id)

    @work(group="liveness", exclusive=True, exit_on_error=False)
    async def refresh_liveness(self) -> None:
        """The light periodic query: a provider that stops shows as inactive on its own."""
        try:
            live = await self.data.liveness()
        except StoreError:
            return
        if self.agents.update_liveness(live):
            shown = self.state.agent
            row = next((r for r in self.agents.all_rows if shown and r.id == shown.id), None)
            if row is not None and row != shown:
                self.panel.state = replace(self.state, agent=row)

    # --- following the operator -------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#agents")
    def _agent_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        agent = self.agents.current
        if agent is not None and event.option_list.has_focus:
            self.open_agent(agent)

    @on(OptionList.OptionHighlighted, "#threads")
    def _thread_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        t = self.threads.current
        if t is not None and event.option_list.has_focus and t.id != self.state.thread_id:
            self.panel.open_thread(t.id)

    @on(OptionList.OptionHighlighted, "#personalities")
    def _personality_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.has_focus:
            state = self.state
            choice = self.personalities.current
            self.panel.state = replace(state, settings=replace(state.settings, personality=choice))

    @on(OptionList.OptionSelected, "#agents, #threads")
    def _chosen(self) -> None:
        """Enter on an agent or a thread: it is open; on to the message box."""
        self.panel.chat_input.focus()

    def action_focus_input(self) -> None:
        self.panel.chat_input.focus()

    @on(ChatPanel.ThreadsChanged)
    def _threads_changed(self) -> None:
        self.refresh_thread_list()

    def _state_changed(self, old: ChatState, new: ChatState) -> None:
        if new.settings.personality != old.settings.personality:
            want = new.settings.personality
            self.sidebar.highlight_personality(
                want if want is not None else new.default_personality or NO_PERSONALITY
            )
        if new.thread_id != old.thread_id:
            self.sidebar.highlight_thread(new.thread_id)

    def jump_to_agent(self, agent_id: int) -> None:
        self.load_agents(select_id=agent_id)

    def jump_to_thread(self, agent_id: int, thread_id: int, *, at_turn: int | None = None) -> None:
        self.load_agents(select_id=agent_id, thread_id=thread_id, at_turn=at_turn)

    # --- chat keys -----------------------------------------------------------------------

    def action_cancel_reply(self) -> None:
        self.panel.cancel()

    async def action_new_thread(self) -> None:
        await self.panel.start_new_thread()
        self.panel.chat_input.focus()

    async def action_regenerate(self) -> None:
        await self.panel.regenerate()

    def action_select_turn(self, step: int) -> None:
        """Choose a message to copy: the chat takes focus, where Ctrl+Y copies it."""
        chat = self.panel.chat
        if chat.select_step(step) is None:
            self.notify("no messages in this thread", severity="warning")
            return
        chat.focus(scroll_visible=False)

    @work(group="dialog", exit_on_error=False)
    async def action_resources(self) -> None:
        end = await browse(self.app, self.data)
        if end.changed:  # something changed there: read it all again
            self.action_reload()
        if end.search:
            await self._search()

    @work(group="dialog", exit_on_error=False)
    async def action_search(self) -> None:
        await self._search()

    async def _search(self) -> None:
        hit = await find_turn(self.app, self.data)
        if hit is not None:
            self.jump_to_thread(hit.agent_id, hit.thread_id, at_turn=hit.turn_index)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(main_groups(MainScreen.BINDINGS)))

    @work(group="context", exclusive=True, exit_on_error=False)
    async def action_inspect_context(self) -> None:
        """The request the open agent would send next: its personality and the session's
        settings, the open thread's history; read from the store, nothing written."""
        await inspect(self, self.panel.backend, self.state)

    # --- the open thread ---------------------------------------------------------------------

    def _open_thread_id(self) -> int | None:
        """The stored thread open now; None (and said) for a new one."""
        tid = self.state.thread_id
        if tid is None:
            self.notify("no thread yet: send a message first", severity="warning")
        return tid

    @work(group="dialog", exit_on_error=False)
    async def action_rename_thread(self) -> None:
        tid = self._open_thread_id()
        if tid is None:
            return
        title = await thread_dialogs.rename(self.app, self.data, tid, self.state.title)
        if title is not None:
            if self.state.thread_id == tid:
                self.panel.state = replace(self.state, title=title)
            self.refresh_thread_list()

    @work(group="dialog", exit_on_error=False)
    async def action_delete_thread(self) -> None:
        tid = self._open_thread_id()
        if tid is None:
            return
        if await thread_dialogs.delete(self.app, self.data, tid, self.state.title):
            if self.state.thread_id == tid:
                await self.panel.start_new_thread()
            self.refresh_thread_list()

    @work(group="dialog", exit_on_error=False)
    async def action_export_thread(self) -> None:
        tid = self._open_thread_id()
        if tid is not None:
            await thread_dialogs.export(self.app, self.data, tid)

    # --- editors --------------------------------------------------------------------------

    def action_edit(self, kind_name: str, which: str | None) -> None:
        """Open the editor for a new object (``which`` None), the selected one
        (``"current"``), or one by name (``"NAME"``; a prompt or personality
        ``"NAME@AGENT"``, else the selected agent's)."""
        kind = Kind(kind_name)
        target = edit_target(kind, which, self.state.agent, self.personalities.current)
        if target is None:
            self.notify(f"no {kind.value} selected", severity="warning")
        else:
            self.edit(kind, target.name, agent=target.agent)

    def action_delete_agent(self) -> None:
        agent = self.state.agent
        if agent is None:
            self.notify("no agent selected", severity="warning")
            return
        self.edit(Kind.AGENT, agent.name, delete=True)

    @work(group="dialog", exit_on_error=False)
    async def edit(
        self,
        kind: Kind,
        name: str | None,
        *,
        agent: str | None = None,
        project: str | None = None,
        delete: bool = False,
    ) -> None:
        """An editor (``editors.run_editor``); what it changed shows when it closes."""
        selected = self.state.agent
        edited = await run_editor(
            self.app,
            self.data,
            kind,
            name,
            over=self,
            agent=agent,
            project=project,
            selected_agent=selected.name if selected else None,
            delete=delete,
        )
        if edited is None:
            return
        say(self, edited.message)
        doc = edited.doc
        if edited.deleted and isinstance(doc, PersonalityDoc) and self._is_chosen(doc):
            # Gone on purpose: no "has no personality" warning.
            settings = replace(self.state.settings, personality=None)
            self.panel.state = replace(self.state, settings=settings)
        if kind is Kind.AGENT and doc is None and edited.saved is not None:
            self.load_agents(select_name=edited.saved.name)  # a new agent: go to it
        else:
            self.load_agents(select_id=selected.id if selected else None, keep_chat=True)

    def _is_chosen(self, doc: PersonalityDoc) -> bool:
        state = self.state
        chosen = (state.agent.name if state.agent else None, state.settings.personality)
        return chosen == (doc.agent, doc.name)
