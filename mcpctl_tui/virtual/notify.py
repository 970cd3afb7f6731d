"""Wake-ups across processes: LISTEN/NOTIFY on PostgreSQL, nothing (polling) on SQLite.

One ``Listener`` per process holds one connection LISTENing on the relay's channels and
turns each notification into ``asyncio.Event.set()`` for whoever waits on that key (a
task id, a provider). Waiters always re-read the store after a wake and also wake on a
timer, so a lost notification (or a dropped listener connection) costs latency, never
correctness.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mcpctl_tui.store.engine import Store

log = logging.getLogger(__name__)

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


class Listener:
    """Routes notifications on a few channels to per-key asyncio events."""

    def __init__(self, store: Store, channels: tuple[str, ...]) -> None:
        self._store = store
        self._channels = channels
        self._conn: AsyncConnection | None = None
        self._raw: Any = None
        self._lock = asyncio.Lock()
        self._events: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self._catch_all: dict[str, set[Callable[[str], None]]] = defaultdict(set)

    @property
    def active(self) -> bool:
        return self._raw is not None

    async def ensure(self) -> None:
        """Reopen the LISTEN connection if it died (a PostgreSQL restart, a network cut)."""
        if self._store.is_sqlite:
            return
        if self._raw is not None and not self._raw.is_closed():
            return
        if self._raw is not None:
            log.warning("LISTEN connection lost; reconnecting")
            await self.close()
        await self.start()

    async def start(self) -> None:
        """Open the LISTEN connection (PostgreSQL only; idempotent)."""
        if self._store.is_sqlite or self._raw is not None:
            return
        async with self._lock:
            if self._raw is not None:
                return
            conn = await self._store.engine.connect()
            try:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                assert driver is not None
                for channel in self._channels:
                    await driver.add_listener(channel, self._on_notify)
            except BaseException:
                await conn.close()
                raise
            self._conn, self._raw = conn, driver

    async def close(self) -> None:
        conn, driver = self._conn, self._raw
        self._conn = self._raw = None
        if conn is None:
            return
        try:
            for channel in self._channels:
                await driver.remove_listener(channel, self._on_notify)
        except Exception:  # the connection may be gone already; closing is what matters
            log.debug("remove_listener failed", exc_info=True)
        # remove_listener sent UNLISTEN: the connection goes back to the pool clean.
        await conn.close()

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for event in self._events.get((channel, payload), ()):
            event.set()
        for callback in self._catch_all.get(channel, ()):
            callback(payload)

    def subscribe(self, channel: str, key: object, event: asyncio.Event) -> None:
        self._events[(channel, str(key))].add(event)

    def unsubscribe(self, channel: str, key: object, event: asyncio.Event) -> None:
        k = (channel, str(key))
        waiters = self._events.get(k)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._events[k]

    def on_channel(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(payload)`` for every notification on ``channel``."""
        self._catch_all[channel].add(callback)


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
