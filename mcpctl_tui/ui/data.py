"""The UI's one door to the store: opening it, and every read and write a screen needs.

Nothing else in ``ui/`` opens a store session or imports SQLAlchemy or the store's
engine (an import-linter contract checks it). Each method is one short transaction and
returns plain typed rows; refusals arrive as ``StoreError`` with a message fit to show.
Writes that depend on who is live take the configured heartbeat timeout, the bound the
agent list judges by and the chat engine refuses sends by.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.registry import known_types
from mcpctl_tui.store import agents, branches, catalog, messages, overview, threads
from mcpctl_tui.store.agents import AgentRow
from mcpctl_tui.store.changes import Change, watch
from mcpctl_tui.store.deletes import delete_thread
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import NotFound, StoreError, StoreUnavailable
from mcpctl_tui.store.manifest import edit
from mcpctl_tui.store.manifest.apply import Applied, apply_manifest
from mcpctl_tui.store.manifest.delete import Deleted
from mcpctl_tui.store.manifest.documents import Document, Kind, identity, label
from mcpctl_tui.store.manifest.export import dump_yaml, get_objects
from mcpctl_tui.store.messages import Turn as TurnRow
from mcpctl_tui.store.models import Personality
from mcpctl_tui.store.overview import Line, Usage
from mcpctl_tui.store.search import Hit, search_turns
from mcpctl_tui.store.thread_export import thread_to_json, thread_to_markdown
from mcpctl_tui.store.threads import ThreadCursor, ThreadHit, ThreadSummary
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.ui.readonly import ReadOnly, writes
from mcpctl_tui.virtual.dispatch import DispatchOptions

__all__ = [
    "AgentRow",
    "Change",
    "Choices",
    "Hit",
    "Line",
    "NotFound",
    "Page",
    "Personality",
    "ReadOnly",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "ThreadCursor",
    "ThreadHit",
    "ThreadSummary",
    "TurnRow",
    "UiData",
    "Usage",
    "open_store",
]

THREAD_PAGE = 50
PALETTE_THREADS = 2_000  # the newest threads the palette can jump to
SEARCH_PAGE = 50  # hits the search view shows for a query


@dataclass(frozen=True, slots=True)
class Page:
    """Threads of an agent, newest first, and whether older ones exist."""

    threads: list[ThreadSummary]
    has_more: bool


@dataclass(frozen=True, slots=True)
class AgentView:
    personalities: list[Personality]
    threads: Page


@dataclass(frozen=True, slots=True)
class ThreadWindow:
    title: str
    agent_id: int
    turns: list[TurnRow]
    has_older: bool


@dataclass(slots=True)
class Choices:
    """What the editors' selects offer (names from the store)."""

    llm_types: list[str]
    llms: list[str]
    projects: list[str]
    agents: list[str]
    personalities: list[str]  # of the agent being edited


@dataclass(frozen=True, slots=True)
class PaletteIndex:
    """What the command palette searches, read once when it opens."""

    editable: list[tuple[Kind, Document]]
    threads: list[ThreadHit]


def make_backend(store: Store) -> ChatService:
    """The chat engine the app runs on (one per app), for public and virtual LLMs."""
    return ChatService.wired(store)


def default_heartbeat_timeout() -> float:
    """How long a virtual LLM's publisher may be silent before it counts as offline: the
    bound the wired dispatcher refuses sends by (config file, else the default), so an
    agent shows inactive exactly when a send to it would be refused."""
    return DispatchOptions.from_settings().heartbeat_timeout


class UiData:
    """``readonly``: every method marked ``@writes`` refuses (``ReadOnly``) instead."""

    def __init__(self, store: Store, *, heartbeat_timeout: float, readonly: bool = False) -> None:
        self.store = store
        self.heartbeat_timeout = heartbeat_timeout
        self.readonly = readonly

    def changes(self) -> AbstractAsyncContextManager[AsyncIterator[Change]]:
        """The store's change feed (store/changes.py): one connection while it is open."""
        return watch(self.store)

    # --- agents ------------------------------------------------------------------------

    async def agents(self) -> list[AgentRow]:
        async with self.store.session() as s:
            return await agents.list_agent_rows(s, heartbeat_timeout=self.heartbeat_timeout)

    async def liveness(self) -> dict[int, tuple[LlmKind, LlmStatus]]:
        """Kind and status of every agent: the light query polled for virtual LLMs."""
        async with self.store.session() as s:
            return await agents.agent_liveness(s, heartbeat_timeout=self.heartbeat_timeout)

    async def agent_view(self, agent_id: int, *, threads_shown: int = THREAD_PAGE) -> AgentView:
        """An agent's personalities and its newest threads (as many as ``threads_shown``,
        at least a page: a reload keeps what the operator scrolled to)."""
        size = max(THREAD_PAGE, threads_shown)
        async with self.store.session() as s:
            personalities = await catalog.list_personalities(s, agent_id)
            newest = await threads.list_threads(s, agent_id, limit=size + 1)
        return AgentView(list(personalities), Page(list(newest[:size]), len(newest) > size))

    # --- threads -------------------------------------------------------------------------

    async def threads(self, agent_id: int, after: ThreadCursor | None = None) -> Page:
        async with self.store.session() as s:
            found = await threads.list_threads(s, agent_id, limit=THREAD_PAGE + 1, after=after)
        return _page(found)

    async def thread_owner(self, thread_id: int) -> int:
        """The agent a thread belongs to (``NotFound`` if there is no such thread)."""
        async with self.store.session() as s:
            return (await threads.get_thread(s, thread_id)).agent_id

    async def thread_window(self, thread_id: int, size: int) -> ThreadWindow:
        """A thread's title and its newest ``size`` turns."""
        async with self.store.session() as s:
            thread = await threads.get_thread(s, thread_id)
            turns = await messages.last_messages(s, thread_id, size + 1)
        title = thread.title or f"thread {thread_id}"
        return ThreadWindow(title, thread.agent_id, turns[-size:], len(turns) > size)

    async def turns_from(self, thread_id: int, first_turn: int, size: int) -> list[TurnRow]:
        """Up to ``size`` turns from ``first_turn`` on (``NotFound``: the thread is gone)."""
        async with self.store.session() as s:
            await threads.get_thread(s, thread_id)
            return await messages.messages_from(s, thread_id, first_turn, size)

    async def prompts(self, thread_id: int, n: int = 200) -> list[str]:
        """The thread's last ``n`` questions, newest first (Up in the message box)."""
        async with self.store.session() as s:
            return await messages.user_prompts(s, thread_id, n)

    async def older_turns(
        self, thread_id: int, before_turn: int, size: int
    ) -> tuple[list[TurnRow], bool]:
        """The ``size`` turns before ``before_turn``, and whether there are more."""
        async with self.store.session() as s:
            rows = await messages.messages_before(s, thread_id, before_turn, size + 1)
        return rows[-size:], len(rows) > size

    async def thread_size(self, thread_id: int) -> int:
        async with self.store.session() as s:
            return await threads.thread_size(s, thread_id)

    @writes("switching branches")
    async def step_branch(self, thread_id: int, turn_index: int, step: int) -> int | None:
        """Show the branch ``step`` places from the one ``turn_index`` is on; the turn now
        in its place (None: no branch that far). It changes the thread's current path,
        for every reader of the store: a write."""
        async with self.store.transaction() as s:
            if not await messages.lock_thread(s, thread_id):
                raise NotFound("thread", thread_id)
            return await branches.step_branch(s, thread_id, turn_index, step)

    @writes("switching branches")
    async def show_turn(self, thread_id: int, turn_index: int) -> None:
        """Put a turn of another branch on the thread's current path (a search hit)."""
        async with self.store.transaction() as s:
            if not await messages.lock_thread(s, thread_id):
                raise NotFound("thread", thread_id)
            await branches.show_turn(s, thread_id, turn_index)

    @writes("renaming")
    async def rename_thread(self, thread_id: int, title: str) -> None:
        async with self.store.transaction() as s:
            await threads.rename_thread(s, thread_id, title)

    @writes("deleting")
    async def delete_thread(self, thread_id: int) -> None:
        async with self.store.transaction() as s:
            await delete_thread(s, thread_id)

    async def export_thread(self, thread_id: int, path: Path) -> int:
        """Write the thread to ``path`` (.json: JSON with every branch, else Markdown of
        the current path); the turns written. ``StoreError``: the thread cannot be read;
        ``OSError``: the file cannot be written."""
        every = path.suffix == ".json"
        async with self.store.session() as s:
            thread = await threads.get_thread(s, thread_id)
            read = messages.every_turn if every else messages.all_messages
            rows = await read(s, thread_id)
        if every:
            text = thread_to_json(thread.title, thread_id, rows)
        else:
            text = thread_to_markdown(thread.title, rows)
        await asyncio.to_thread(_write, path, text)
        return len(rows)

    # --- editors ---------------------------------------------------------------------------

    async def choices(self, agent_name: str | None) -> Choices:
        """Names the editors offer; ``agent_name``: whose personalities (an agent's default)."""
        async with self.store.session() as s:
            llms = [e.doc.name for e in await get_objects(s, Kind.LLM)]
            projects = [e.doc.name for e in await get_objects(s, Kind.PROJECT)]
            names = [r.name for r in await agents.list_agent_rows(s)]
            personalities: list[str] = []
            if agent_name:
                found = await get_objects(s, Kind.PERSONALITY, agent=agent_name)
                personalities = [e.doc.name for e in found]
        return Choices(known_types(), llms, projects, names, personalities)

    async def document(
        self, kind: Kind, name: str, *, agent: str | None = None, project: str | None = None
    ) -> Document:
        async with self.store.session() as s:
            return await edit.find(s, kind, name, agent=agent, project=project)

    @writes("saving")
    async def save(self, doc: Document, *, new: bool) -> Applied:
        async with self.store.transaction() as s:
            return await edit.save(s, doc, new=new)

    @writes("deleting")
    async def preview_delete(self, kind: Kind, doc: Document) -> str:
        """What deleting ``doc`` would take with it: the delete runs, reports, rolls back."""
        try:
            async with self.store.transaction() as s:
                done = await edit.delete(s, kind, doc, heartbeat_timeout=self.heartbeat_timeout)
                raise _Rollback(done)
        except _Rollback as rollback:
            return rollback.done.cascade

    @writes("deleting")
    async def delete(self, kind: Kind, doc: Document) -> Deleted:
        async with self.store.transaction() as s:
            return await edit.delete(s, kind, doc, heartbeat_timeout=self.heartbeat_timeout)

    # --- resource views ---------------------------------------------------------------------

    async def lines(self, view: str) -> list[Line]:
        """The rows of a resource view (``agents``, ``llms`` … ``threads``, ``providers``)."""
        async with self.store.session() as s:
            return await overview.lines(s, view, heartbeat_timeout=self.heartbeat_timeout)

    async def describe(self, line: Line) -> Usage:
        async with self.store.session() as s:
            return await overview.describe(s, line)

    async def manifest(self, doc: Document) -> str:
        """``doc``'s object as ``get KIND NAME -o yaml`` prints it (read afresh), alone:
        a prompt of one scope, not every prompt of that name."""
        agent, project = edit.scope(doc)
        async with self.store.session() as s:
            items = await get_objects(s, doc.KIND, doc.name, agent=agent, project=project)
        mine = [e for e in items if identity(e.doc) == identity(doc)]
        if not mine:
            raise NotFound(doc.KIND.value, label(doc))
        return dump_yaml(mine)

    @writes("editing")
    async def manifest_to_edit(self, doc: Document) -> str:
        """``manifest`` for an edit: the start of a write, refused when read-only."""
        return await self.manifest(doc)

    @writes("applying")
    async def apply_text(self, text: str, source: str | None = None) -> list[Applied]:
        """Apply manifest text as ``apply -f`` does (one transaction; ``ManifestError``)."""
        return await apply_manifest(self.store, [(source, text)], llm_types=known_types())

    async def search(self, query: str, *, limit: int = SEARCH_PAGE) -> list[Hit]:
        """Stored turns matching ``query`` (store/search.py's rules), newest first."""
        async with self.store.session() as s:
            return await search_turns(s, query, limit=limit)

    # --- palette -----------------------------------------------------------------------------

    async def palette_index(self) -> PaletteIndex:
        async with self.store.session() as s:
            editable = [
                (kind, e.doc)
                for kind in (Kind.LLM, Kind.PROJECT, Kind.PROMPT, Kind.PERSONALITY)
                for e in await get_objects(s, kind)
            ]
            newest = await threads.search_threads(s, "", limit=PALETTE_THREADS)
        return PaletteIndex(editable, newest)


class _Rollback(Exception):
    def __init__(self, done: Deleted) -> None:
        self.done = done


def _page(found: Sequence[ThreadSummary]) -> Page:
    return Page(list(found[:THREAD_PAGE]), len(found) > THREAD_PAGE)


def _write(path: Path, text: str) -> None:
    path.expanduser().write_text(text, encoding="utf-8")


def _exists(path: Path) -> bool:
    return path.expanduser().exists()


async def file_exists(path: Path) -> bool:
    """Whether an export to ``path`` would replace a file (asked off the event loop)."""
    return await asyncio.to_thread(_exists, path)
