"""The chat panel: the open thread, the message box, the status line, and the reply.

``state`` (a ``ChatState``) is the chat being edited; the main screen sets it when the
operator picks an agent or a thread, the panel when a send opens a thread or a slash
command changes a setting, and the status line, the title and the side panes follow it.
A reply runs in the panel's ``reply`` worker: Esc cancels that worker, which stores the
turn as cancelled with its partial text. A send the engine refused before storing
anything gives the text back to the message box; whether a send may go (an offline
publisher, a key reference that does not resolve) is the engine's one rule
(``ChatService.admit``), not judged here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import WorkerState

from mcpctl_tui.chat import commands
from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.events import ChatEvent, TurnStarted
from mcpctl_tui.ui import memory
from mcpctl_tui.ui.backend import ChatBackend
from mcpctl_tui.ui.chat.front import PanelFront
from mcpctl_tui.ui.chat.input import ChatInput
from mcpctl_tui.ui.chat.reply import Reply, ReplyEnd, live_turns
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
from mcpctl_tui.ui.chat.turns import AssistantTurn, UserTurn
from mcpctl_tui.ui.chat.view import PAGE, WINDOW, ChatView
from mcpctl_tui.ui.data import NotFound, StoreError, TurnRow, UiData
from mcpctl_tui.ui.state import ChatState, ReplyStats
from mcpctl_tui.ui.status import StatusLine
from mcpctl_tui.ui.text import literal, say

SYNC_LIMIT = 200  # turns read to catch up with the store; more: the thread is read afresh
STORE_RETRY_FIRST, STORE_RETRY_MAX = 0.5, 8.0  # seconds between sends to a store away
STORE_AWAY = "the store (unavailable; message kept, Esc gives it back)"
NEW_THREAD = Content.styled("New thread: type a message below and press Enter.", "dim")
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


class ChatPanel(Vertical):
    state: reactive[ChatState] = reactive(ChatState, init=False)
    stats: reactive[ReplyStats] = reactive(ReplyStats, init=False)

    class ThreadsChanged(Message):
        """The agent's thread list changed (a thread was stored, renamed or answered)."""

    def __init__(self, data: UiData, backend: ChatBackend, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = data
        self.backend = backend
        self.reply: Reply | None = None  # the reply streaming now
        self._prompts: list[str] | None = None  # the open thread's questions, newest first
        self._recall_at = -1  # which of them the message box shows (-1: none)
        self._branched = False  # the reply streaming began a branch

    def compose(self) -> ComposeResult:
        yield Static("", id="thread-title")
        yield ChatView(id="chat")
        yield ChatInput(id="input")
        yield StatusLine(id="status").data_bind(ChatPanel.state, ChatPanel.stats)

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)

    @property
    def chat_input(self) -> ChatInput:
        return self.query_one(ChatInput)

    @property
    def reply_stream(self) -> CoalescingMarkdownStream | None:
        """The streaming reply's Markdown stream (None when no reply streams)."""
        return self.reply.stream if self.reply is not None else None

    @property
    def streaming(self) -> bool:
        return any(
            w.group == "reply" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    def watch_state(self, old: ChatState, new: ChatState) -> None:
        if old.thread_id != new.thread_id:
            self._prompts = None
        if (old.thread_id, old.title, old.deleted) != (
            new.thread_id,
            new.title,
            new.deleted,
        ) or old.agent != new.agent:
            self._show_title(new)

    def _show_title(self, state: ChatState) -> None:
        if state.agent is None:
            label = Content.styled("Welcome", "bold")
        elif state.deleted:
            label = Content.assemble(
                literal(state.title, "bold strike"),
                ("  deleted: Ctrl+N for a new thread", "$warning"),
            )
        elif state.title:
            label = literal(state.title, "bold")
        else:
            label = Content.styled("new thread", "dim italic")
        self.query_one("#thread-title", Static).update(label)

    # --- what the chat shows ------------------------------------------------------------

    async def show_welcome(self) -> None:
        """An empty store: what to do first."""
        self.state = ChatState()
        self._show_title(self.state)
        await self.chat.show_empty(Content.from_markup(WELCOME))

    async def start_new_thread(self) -> None:
        self.state = self.state.in_thread(None)
        self._forget_reply_stats()
        await self.chat.show_empty(NEW_THREAD)

    async def show_thread(
        self, thread_id: int, *, at_turn: int | None = None, on_branch: bool = False
    ) -> bool:
        """Show the newest turns of ``thread_id``, or with ``at_turn`` the window around
        that turn, picked (on another branch: that branch is shown); False (and said) if
        it cannot be read."""
        around: list[TurnRow] | None = None
        try:
            window = await self.data.thread_window(thread_id, WINDOW)
            shown = window.turns[0].turn_index if window.turns else 0
            if at_turn is not None and at_turn < shown:  # older than the newest window
                first = max(0, at_turn - PAGE // 2)
                around = await self.data.turns_from(thread_id, first, PAGE + 1)
        except StoreError as exc:
            say(self, str(exc), severity="error")
            return False
        self.state = self.state.in_thread(thread_id, window.title)
        self._forget_reply_stats()
        if around is None:
            await self.chat.show(window.turns, has_older=window.has_older)
        else:
            older = bool(around) and around[0].turn_index > 0
            await self.chat.show(around[:PAGE], has_older=older, has_newer=len(around) > PAGE)
        found = next((t for t in self.chat.turns if t.turn_index == at_turn), None)
        if at_turn is not None and found is None and not on_branch:
            # Not in the window around it: the turn is on another branch. Shown, it
            # becomes the current path (for every reader: a write, refused read-only).
            try:
                await self.data.show_turn(thread_id, at_turn)
            except NotFound as exc:
                say(self, str(exc), severity="warning")
                return True
            except StoreError as exc:
                say(self, f"turn {at_turn} is on another branch: {exc}", severity="warning")
                return True
            return await self.show_thread(thread_id, at_turn=at_turn, on_branch=True)
        if found is not None:
            self.chat.release_anchor()
            self.chat.call_after_refresh(self.chat.select, found)
        return True

    @work(group="thread", exclusive=True, exit_on_error=False)
    async def open_thread(self, thread_id: int) -> None:
        await self.show_thread(thread_id)

    def _forget_reply_stats(self) -> None:
        """The last reply's figures were about the thread left: not shown under another."""
        if not self.streaming:
            self.stats = ReplyStats()

    async def sync_thread(self) -> None:
        """Show what the store holds now for the open thread: turns another process added
        or finished, in order; a thread deleted meanwhile is said, and sends refused."""
        tid = self.state.thread_id
        if tid is None or self.state.deleted or self.chat.has_newer:
            return  # (a window away from the end gets newer turns as it slides down)
        first = self.chat.sync_from()
        # The last stored turn shown is read too: not on the path any more, a branch was
        # chosen elsewhere (another operator, a `chat --edit`), and the thread is read afresh.
        probe = self.chat.last_stored_before(first)
        try:
            rows = await self.data.turns_from(
                tid, first if probe is None else probe, SYNC_LIMIT + 2
            )
        except NotFound:
            if tid == self.state.thread_id:
                self.state = replace(self.state, deleted=True)
                say(self, f"thread {self.state.title} was deleted", severity="warning")
            return
        if tid != self.state.thread_id:
            return
        if probe is not None:
            if not rows or rows[0].turn_index != probe:
                if not self.streaming:
                    await self.show_thread(tid)
                return
            rows = rows[1:]
        if len(rows) > SYNC_LIMIT and not self.streaming:  # far behind: read it afresh
            await self.show_thread(tid)
            return
        await self.chat.sync(rows, first, live_turns(self.reply))

    @on(ChatView.NeedOlder)
    def _need_older(self, event: ChatView.NeedOlder) -> None:
        if self.state.thread_id is not None:
            self.load_older(self.state.thread_id, event.before_turn, event.generation)

    @on(ChatView.NeedNewer)
    def _need_newer(self, event: ChatView.NeedNewer) -> None:
        if self.state.thread_id is not None:
            self.load_newer(self.state.thread_id, event.after_turn, event.generation)

    # Not exclusive: cancelling a page half mounted would leave a gap in the window (the
    # view asks for one page at a time, and drops a page meant for a window since replaced).
    @work(group="newer", exit_on_error=False)
    async def load_newer(self, thread_id: int, after_turn: int, generation: int) -> None:
        rows = await self.data.turns_from(thread_id, after_turn + 1, PAGE + 1)
        if thread_id == self.state.thread_id:
            await self.chat.append_page(
                rows[:PAGE], has_newer=len(rows) > PAGE, generation=generation
            )

    @on(ChatView.Jump)
    def _jump(self, event: ChatView.Jump) -> None:
        if self.state.thread_id is not None:
            self.jump(self.state.thread_id, to_start=event.to_start)

    @work(group="thread", exclusive=True, exit_on_error=False)
    async def jump(self, thread_id: int, *, to_start: bool) -> None:
        """Home: the thread from its first turn; End: its newest turns, followed."""
        if not to_start:
            await self.show_thread(thread_id)
            return
        rows = await self.data.turns_from(thread_id, 0, PAGE + 1)
        if thread_id == self.state.thread_id:
            await self.chat.show(rows[:PAGE], has_older=False, has_newer=len(rows) > PAGE)

    @work(group="older", exit_on_error=False)
    async def load_older(self, thread_id: int, before_turn: int, generation: int) -> None:
        turns, has_older = await self.data.older_turns(thread_id, before_turn, PAGE)
        if thread_id == self.state.thread_id:
            await self.chat.prepend(turns, has_older=has_older, generation=generation)

    # --- sending ----------------------------------------------------------------------------

    @on(ChatInput.Submitted)
    async def _submitted(self, event: ChatInput.Submitted) -> None:
        if not event.text.strip():
            return
        try:
            command = commands.parse(event.text)
        except ChatError as exc:  # the line stays in the box, to fix
            say(self, str(exc), severity="error")
            return
        if isinstance(command, commands.SendText):
            await self.send(command.text, typed=event.text, edit_turn=event.edit_turn)
            return
        try:
            done = await self._run_command(command)
        except (ChatError, StoreError) as exc:
            say(self, str(exc), severity="error")
            return
        if done:
            self.chat_input.consume(event.text)

    @on(ChatInput.Recall)
    async def _recall(self, event: ChatInput.Recall) -> None:
        """Up and Down walk the thread's earlier questions, newest first."""
        tid = self.state.thread_id
        if self._prompts is None:
            self._prompts = await self.data.prompts(tid) if tid is not None else []
            self._recall_at = -1
        at = self._recall_at - event.step
        if at >= len(self._prompts):
            self.app.bell()
            return
        self._recall_at = max(at, -1)
        self.chat_input.recall(self._prompts[at] if at >= 0 else "")

    async def send(
        self,
        text: str | None,
        *,
        typed: str | None = None,
        edit_turn: int | None = None,
        at_turn: int | None = None,
    ) -> None:
        """Send ``text`` (None: answer a question again) and stream the reply.
        ``typed``: the line as it stands in the message box, taken out once sent.
        A branch starts with ``edit_turn`` (``text`` asked in place of that question) or
        ``at_turn`` (that reply answered again; None: the last question's)."""
        agent = self.state.agent
        if agent is None:
            self.notify("add an agent first (Ctrl+P → New agent)", severity="warning")
            return
        if self.streaming:
            waiting = self.stats.waiting == STORE_AWAY
            said = "a message waits for the store" if waiting else "a reply is still streaming"
            self.notify(f"{said} (Esc cancels it)", severity="warning")
            return
        if self.state.deleted:
            self.notify(
                "this thread was deleted meanwhile: Ctrl+N starts a new one", severity="warning"
            )
            return
        thread_id = self.state.thread_id
        if text is None and thread_id is None:
            return
        branch_at = edit_turn if edit_turn is not None else at_turn
        if branch_at is not None and thread_id is not None:
            await self.chat.drop_from(branch_at)  # the turns that leave the path
        elif self.chat.has_newer and thread_id is not None:
            await self.show_thread(thread_id)  # a send goes at the end: show it
        if text is not None:
            self.chat_input.consume(typed if typed is not None else text)
            self.chat_input.end_edit()
            self._prompts = None  # the question sent is the newest now
        self.chat.anchor()  # sending brings the operator back to the bottom
        asked = UserTurn(None, text=text) if text is not None else None
        if asked is not None:
            await self.chat.add(asked)
        elif at_turn is None:
            await self.chat.drop_after_last_user()
        turn = AssistantTurn(None, personality=self.state.personality_label)
        await self.chat.add(turn)
        self.reply = Reply(turn, self, asked=asked)
        memory.reply_started()
        settings = self.state.settings

        def events() -> AsyncIterator[ChatEvent]:
            if text is None:
                assert thread_id is not None
                return self.backend.regenerate(
                    thread_id,
                    personality=settings.personality,
                    overrides=settings.overrides,
                    at_turn=at_turn,
                )
            return self.backend.send(
                agent.id,
                text,
                thread_id=thread_id,
                personality=settings.personality,
                overrides=settings.overrides,
                edit_turn=edit_turn,
            )

        self.run_reply(self.reply, events, typed if typed is not None else text)

    async def regenerate(self) -> None:
        """Answer again the reply chosen in the chat (while the chat has focus), else the
        last question; the reply answered stays, on its own branch."""
        if self.state.thread_id is None or self.chat.last_assistant() is None:
            self.notify("nothing to regenerate", severity="warning")
            return
        chosen = self.chat.selected if self.chat.has_focus else None
        if isinstance(chosen, AssistantTurn) and chosen.row is not None:
            await self.send(None, at_turn=chosen.row.turn_index)
        else:
            await self.send(None)

    @on(ChatView.BranchStep)
    def _branch_step(self, event: ChatView.BranchStep) -> None:
        if self.state.thread_id is None:
            return
        if self.streaming:
            self.notify("a reply is streaming: switch branches once it ends", severity="warning")
            return
        self.step_branch(self.state.thread_id, event.turn_index, event.step)

    @work(group="thread", exclusive=True, exit_on_error=False)
    async def step_branch(self, thread_id: int, turn_index: int, step: int) -> None:
        try:
            shown = await self.data.step_branch(thread_id, turn_index, step)
        except StoreError as exc:
            say(self, str(exc), severity="error")
            return
        if shown is None:
            self.app.bell()  # the first (last) branch already
            return
        await self.show_thread(thread_id, at_turn=shown)

    @on(ChatView.EditTurn)
    def _edit_turn(self, event: ChatView.EditTurn) -> None:
        self.chat_input.begin_edit(event.turn_index, event.text)
        self.chat_input.focus()

    def cancel(self) -> None:
        if self.streaming:
            self.workers.cancel_group(self, "reply")

    @work(group="reply", exclusive=True, exit_on_error=False)
    async def run_reply(
        self, reply: Reply, events: Callable[[], AsyncIterator[ChatEvent]], sent: str | None
    ) -> None:
        """Run the reply; a store that is away before the send wrote anything is waited
        for (backing off, the question on screen and in memory) and the same send goes
        when it is back: in order, since nothing else is sent meanwhile, and once, since
        only a send that cannot have landed is tried again (``StoreUnavailable``)."""
        delay, since = STORE_RETRY_FIRST, time.monotonic()
        try:
            while True:
                await reply.run(events())
                if reply.end is None or not reply.end.store_away:
                    break
                self.stats = ReplyStats(state="store unavailable", waiting=STORE_AWAY, since=since)
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX)
                reply = self.reply = reply.again()
                reply.stats = self.stats  # still waiting, until something comes back
        finally:  # on Esc too: the reply ended (cancelled) before the worker stops
            end = reply.end
            if end is not None and end.store_away:  # Esc while waiting: the text back
                say(self, f"not sent: {end.error}", severity="warning")
                self.stats = ReplyStats(state="not sent")
                end = replace(end, error=None)
            if end is not None:
                await self._reply_ended(end, sent)

    # ReplyHost: what the live reply reports.

    def reply_started(self, started: TurnStarted) -> None:
        title = started.thread_title if started.new_thread else self.state.title
        self.state = self.state.in_thread(started.thread_id, title)
        self._branched = bool(started.replaced_message_ids)
        if started.new_thread:  # listed (and highlighted) now, not when a slow reply ends
            self.post_message(self.ThreadsChanged())

    def reply_stats(self, stats: ReplyStats) -> None:
        self.stats = stats

    async def _reply_ended(self, end: ReplyEnd, sent: str | None) -> None:
        self.reply = None
        if end.error is not None:
            say(self, end.error, title="Reply failed", severity="error")
        if sent is not None and end.unanswered:
            # Nothing typed is lost: the engine refused it before storing anything, or
            # the publisher never answered. A reply that came in part was delivered.
            self.chat_input.restore(sent)
        branched, self._branched = self._branched, False
        if not end.began or (branched and not self.chat.has_newer):
            # The chat as stored: the user turn shown was never written, and a branch
            # took turns off the screen; a reply that began a branch shows its ‹i/n›.
            if self.state.thread_id is None:
                await self.start_new_thread()
            else:
                await self.show_thread(self.state.thread_id)
        self.post_message(self.ThreadsChanged())
        memory.reply_ended()
        self.set_timer(0.2, memory.collect_and_freeze)

    # --- slash commands ---------------------------------------------------------------------

    async def _run_command(self, command: commands.Command) -> bool:
        """Run one slash command; False when it did not run (the line stays to fix)."""
        match command:
            case commands.ShowHelp():
                await self.run_action("screen.help")
            case commands.ShowContext():
                await self.run_action("screen.inspect_context")
            case commands.Quit():
                await self.run_action("app.quit")
            case commands.SendText():  # a message: the caller sends it
                return False
            case _:
                said = await commands.run(command, PanelFront(self))
                say(self, said.text, severity="warning" if said.warning else "information")
        return True
