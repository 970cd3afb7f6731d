"""One LISTEN connection per process on PostgreSQL, routing notifications by channel/key.

Shared by the relay (virtual/notify.py: per task id wake-ups) and the change feed
(store/changes.py: every write to a table the UI shows). Rules: ``start`` opens the
connection once (idempotent, PostgreSQL only; SQLite has no NOTIFY and never opens one);
``ensure`` reopens a connection that died; callbacks run on the event loop and must not
block. A lost notification costs its waiter latency, never correctness: every waiter
also wakes on a timer and re-reads the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mcpctl_tui.store.engine import Store

log = logging.getLogger(__name__)


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

    @property
    def healthy(self) -> bool:
        """Listening on a connection that is still open (no query: the driver knows)."""
        return self._raw is not None and not self._raw.is_closed()

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
