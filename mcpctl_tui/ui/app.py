"""The operator TUI: browse agents, personalities and threads; chat with live streaming.

All data comes through ``store`` query functions and the ``ChatBackend``; loads and the
reply run in workers (exclusive per group, so a newer selection cancels an older load).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from mcpctl_tui.chat.context import ChatOverrides, check_params
from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import ErrorKind, TextDelta, ToolCallDelta, Usage
from mcpctl_tui.store.agents import AgentRow, agent_liveness, list_agent_rows
from mcpctl_tui.store.catalog import list_personalities
from mcpctl_tui.store.deletes import delete_thread
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.manifest.documents import Document, Kind, PersonalityDoc, PromptDoc
from mcpctl_tui.store.manifest.export import get_objects
from mcpctl_tui.store.messages import all_messages, last_messages, messages_before
from mcpctl_tui.store.thread_export import thread_to_json, thread_to_markdown
from mcpctl_tui.store.threads import (
    ThreadCursor,
    get_thread,
    list_threads,
    rename_thread,
    thread_size,
)
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow
from mcpctl_tui.ui.backend import NO_PERSONALITY, ChatBackend
from mcpctl_tui.ui.browse.panes import AgentList, PersonalityList, ThreadList
from mcpctl_tui.ui.chat.input import ChatInput
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
from mcpctl_tui.ui.chat.turns import AssistantTurn, ReplyMarkdown, UserTurn
from mcpctl_tui.ui.chat.view import PAGE, WINDOW, ChatView
from mcpctl_tui.ui.engine import heartbeat_timeout as default_heartbeat_timeout
from mcpctl_tui.ui.engine import make_backend
from mcpctl_tui.ui.pacing import PacedScreen
from mcpctl_tui.ui.palette import McpctlCommands
from mcpctl_tui.ui.screens.dialogs import AskScreen, ConfirmScreen, HelpScreen
from mcpctl_tui.ui.screens.editors import Choices, EditorScreen
from mcpctl_tui.ui.status import ReplyStats, StatusInfo, StatusLine
from mcpctl_tui.ui.text import clean, literal

THREAD_PAGE = 50
LIVENESS_SECONDS = 5.0
GC_SECONDS = 60.0
QUIT_GRACE_SECONDS = 2.0
# Priority keys (so they work from the chat input) that are also text-editing keys of an
# Input or TextArea (Ctrl+D, Ctrl+E, Ctrl+K, Ctrl+Y): over a dialog or an editor they
# belong to the field being typed in. The palette's actions all act on the main screen:
# it does not open over a dialog either.
MAIN_SCREEN_ACTIONS = frozenset({"delete_thread", "export_thread", "copy_reply", "copy_code"})
GC_THRESHOLDS = (20_000, 20, 100)
GC_STREAMING_YOUNG = 2_000

WELCOME = (
    "[b]Welcome to mcpctl-tui.[/b]\n\n"
    "There is nothing in this database yet. To chat you need an [b]LLM[/b] and an "
    "[b]agent[/b] that uses it:\n\n"
    "• in the app: press [b]Ctrl+P[/b], choose [i]New LLM[/i], then [i]New agent[/i];\n\n"
    "• from a file: [b]mcpctl-tui apply -f world.yaml[/b] (documents of kind llm, project, "
    "agent, prompt, personality);\n\n"
    "• or look around first: [b]mcpctl-tui demo[/b] opens a demo database with an echo LLM "
    "(no key, no network).\n\n"
    "[b]F1[/b] help · [b]Ctrl+P[/b] every action · [b]Ctrl+Q[/b] quit\n"
)


@dataclass(slots=True)
class StartAt:
    agent: str | None = None
    personality: str | None = None
    thread_id: int | None = None


class McpctlApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mcpctl-tui"
    COMMANDS = App.COMMANDS | {McpctlCommands}

    BINDINGS = [
        Binding("escape", "cancel_reply", "Cancel reply", show=True),
        Binding("ctrl+n", "new_thread", "New thread"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("f2", "rename_thread", "Rename", show=False),
        Binding("ctrl+d", "delete_thread", "Delete thread", show=False, priority=True),
        Binding("ctrl+e", "export_thread", "Export", show=False, priority=True),
        Binding("alt+up", "select_turn(-1)", "Previous message", show=False),
        Binding("alt+down", "select_turn(1)", "Next message", show=False),
        Binding("ctrl+y", "copy_reply", "Copy message", show=False, priority=True),
        Binding("ctrl+k", "copy_code", "Copy code", show=False, priority=True),
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        store: Store | str,
        backend: ChatBackend | None = None,
        *,
        start: StartAt | None = None,
        clock: Callable[[], datetime] = utcnow,
        liveness_seconds: float = LIVENESS_SECONDS,
        heartbeat_timeout: float | None = None,
    ) -> None:
        """``store`` is an open Store, or a URL the app opens (and closes) on its own event
        loop; ``backend`` defaults to a ChatService on the store, owned by the app.
        ``heartbeat_timeout``: a virtual LLM's publisher silent this long shows inactive
        (default: the dispatcher's bound, from the config file)."""
        super().__init__()
        self._store_url = store if isinstance(store, str) else None
        self._store: Store | None = None if isinstance(store, str) else store
        self._backend = backend
        self._owns_backend = backend is None
        self.start = start or StartAt()
        self.clock = clock
        self.liveness_seconds = liveness_seconds
        self.heartbeat_timeout = (
            heartbeat_timeout if heartbeat_timeout is not None else default_heartbeat_timeout()
        )
        self.thread_id: int | None = None
        self.thread_title = ""
        self.overrides: dict[str, Any] = {}
        self.system_replace: str | None = None
        self.personality_choice: str | None = None  # None = agent default
        self.personality_names: dict[int, str] = {}
        self.stats = ReplyStats()
        self.reply_stream: CoalescingMarkdownStream | None = None
        self.reply_turn: AssistantTurn | None = None
        self.loaded = 0  # agent loads completed (tests wait for the first)
        self._reply_text = ""

    # --- layout -------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return PacedScreen(id="_default")

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield AgentList(id="agents")
                yield PersonalityList(id="personalities")
                yield ThreadList(clock=self.clock, id="threads")
            with Vertical(id="right"):
                yield Static("", id="thread-title")
                yield ChatView(id="chat")
                yield ChatInput(id="input")
                yield StatusLine(id="status")
        yield Footer(compact=True)  # the normal spacing needs 87 cells: too wide at 80

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)

    @property
    def agents(self) -> AgentList:
        return self.query_one(AgentList)

    @property
    def personalities(self) -> PersonalityList:
        return self.query_one(PersonalityList)

    @property
    def threads(self) -> ThreadList:
        return self.query_one(ThreadList)

    @property
    def chat_input(self) -> ChatInput:
        return self.query_one(ChatInput)

    @property
    def current_agent(self) -> AgentRow | None:
        return self.agents.current

    @property
    def streaming(self) -> bool:
        return any(
            w.group == "reply" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    @property
    def store(self) -> Store:
        assert self._store is not None, "store not open yet"
        return self._store

    @property
    def backend(self) -> ChatBackend:
        assert self._backend is not None, "store not open yet"
        return self._backend

    async def on_load(self) -> None:
        if self._store is None and self._store_url is not None:
            self._store = await open_store(self._store_url)
        if self._backend is None:
            self._backend = make_backend(self.store)

    async def on_unmount(self) -> None:
        if self._owns_backend and isinstance(self._backend, ChatService):
            await self._backend.aclose()
        if self._store_url is not None and self._store is not None:
            await self._store.close()

    def on_mount(self) -> None:
        # A full (gen 2) collection walks every live object: with Textual, SQLAlchemy and a
        # long reply's widgets that is 100-300 ms, a visible hitch mid-stream. What exists
        # now lives as long as the app: freeze it out of the collector's walks, and
        # collect the young generation less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        self.load_agents(initial=True)
        self.set_interval(self.liveness_seconds, self.refresh_liveness)
        self.set_interval(GC_SECONDS, self._idle_collect)
        self.chat_input.focus()

    def _idle_collect(self) -> None:
        if not self.streaming:
            _collect_and_freeze()

    def say(self, text: str, *, severity: SeverityLevel = "information", title: str = "") -> None:
        """A notification whose text may be untrusted (names, errors, model text): shown
        exactly as written. Textual's toast renders ``markup=False`` as ``Content(message)``,
        which takes a str: a ``Content`` there crashed the app when the toast painted."""
        self.notify(clean(text), title=clean(title), severity=severity, markup=False)

    # --- status -------------------------------------------------------------------

    def personality_label(self) -> str:
        choice = self.personality_choice
        if choice == NO_PERSONALITY:
            return "none"
        if choice is not None:
            return choice
        agent = self.current_agent
        if agent and agent.default_personality_id in self.personality_names:
            return self.personality_names[agent.default_personality_id]
        return "none"

    def _default_personality(self) -> str | None:
        agent = self.current_agent
        if agent and agent.default_personality_id in self.personality_names:
            return self.personality_names[agent.default_personality_id]
        return None

    def refresh_status(self) -> None:
        self.query_one(StatusLine).show(
            StatusInfo(
                agent=self.current_agent,
                personality=self.personality_label(),
                overrides=self.overrides,
                system_replaced=self.system_replace is not None,
                stats=self.stats,
            )
        )

    def set_thread_title(self, title: str) -> None:
        self.thread_title = title
        label = literal(title, "bold") if title else Content.styled("new thread", "dim italic")
        self.query_one("#thread-title", Static).update(label)

    # --- loading --------------------------------------------------------------------

    @work(group="agents", exclusive=True, exit_on_error=False)
    async def load_agents(
        self,
        *,
        initial: bool = False,
        select_id: int | None = None,
        select_name: str | None = None,
        thread_id: int | None = None,
        keep_chat: bool = False,
    ) -> None:
        """(Re)load the agents and open the selected one (``select_id``, else the agent
        named ``select_name``, else the first). ``keep_chat``: a refresh after a change
        (an editor saved, /save): if the same agent stays selected, the open thread (or
        the new one being typed) stays open instead of jumping to the newest thread."""
        shown = self.current_agent
        async with self.store.session() as s:
            rows = await list_agent_rows(s, heartbeat_timeout=self.heartbeat_timeout)
        if not rows:
            await self.chat.show_empty(Content.from_markup(WELCOME))
            self.set_thread_title("")
            self.query_one("#thread-title", Static).update(Content.styled("Welcome", "bold"))
            self.agents.set_rows([], None)
            self.personalities.set_items([], None, None)
            self.threads.set_threads([], has_more=False)
            self.refresh_status()
            self.loaded += 1
            return
        want = select_id
        if select_name is not None:
            want = next((r.id for r in rows if r.name == select_name), want)
        if initial and self.start.agent:
            match = next((r for r in rows if r.name == self.start.agent), None)
            if match is None:
                self.say(f"no agent named {self.start.agent}", severity="error")
            else:
                want = match.id
        start_thread: int | None = None
        if initial and self.start.thread_id is not None:
            want, start_thread = await self._start_thread(rows, want, self.start.thread_id)
        if initial and self.start.personality is not None:
            self.personality_choice = (
                NO_PERSONALITY if self.start.personality == "none" else self.start.personality
            )
        self.agents.set_rows(rows, want)
        agent = self.agents.current
        if agent is not None:
            if thread_id is None and initial:
                thread_id = start_thread
            keep = keep_chat and shown is not None and shown.id == agent.id
            self.open_agent(agent, thread_id=thread_id, keep_chat=keep)

    async def _start_thread(
        self, rows: list[AgentRow], want: int | None, tid: int
    ) -> tuple[int | None, int | None]:
        """``--thread ID``: the agent to select and the thread to open. The thread opens
        with its own agent (shown under another, a send there is refused); an unknown
        thread is said and the agent opens on its newest thread instead of a blank chat."""
        try:
            async with self.store.session() as s:
                thread = await get_thread(s, tid)
        except StoreError as exc:
            self.say(str(exc), severity="error")
            return want, None
        owner = next((r for r in rows if r.id == thread.agent_id), None)
        if owner is None:
            return want, None
        if self.start.agent is not None and self.start.agent != owner.name:
            self.say(
                f"thread {tid} belongs to agent {owner.name}: opened with it",
                severity="warning",
            )
        return owner.id, tid

    @on(OptionList.OptionHighlighted, "#agents")
    def _agent_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        agent = self.agents.current
        if agent is not None and event.option_list.has_focus:
            self.personality_choice = None
            self.open_agent(agent)

    @work(group="agent", exclusive=True, exit_on_error=False)
    async def open_agent(
        self, agent: AgentRow, *, thread_id: int | None = None, keep_chat: bool = False
    ) -> None:
        async with self.store.session() as s:
            pers = await list_personalities(s, agent.id)
            threads = await list_threads(s, agent.id, limit=THREAD_PAGE + 1)
        self.personality_names = {p.id: p.name for p in pers}
        if self.personality_choice not in (
            None,
            NO_PERSONALITY,
        ) and self.personality_choice not in {p.name for p in pers}:
            self.say(
                f"agent {agent.name} has no personality {self.personality_choice}",
                severity="warning",
            )
            self.personality_choice = None
        self.personalities.set_items(pers, agent.default_personality_id, self.personality_choice)
        more = len(threads) > THREAD_PAGE
        self.threads.set_threads(threads[:THREAD_PAGE], has_more=more)
        self.refresh_status()
        try:
            if keep_chat:
                self._highlight_open_thread()
                return
            if self.streaming:
                return  # never pull the chat from under a streaming reply
            target = thread_id if thread_id is not None else (threads[0].id if threads else None)
            if target is None:
                await self.start_new_thread()
                return
            idx = self.threads.index_of(target)
            if idx is not None:
                with self.threads.prevent(OptionList.OptionHighlighted):
                    self.threads.highlighted = idx
            await self._open_thread(target)
        finally:
            self.loaded += 1

    def _forget_reply_stats(self) -> None:
        """Another thread opens: the last reply's figures (tokens, ttft) were about the
        thread left, and stayed on the status line under this one."""
        if not self.streaming and self.stats != ReplyStats():
            self.stats = ReplyStats()
            self.refresh_status()

    async def start_new_thread(self) -> None:
        self.thread_id = None
        self.set_thread_title("")
        self._forget_reply_stats()
        await self.chat.show_empty(
            Content.styled("New thread: type a message below and press Enter.", "dim")
        )

    @on(OptionList.OptionHighlighted, "#threads")
    def _thread_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        t = self.threads.current
        if t is not None and event.option_list.has_focus and t.id != self.thread_id:
            self.open_thread(t.id)

    @on(OptionList.OptionHighlighted, "#personalities")
    def _personality_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.has_focus:
            self.personality_choice = self.personalities.current
            self.refresh_status()

    @work(group="thread", exclusive=True, exit_on_error=False)
    async def open_thread(self, thread_id: int) -> None:
        await self._open_thread(thread_id)

    async def _open_thread(self, thread_id: int) -> None:
        async with self.store.session() as s:
            try:
                thread = await get_thread(s, thread_id)
            except StoreError as exc:
                self.say(str(exc), severity="error")
                return
            turns = await last_messages(s, thread_id, WINDOW + 1)
        has_older = len(turns) > WINDOW
        self.thread_id = thread_id
        self.set_thread_title(thread.title or f"thread {thread_id}")
        self._forget_reply_stats()
        await self.chat.show(turns[-WINDOW:], has_older=has_older)

    @on(ChatView.NeedOlder)
    def _need_older(self, event: ChatView.NeedOlder) -> None:
        if self.thread_id is not None:
            self.load_older(self.thread_id, event.before_turn)

    @work(group="older", exclusive=True, exit_on_error=False)
    async def load_older(self, thread_id: int, before_turn: int) -> None:
        async with self.store.session() as s:
            rows = await messages_before(s, thread_id, before_turn, PAGE + 1)
        if thread_id != self.thread_id:
            return
        turns = rows
        await self.chat.prepend(turns[-PAGE:], has_older=len(turns) > PAGE)

    @on(ThreadList.NeedMore)
    def _need_more_threads(self, event: ThreadList.NeedMore) -> None:
        agent = self.current_agent
        if agent is not None:
            self.load_more_threads(agent.id, event.cursor)

    @work(group="threads-more", exclusive=True, exit_on_error=False)
    async def load_more_threads(self, agent_id: int, cursor: ThreadCursor) -> None:
        async with self.store.session() as s:
            page = await list_threads(s, agent_id, limit=THREAD_PAGE + 1, after=cursor)
        agent = self.current_agent
        if agent is None or agent.id != agent_id:
            return
        self.threads.add_page(page[:THREAD_PAGE], has_more=len(page) > THREAD_PAGE)

    @work(group="liveness", exclusive=True, exit_on_error=False)
    async def refresh_liveness(self) -> None:
        """The light periodic query: a provider that stops shows as inactive on its own."""
        try:
            async with self.store.session() as s:
                live = await agent_liveness(s, heartbeat_timeout=self.heartbeat_timeout)
        except StoreError:
            return
        if self.agents.update_liveness(live):
            self.refresh_status()

    # --- sending ------------------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def _submitted(self, event: ChatInput.Submitted) -> None:
        text = event.text
        if not text.strip():
            return
        if text.startswith("/"):
            await self.run_slash(text.strip())
            return
        await self.send(text)

    async def send(self, text: str | None) -> None:
        """Send ``text`` (None: regenerate the last reply) and stream the answer."""
        agent = self.current_agent
        if agent is None:
            self.notify("add an agent first (Ctrl+P → New agent)", severity="warning")
            return
        if self.streaming:
            self.notify("a reply is still streaming (Esc cancels it)", severity="warning")
            return
        if agent.kind == LlmKind.VIRTUAL and agent.status != LlmStatus.ACTIVE:
            # The typed message stays in the input.
            self.say(
                f"publisher offline: {agent.llm_name} is {agent.status.value}",
                severity="error",
            )
            return
        if text is None and self.thread_id is None:
            return
        if text is not None:
            self.chat_input.consume(text)
        self.chat.anchor()  # sending brings the operator back to the bottom
        if text is not None:
            await self.chat.add(UserTurn(None, text=text))
        else:
            await self.chat.drop_after_last_user()
        turn = AssistantTurn(None, personality=self.personality_label())
        await self.chat.add(turn)
        self.reply_turn = turn
        self.reply_stream = ReplyMarkdown.get_stream(turn.markdown)
        self.stats = ReplyStats(state="streaming")
        self.refresh_status()
        _gc_while_streaming()
        personality = self.personality_choice
        overrides = ChatOverrides(system=self.system_replace, params=dict(self.overrides))
        if text is None:
            assert self.thread_id is not None
            events = self.backend.regenerate(
                self.thread_id, personality=personality, overrides=overrides
            )
        else:
            events = self.backend.send(
                agent.id,
                text,
                thread_id=self.thread_id,
                personality=personality,
                overrides=overrides,
            )
        self.run_reply(events, turn, self.reply_stream, text)

    @work(group="reply", exclusive=True, exit_on_error=False)
    async def run_reply(
        self,
        events: AsyncIterator[ChatEvent],
        turn: AssistantTurn,
        stream: CoalescingMarkdownStream,
        sent_text: str | None,
    ) -> None:
        started = time.monotonic()
        tool_calls: dict[int, dict[str, Any]] = {}
        ended: TurnEnded | None = None
        failure: str | None = None
        status = MessageStatus.CANCELLED  # unless the engine says how it ended
        began = False  # the engine stored the user turn (TurnStarted)
        try:
            async for event in events:
                match event:
                    case TextDelta(text=t):
                        if self.stats.ttft_ms is None:
                            self.stats.ttft_ms = (time.monotonic() - started) * 1000
                        await stream.write(clean(t))
                    case TurnStarted() as ts:
                        began = True
                        self.thread_id = ts.thread_id
                        turn.model = ts.model or None
                        turn.personality = ts.personality
                        turn.set_status(MessageStatus.PENDING)
                        if ts.new_thread:
                            self.set_thread_title(ts.thread_title)
                            # Listed (and highlighted) now, not when a slow reply ends.
                            self.refresh_thread_list()
                    case ToolCallDelta(index=i, id=cid, name=name, arguments=args):
                        call = tool_calls.setdefault(
                            i,
                            {
                                "id": "",
                                "type": "function",
                                "function": {"name": "", "arguments": ""},
                            },
                        )
                        if cid:
                            call["id"] = cid
                        if name:
                            call["function"]["name"] += name
                        call["function"]["arguments"] += args
                    case Usage(input_tokens=inp, output_tokens=out):
                        self.stats.input_tokens = inp
                        self.stats.output_tokens = out
                    case TurnEnded() as te:
                        ended = te
                        status = te.status
                    case _:
                        pass
        except (ChatError, StoreError) as exc:
            status, failure = MessageStatus.ERROR, str(exc)
        except Exception as exc:  # a bug below us: show it on the turn, never crash
            status, failure = MessageStatus.ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            # Ended before the engine stored the user turn: refused (unknown personality,
            # agent gone …), the store failed (locked, read only), or Esc while the write
            # waited. Nothing was written: the text goes back to the input, the turns
            # shown for it come off below.
            refused = not began
            if refused and sent_text is not None:
                self.chat_input.restore(sent_text)
            # Runs on Esc too (the worker is cancelled): close the engine's generator so
            # it stores the turn as cancelled; the partial reply stays on screen, marked.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    pass
            await self._end_reply(turn, stream, status, ended, failure, tool_calls, sent_text)
            if refused:
                await self._show_stored()

    async def _show_stored(self) -> None:
        """The chat as stored, after a refused send or regenerate: the user turn shown for
        it was never written (and its text is back in the input), and a regenerate took
        the reply it would replace off the screen, though it is still there."""
        if self.thread_id is None:
            await self.start_new_thread()
        else:
            await self._open_thread(self.thread_id)

    async def _end_reply(
        self,
        turn: AssistantTurn,
        stream: CoalescingMarkdownStream,
        status: MessageStatus,
        ended: TurnEnded | None,
        failure: str | None,
        tool_calls: dict[int, dict[str, Any]],
        sent_text: str | None,
    ) -> None:
        text = await stream.close()
        if not text:
            turn.markdown.display = False
        calls = ended.tool_calls if ended and ended.tool_calls else None
        if calls is None and tool_calls:
            calls = [tool_calls[i] for i in sorted(tool_calls)]
        if calls:
            await turn.set_tool_calls(calls)
        # The error as stored, shown as a reloaded turn shows it: the kind is not stored,
        # and the message names what went wrong already ("HTTP 429 …", "publisher offline").
        message = ended.error if ended is not None and ended.error else failure
        turn.set_status(status, message)
        if ended is not None:
            self.stats.input_tokens = ended.input_tokens
            self.stats.output_tokens = ended.output_tokens
            self.stats.ttft_ms = ended.ttft_ms
            self.stats.tokens_per_s = ended.tokens_per_s
        self.stats.state = {
            MessageStatus.COMPLETE: "done",
            MessageStatus.CANCELLED: "cancelled",
            MessageStatus.ERROR: "error",
        }.get(status, "")
        self.refresh_status()
        if message is not None:
            self.say(message, title="Reply failed", severity="error")
            offline = ended is not None and ended.error_kind == ErrorKind.OFFLINE
            if offline and sent_text is not None and not text:
                # Nothing typed is lost: the publisher never answered it. Once part of a
                # reply came (the provider died mid-stream) it was delivered: not again.
                self.chat_input.restore(sent_text)
        self.reply_stream = None
        self.reply_turn = None
        self.refresh_thread_list()
        gc.set_threshold(*GC_THRESHOLDS)
        self.set_timer(0.2, _collect_and_freeze)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) == 1:
            return True
        if action == "command_palette":  # over the palette itself: Textual's own business
            return isinstance(self.screen, CommandPalette)
        return action not in MAIN_SCREEN_ACTIONS

    async def action_quit(self) -> None:
        # Ctrl+Q works over an editor too: a long form is not thrown away without asking.
        if any(isinstance(s, EditorScreen) and s.unsaved for s in self.screen_stack):
            message = Content("The changes in the open form are not saved.")
            confirm = ConfirmScreen(Content("Quit without saving?"), message, yes="Quit")

            async def answered(yes: bool | None) -> None:
                if yes:
                    await self._quit_settled()

            self.push_screen(confirm, answered)
            return
        await self._quit_settled()

    async def _quit_settled(self) -> None:
        # Stop the reply (it stores itself as cancelled) and give the store work in flight a
        # moment to finish, so what it was writing is not cut off by the exit.
        self.workers.cancel_group(self, "reply")
        waiters = [asyncio.ensure_future(_settled(w)) for w in self.workers if w.is_running]
        if waiters:
            _done, late = await asyncio.wait(waiters, timeout=QUIT_GRACE_SECONDS)
            for waiter in late:
                waiter.cancel()
        self.exit()

    def action_cancel_reply(self) -> None:
        if self.streaming:
            self.workers.cancel_group(self, "reply")

    async def action_regenerate(self) -> None:
        if self.thread_id is None or self.chat.last_assistant() is None:
            self.notify("nothing to regenerate", severity="warning")
            return
        await self.send(None)

    @work(group="threads-refresh", exclusive=True, exit_on_error=False)
    async def refresh_thread_list(self) -> None:
        agent = self.current_agent
        if agent is None:
            return
        async with self.store.session() as s:
            threads = await list_threads(s, agent.id, limit=THREAD_PAGE + 1)
        self.threads.set_threads(threads[:THREAD_PAGE], has_more=len(threads) > THREAD_PAGE)
        self._highlight_open_thread()

    def _highlight_open_thread(self) -> None:
        if self.thread_id is not None:
            idx = self.threads.index_of(self.thread_id)
            if idx is not None:
                with self.threads.prevent(OptionList.OptionHighlighted):
                    self.threads.highlighted = idx

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.say(f"{type(err).__name__}: {err}", severity="error")

    # --- slash commands ---------------------------------------------------------------

    async def run_slash(self, line: str) -> None:
        """Run one slash command. A refusal (bad value, agent or thread gone, a rule of
        the database) is a notification; the line stays in the input to fix."""
        try:
            await self._run_slash(line)
        except (ChatError, StoreError) as exc:
            self.say(str(exc), severity="error")

    async def _run_slash(self, line: str) -> None:
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        match cmd:
            case "/set":
                key, _, raw = rest.partition(" ")
                if not key or not raw.strip():
                    self.notify("usage: /set KEY VALUE", severity="warning")
                    return
                try:
                    value: Any = json.loads(raw)
                except ValueError:
                    value = raw.strip()
                check_params({key: value})  # refused now, not at the next send or /save
                self.overrides[key] = value
            case "/unset":
                self.overrides.pop(rest, None)
            case "/system":
                self.system_replace = rest or None
            case "/clear":
                await self.start_new_thread()
            case "/save":
                # As in the REPL: the session's parameter overrides become the agent's
                # defaults; with TITLE the thread is renamed too.
                agent = self.current_agent
                if agent is None:
                    return
                if self.overrides:
                    params = await self.backend.save_overrides(
                        agent.id, ChatOverrides(params=dict(self.overrides))
                    )
                    self.overrides.clear()
                    self.say(f"saved to {agent.name}: {json.dumps(params)}")
                    self.load_agents(select_id=agent.id, keep_chat=True)
                if rest and self.thread_id is not None:
                    async with self.store.transaction() as s:
                        await rename_thread(s, self.thread_id, rest)
                    self.set_thread_title(rest)
                    self.refresh_thread_list()
                    self.say(f"thread renamed: {rest}")
                elif not self.overrides and not rest:
                    self.notify("nothing to save (no /set overrides)", severity="warning")
            case "/personality":
                names = self.personalities.values
                if rest in ("none", ""):
                    self.personality_choice = NO_PERSONALITY
                elif rest in names:
                    self.personality_choice = rest
                else:
                    self.say(f"no personality {rest}", severity="error")
                    return
                if self.personality_choice in names:
                    with self.personalities.prevent(OptionList.OptionHighlighted):
                        self.personalities.highlighted = names.index(self.personality_choice)
            case "/help":
                self.push_screen(HelpScreen())
            case _:
                self.say(f"unknown command {cmd} (try /help)", severity="error")
                return
        self.chat_input.consume(line)
        self.refresh_status()

    # --- jumps (palette) -------------------------------------------------------------

    def jump_to_agent(self, agent_id: int) -> None:
        self.personality_choice = None
        self.load_agents(select_id=agent_id)

    def jump_to_thread(self, agent_id: int, thread_id: int) -> None:
        self.personality_choice = None
        self.load_agents(select_id=agent_id, thread_id=thread_id)

    # --- editors -------------------------------------------------------------------

    async def editor_choices(self, agent_name: str | None) -> Choices:
        from mcpctl_tui.llm.registry import known_types

        async with self.store.session() as s:
            llms = [d.doc.name for d in await get_objects(s, Kind.LLM)]
            projects = [d.doc.name for d in await get_objects(s, Kind.PROJECT)]
            agents = [r.name for r in await list_agent_rows(s)]
            pers: list[str] = []
            if agent_name:
                pers = [
                    d.doc.name for d in await get_objects(s, Kind.PERSONALITY, agent=agent_name)
                ]
        return Choices(known_types(), llms, projects, agents, pers)

    async def action_edit(self, kind_name: str, which: str | None) -> None:
        """Open the editor for a new object (``which`` None), the selected one
        (``"current"``), or one by name (``"NAME"``; a prompt or personality
        ``"NAME@AGENT"``, else the selected agent's)."""
        kind = Kind(kind_name)
        agent = self.current_agent
        owner = agent.name if agent else None
        if which is None:
            await self.open_editor(kind, None)
            return
        if which == "current":
            name: str | None = None
            if kind is Kind.LLM and agent:
                name = agent.llm_name
            elif kind is Kind.AGENT and agent:
                name = agent.name
            elif kind is Kind.PERSONALITY and self.personalities.current != NO_PERSONALITY:
                name = self.personalities.current
            if not name:
                self.notify(f"no {kind.value} selected", severity="warning")
                return
        else:
            name, _, at = which.partition("@")
            owner = at or owner
        scoped = kind in (Kind.PERSONALITY, Kind.PROMPT)
        await self.open_editor(kind, name, agent=owner if scoped else None)

    async def open_editor(
        self,
        kind: Kind,
        name: str | None,
        *,
        agent: str | None = None,
        project: str | None = None,
        delete: bool = False,
    ) -> None:
        """The editor of a new object (``name`` None) or of one named ``name``: a prompt
        in exactly the scope given (``agent``, ``project``, or neither: the global one),
        a personality of ``agent``. ``delete``: go straight to its delete confirmation."""
        if len(self.screen_stack) > 1:
            return
        selected = self.current_agent
        doc = None
        if name is not None:
            try:
                async with self.store.session() as s:
                    found = await get_objects(s, kind, name, agent=agent, project=project)
            except StoreError as exc:
                self.say(str(exc), severity="error")
                return
            if kind is Kind.PROMPT:  # the global one is the one with neither owner
                found = [e for e in found if _prompt_scope(e.doc) == (agent, project)]
                if not found:
                    self.say(f"prompt {name} not found (global)", severity="error")
                    return
            doc = found[0].doc
        # Personalities offered as an agent's default are that agent's own: none yet for
        # a new agent. A new personality belongs to the selected agent unless changed.
        editing_agent = doc.name if kind is Kind.AGENT and doc is not None else None
        choices = await self.editor_choices(editing_agent)
        defaults = {"agent": selected.name} if kind is Kind.PERSONALITY and selected else {}
        editor = EditorScreen(self.store, kind, doc, choices, defaults=defaults, delete=delete)

        async def done(result: str | None) -> None:
            if not result:
                return
            self.say(result)
            if editor.deleted and isinstance(doc, PersonalityDoc) and self._is_chosen(doc):
                self.personality_choice = None  # gone on purpose: no "has no …" warning
            if kind is Kind.AGENT and doc is None and editor.saved is not None:
                self.load_agents(select_name=editor.saved.name)  # a new agent: go to it
            else:
                self.load_agents(select_id=selected.id if selected else None, keep_chat=True)

        self.push_screen(editor, done)

    def _is_chosen(self, doc: PersonalityDoc) -> bool:
        agent = self.current_agent
        return agent is not None and (agent.name, self.personality_choice) == (doc.agent, doc.name)

    async def action_delete_agent(self) -> None:
        agent = self.current_agent
        if agent is None:
            self.notify("no agent selected", severity="warning")
            return
        await self.open_editor(Kind.AGENT, agent.name, delete=True)

    # --- thread actions ------------------------------------------------------------------

    async def action_new_thread(self) -> None:
        await self.start_new_thread()
        self.chat_input.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def _no_thread(self) -> bool:
        """True (and said) when no stored thread is open: a new one exists once sent."""
        if self.thread_id is None:
            self.notify("no thread yet: send a message first", severity="warning")
            return True
        return False

    def action_rename_thread(self) -> None:
        if len(self.screen_stack) > 1 or self._no_thread():
            return
        tid = self.thread_id
        assert tid is not None

        async def done(title: str | None) -> None:
            if title is None:
                return
            title = title.strip()
            if not title:  # an empty title showed as "new thread" on an old one
                self.notify("a thread title cannot be empty: not renamed", severity="warning")
                return
            try:
                async with self.store.transaction() as s:
                    await rename_thread(s, tid, title)
            except StoreError as exc:
                self.say(str(exc), severity="error")
                return
            if tid == self.thread_id:
                self.set_thread_title(title)
            self.refresh_thread_list()

        self.push_screen(AskScreen(Content("Rename thread"), self.thread_title), done)

    async def action_delete_thread(self) -> None:
        if len(self.screen_stack) > 1 or self._no_thread():
            return
        tid, title = self.thread_id, self.thread_title
        assert tid is not None
        try:
            async with self.store.session() as s:
                n = await thread_size(s, tid)
        except StoreError as exc:
            self.say(str(exc), severity="error")
            return
        msg = Content.assemble(
            "Delete the thread ",
            literal(title, "bold"),
            f" and its {n} turn{'s' if n != 1 else ''}? This cannot be undone.",
        )

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                async with self.store.transaction() as s:
                    await delete_thread(s, tid)
            except StoreError as exc:
                self.say(str(exc), severity="error")
                return
            self.say(f"deleted thread {title} ({n} turns)")
            if tid == self.thread_id:
                await self.start_new_thread()
            self.refresh_thread_list()

        self.push_screen(ConfirmScreen(Content("Delete thread"), msg), done)

    def action_export_thread(self) -> None:
        if len(self.screen_stack) > 1 or self._no_thread():
            return
        assert self.thread_id is not None
        self._ask_export(self.thread_id, f"thread-{self.thread_id}.md")

    def _ask_export(self, tid: int, value: str) -> None:
        """Ask where to export; a path that fails (no such directory …) is asked again,
        as typed, so the operator fixes it instead of typing it over."""

        async def write(target: Path) -> None:
            if not await self.export_thread(tid, target):
                self._ask_export(tid, str(target))

        async def done(path: str | None) -> None:
            if not path or not path.strip():
                return
            target = Path(path.strip())
            if not await asyncio.to_thread(_file_exists, target):
                await write(target)
                return

            async def overwrite(yes: bool | None) -> None:
                if yes:
                    await write(target)

            # An export is one keystroke from replacing a file the operator keeps.
            message = Content.assemble(literal(str(target), "bold"), " exists. Replace it?")
            self.push_screen(
                ConfirmScreen(Content("Export thread"), message, yes="Replace"), overwrite
            )

        self.push_screen(
            AskScreen(Content("Export thread to (.md or .json)"), value, "thread.md"), done
        )

    async def export_thread(self, thread_id: int, path: Path) -> bool:
        """Write the thread to ``path`` (.json: JSON, else Markdown). False when the file
        could not be written, which another path may fix; failures are notified."""
        try:
            async with self.store.session() as s:
                thread = await get_thread(s, thread_id)
                rows = await all_messages(s, thread_id)
        except StoreError as exc:
            self.say(str(exc), severity="error")
            return True  # the thread is gone: another path would not help
        title = thread.title
        if path.suffix == ".json":
            data = thread_to_json(title, thread_id, rows)
        else:
            data = thread_to_markdown(title, rows)
        try:
            await asyncio.to_thread(_write_file, path, data)
        except OSError as exc:
            self.say(f"export failed: {exc}", severity="error")
            return False
        self.say(f"exported {len(rows)} turns to {path}")
        return True

    def action_select_turn(self, step: int) -> None:
        if self.chat.select_step(step) is None:
            self.notify("no messages in this thread", severity="warning")

    def action_copy_reply(self) -> None:
        """Copy the chosen message (Alt+Up/Down or a click), else the last reply."""
        chosen = self.chat.selected
        turn = chosen if chosen is not None else self.chat.last_assistant()
        if turn is None:
            self.notify("no message to copy", severity="warning")
            return
        self.copy_to_clipboard(turn.plain_text())
        self.notify("message copied" if chosen is not None else "reply copied")

    def action_copy_code(self) -> None:
        chosen = self.chat.selected
        turn = chosen if chosen is not None else self.chat.last_assistant()
        code = _last_code_block(turn.plain_text()) if turn else None
        if code is None:
            where = "the chosen message" if chosen is not None else "the last reply"
            self.notify(f"no code block in {where}", severity="warning")
            return
        self.copy_to_clipboard(code)
        self.notify("code block copied")


async def _settled(worker: Worker[Any]) -> None:
    with contextlib.suppress(WorkerCancelled, WorkerFailed):
        await worker.wait()


def _gc_while_streaming() -> None:
    """While a reply streams, collect only what the reply made, in small steps.

    A full collection is a 50-300 ms hitch, so it waits for the reply's end. But the
    reply's garbage must not wait: each update leaves the widgets it was parsed into, and
    widgets are cycles (15 MB over an 8,000-chunk reply with collection off). Freezing
    what exists now keeps it out of the scans; a small young generation (and the second
    one every 20 of those) keeps each pause to 1-2 ms, at worst ~13 ms (measured).
    """
    gc.freeze()  # what exists now is not the reply's garbage: don't scan it meanwhile
    gc.set_threshold(GC_STREAMING_YOUNG, 20, 1 << 30)


def _collect_and_freeze() -> None:
    """Unfreeze, drop cyclic garbage (removed widgets are cycles), freeze what lives on.

    Frozen objects are never collected, so this runs after every reply and periodically
    while idle: widgets of threads browsed away from are freed, not leaked."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _prompt_scope(doc: Document) -> tuple[str | None, str | None]:
    return (doc.agent, doc.project) if isinstance(doc, PromptDoc) else (None, None)


def _file_exists(path: Path) -> bool:
    return path.expanduser().exists()


def _write_file(path: Path, data: str) -> None:
    path.expanduser().write_text(data, encoding="utf-8")


def _last_code_block(text: str) -> str | None:
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
