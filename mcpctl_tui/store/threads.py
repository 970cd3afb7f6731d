"""Chat threads: create, rename, page through an agent's threads, search them by title.

Rules kept here:

- Threads are listed newest first by ``last_turn_at`` (then id), paged by keyset on
  (last_turn_at, id): the walk follows the (agent_id, last_turn_at DESC) index, and a page
  boundary inside a run of equal timestamps neither repeats nor skips a thread.
- Renaming is not a turn: it leaves ``last_turn_at`` alone (only turns move it, see
  ``store.messages``).
- A title search matches the text literally: ``%``, ``_`` and the escape character in
  it are escaped, never read as wildcards.
- The thread page is the UI's hot read: its statement goes to the driver as written per
  dialect and each row is converted once into a ``ThreadSummary`` (``store.rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.store.rows import as_utc, get_row, placeholders, sqlite_timestamp, write_row
from mcpctl_tui.store.types import utcnow
from mcpctl_tui.store.usage import NOTHING, Tally, tally_by


@dataclass(frozen=True, slots=True)
class ThreadCursor:
    """Keyset position: the last thread of the previous page."""

    last_turn_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A line of the thread pane: the thread and how many turns it holds."""

    id: int
    agent_id: int
    title: str
    created_at: datetime
    last_turn_at: datetime
    turn_count: int
    usage: Tally = NOTHING  # its replies' tokens and cost


async def create_thread(s: AsyncSession, agent_id: int, title: str = "") -> ChatThread:
    now = utcnow()
    thread = ChatThread(agent_id=agent_id, title=title, created_at=now, last_turn_at=now)
    return await write_row(s, thread, f"thread {title!r}", "thread already exists")


async def get_thread(s: AsyncSession, thread_id: int) -> ChatThread:
    return await get_row(s, ChatThread, "thread", thread_id)


async def rename_thread(s: AsyncSession, thread_id: int, title: str) -> ChatThread:
    """Set a thread's title (last_turn_at is left alone: renaming is not a turn)."""
    row = await get_thread(s, thread_id)
    return await write_row(s, row, f"thread {thread_id}", "thread exists", {"title": title})


def _sql_threads(sqlite: bool, keyset: bool) -> str:
    ph = placeholders(sqlite, 5)
    where = f"t.agent_id = {ph[0]}"
    if keyset:
        # (last_turn_at, id) < (cursor): the same shape the index serves on both backends.
        where += f" AND (t.last_turn_at < {ph[1]} OR (t.last_turn_at = {ph[2]} AND t.id < {ph[3]}))"
    limit = ph[4] if keyset else ph[1]
    return (
        "SELECT t.id, t.agent_id, t.title, t.created_at, t.last_turn_at,"
        " (SELECT count(*) FROM chat_message m WHERE m.thread_id = t.id)"
        f" FROM chat_thread t WHERE {where}"
        f" ORDER BY t.last_turn_at DESC, t.id DESC LIMIT {limit}"
    )


_THREAD_SQL = {
    (sqlite, keyset): _sql_threads(sqlite, keyset)
    for sqlite in (True, False)
    for keyset in (True, False)
}


async def list_threads(
    s: AsyncSession, agent_id: int, *, limit: int = 50, after: ThreadCursor | None = None
) -> list[ThreadSummary]:
    """A page of an agent's threads, newest first, with turn counts (one query) and what
    their replies used (a second: ``usage.tally_by``); ``after``: the cursor of the
    previous page's last thread."""
    conn = await s.connection()
    sqlite = conn.dialect.name == "sqlite"
    params: tuple[Any, ...]
    if after is None:
        params = (agent_id, limit)
    else:
        at: Any = sqlite_timestamp(after.last_turn_at) if sqlite else after.last_turn_at
        params = (agent_id, at, at, after.id, limit)
    rows = (await conn.exec_driver_sql(_THREAD_SQL[sqlite, after is not None], params)).all()
    spent = await tally_by(s, "thread", thread_ids=[r[0] for r in rows]) if rows else {}
    return [_summary(r, spent.get(r[0], NOTHING)) for r in rows]


def _summary(r: Any, usage: Tally) -> ThreadSummary:
    return ThreadSummary(r[0], r[1], r[2], as_utc(r[3]), as_utc(r[4]), r[5], usage)


async def thread_size(s: AsyncSession, thread_id: int) -> int:
    """How many turns a thread holds."""
    q = select(func.count()).select_from(ChatMessage).where(ChatMessage.thread_id == thread_id)
    return int((await s.execute(q)).scalar_one())


@dataclass(frozen=True, slots=True)
class ThreadHit:
    id: int
    title: str
    agent_id: int
    agent_name: str


_LIKE_ESCAPE = "/"


def _like_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches only itself (with ``ESCAPE '/'``)."""
    for special in (_LIKE_ESCAPE, "%", "_"):  # the escape character itself first
        text = text.replace(special, _LIKE_ESCAPE + special)
    return text


async def search_threads(s: AsyncSession, text: str, *, limit: int = 20) -> list[ThreadHit]:
    """Threads whose title contains ``text`` literally (case-insensitive), newest first;
    every thread (newest first) for the empty text."""
    q = (
        select(ChatThread.id, ChatThread.title, Agent.id, Agent.name)
        .join(Agent, Agent.id == ChatThread.agent_id)
        .order_by(ChatThread.last_turn_at.desc(), ChatThread.id.desc())
        .limit(limit)
    )
    if text:
        pattern = f"%{_like_literal(text)}%"
        q = q.where(ChatThread.title.ilike(pattern, escape=_LIKE_ESCAPE))
    return [ThreadHit(*row) for row in (await s.execute(q)).all()]
