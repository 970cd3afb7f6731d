"""The operator TUI: the app holds the services, the main screen holds the workflow.

``McpctlApp`` opens the store (or takes an open one), builds the chat engine and the
UI's door to the store (``UiData``), and hands them to the ``MainScreen`` it starts on.
What else is app-wide lives here: quitting (a changed form is not thrown away without
asking, a streaming reply is stored as cancelled), the garbage-collector policy, and the
last resort for a worker that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.worker import (
    NoActiveWorker,
    Worker,
    WorkerCancelled,
    WorkerFailed,
    WorkerState,
    get_current_worker,
)

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.types import utcnow
from mcpctl_tui.ui import memory
from mcpctl_tui.ui.backend import ChatBackend
from mcpctl_tui.ui.data import Store, UiData, default_heartbeat_timeout, make_backend, open_store
from mcpctl_tui.ui.readonly import READ_ONLY_LABEL, ReadOnlyBackend
from mcpctl_tui.ui.screens.dialogs import ConfirmScreen
from mcpctl_tui.ui.screens.editors import EditorScreen
from mcpctl_tui.ui.screens.main import MainScreen
from mcpctl_tui.ui.state import StartAt
from mcpctl_tui.ui.text import say

LIVENESS_SECONDS = 5.0
QUIT_GRACE_SECONDS = 2.0


class McpctlApp(App[None]):
    TITLE = "mcpctl-tui"
    # The main screen is the base screen of the app's one mode: Textual 8.2 loads a
    # screen's CSS_PATH when it installs a mode's screen, not for get_default_screen's.
    DEFAULT_MODE = "main"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        store: Store | str,
        backend: ChatBackend | None = None,
        *,
        start: StartAt | None = None,
        clock: Callable[[], datetime] = utcnow,
        liveness_seconds: float = LIVENESS_SECONDS,
        heartbeat_timeout: float | None = None,
        readonly: bool = False,
    ) -> None:
        """``store`` is an open Store, or a URL the app opens (and closes) on its own event
        loop; ``backend`` defaults to a ChatService on the store, owned by the app.
        ``heartbeat_timeout``: a virtual LLM's publisher silent this long shows inactive
        (default: the dispatcher's bound, from the config file). ``readonly``: every write
        is off (``ui.readonly``), and the title says so."""
        super().__init__()
        self.readonly = readonly
        if readonly:
            self.title = f"{self.TITLE} [{READ_ONLY_LABEL}]"
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
        self._data: UiData | None = None
        self._engine: ChatBackend | None = None  # the engine under a read-only wrapper
        self.add_mode(self.DEFAULT_MODE, self._main_screen)

    @property
    def data(self) -> UiData:
        assert self._data is not None, "store not open yet"
        return self._data

    @property
    def backend(self) -> ChatBackend:
        assert self._backend is not None, "store not open yet"
        return self._backend

    async def on_load(self) -> None:
        # Before the default screen is made: it is given what is opened here.
        if self._store is None and self._store_url is not None:
            self._store = await open_store(self._store_url)
        assert self._store is not None
        if self._backend is None:
            self._backend = make_backend(self._store)
        self._engine = self._backend
        if self.readonly:
            self._backend = ReadOnlyBackend(self._backend)
        self._data = UiData(
            self._store, heartbeat_timeout=self.heartbeat_timeout, readonly=self.readonly
        )

    def _main_screen(self) -> Screen[Any]:
        return MainScreen(
            self.data,
            self.backend,
            start=self.start,
            clock=self.clock,
            liveness_seconds=self.liveness_seconds,
        )

    @property
    def main(self) -> MainScreen:
        """The main screen (under any dialog open on it)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def on_mount(self) -> None:
        memory.app_started()
        self.set_interval(memory.IDLE_COLLECT_SECONDS, self._idle_collect)

    async def on_unmount(self) -> None:
        if self._owns_backend and isinstance(self._engine, ChatService):
            await self._engine.aclose()
        if self._store_url is not None and self._store is not None:
            await self._store.close()

    def _idle_collect(self) -> None:
        if not any(w.group == "reply" and w.is_running for w in self.workers):
            memory.collect_and_freeze()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            say(self, f"{type(err).__name__}: {err}", severity="error")

    # --- quitting ---------------------------------------------------------------------------

    async def action_quit(self) -> None:
        # Ctrl+Q works over an editor too: a long form is not thrown away without asking.
        if any(isinstance(s, EditorScreen) and s.unsaved for s in self.screen_stack):
            self.quit_unsaved()
            return
        await self.quit_settled()

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def quit_unsaved(self) -> None:
        message = Content("The changes in the open form are not saved.")
        ask = ConfirmScreen(Content("Quit without saving?"), message, yes="Quit")
        if await self.push_screen_wait(ask):
            await self.quit_settled()

    async def quit_settled(self) -> None:
        """Stop the reply (it stores itself as cancelled) and give the store work in
        flight a moment to finish, so what it was writing is not cut off by the exit."""
        for worker in self.workers:
            if worker.group == "reply":
                worker.cancel()
        me = _this_worker()
        waiters = [
            asyncio.ensure_future(_settled(w)) for w in self.workers if w.is_running and w is not me
        ]
        if waiters:
            _done, late = await asyncio.wait(waiters, timeout=QUIT_GRACE_SECONDS)
            for waiter in late:
                waiter.cancel()
        self.exit()


def _this_worker() -> Worker[Any] | None:
    try:
        return get_current_worker()
    except NoActiveWorker:
        return None


async def _settled(worker: Worker[Any]) -> None:
    with contextlib.suppress(WorkerCancelled, WorkerFailed):
        await worker.wait()
