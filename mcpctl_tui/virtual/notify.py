"""Wake-ups across processes: LISTEN/NOTIFY on PostgreSQL, nothing (polling) on SQLite.

One ``Listener`` (store/listen.py) per process holds one connection LISTENing on the
relay's channels and turns each notification into ``asyncio.Event.set()`` for whoever
waits on that key (a task id, a provider). Waiters always re-read the store after a
wake and also wake on a timer, so a lost notification (or a dropped listener
connection) costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store

# Payload: the task id whose chunks or status changed.
CHUNK_CHANNEL = "mcpctl_tui_chunk"
# Payload: the llm id that got a pending task.
TASK_CHANNEL = "mcpctl_tui_task"
# Payload: the task id the caller cancelled.
CANCEL_CHANNEL = "mcpctl_tui_cancel"


async def notify(session: AsyncSession, store: Store, channel: str, payload: object) -> None:
    """Queue a notification in the caller's transaction (sent at commit; no-op on SQLite)."""
    if store.is_sqlite:
        return
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": str(payload)}
    )


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; clear it; True if it fired."""
    if not event.is_set():
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return False
    event.clear()
    return True


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set (which stays set)."""
    if stop.is_set():
        return
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass


class SqliteChangeWatch:
    """SQLite: has any process committed since the last look? One ``stat`` of the WAL file.

    SQLite has no NOTIFY, so its waiters poll; a poll that first asks the file system
    whether the write-ahead log moved (every commit appends to it or rewrites it) costs a
    system call instead of a query, so idle polling stays cheap. ``changed`` errs towards
    True (no WAL, an in-memory database, a periodic forced look), never towards a miss:
    the signature is taken before the caller reads.
    """

    def __init__(self, store: Store, force_every: float = 0.5) -> None:
        database = make_url(store.url).database if store.is_sqlite else None
        self._wal = (
            Path(database).expanduser().with_name(Path(database).name + "-wal")
            if database and database != ":memory:" and not database.startswith("file:")
            else None
        )
        self._force_every = force_every
        self._last: tuple[int, int, int] | None = None
        self._last_forced = 0.0

    def changed(self) -> bool:
        now = time.monotonic()
        if self._wal is None or now - self._last_forced >= self._force_every:
            self._last_forced = now
            self._last = self._signature()
            return True
        sig = self._signature()
        if sig is None or sig != self._last:
            self._last = sig
            return True
        return False

    def _signature(self) -> tuple[int, int, int] | None:
        if self._wal is None:
            return None
        try:
            st = os.stat(self._wal)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)
