"""The change feed: "the store changed" as an async iterator of ``Change``, on both backends.

Rules:

- PostgreSQL: one LISTEN connection (``store.listen.Listener``) on ``mcpctl_changes``,
  which the triggers of migration 0005 notify after every write to a table the UI shows
  (payload: the table, or ``chat_message:<thread ids>``). The first notification after a
  quiet spell is handed out at once; a burst is merged, at most one ``Change`` per
  ``coalesce`` seconds. Every ``safety_interval`` the
  connection is checked (no query); one that died is reopened and reported as
  ``Change(tables=None)``, as notifications may have been lost meanwhile.
- SQLite: one dedicated connection asks ``PRAGMA data_version`` every ``poll_interval``;
  the value moves when any other connection (another process, or this process's pooled
  connections: the app's own commits too) committed. A move yields ``Change(tables=None)``
  (SQLite cannot say what changed). Nothing else is queried while nothing changes, and the
  connection never holds a transaction (it would pin the WAL).
- A change is never lost, only late: a reader re-reads the store after each ``Change``,
  so several writes may arrive as one. ``None`` fields mean "unknown: anything".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.listen import Listener

log = logging.getLogger(__name__)

CHANNEL = "mcpctl_changes"
THREAD_TABLES = frozenset({"chat_thread", "chat_message"})
POLL_INTERVAL = 0.5  # SQLite: seconds between two looks at data_version
COALESCE = 0.05  # PostgreSQL: a burst of notifications within this makes one Change
SAFETY_INTERVAL = 5.0  # PostgreSQL: how often the LISTEN connection is checked


@dataclass(frozen=True, slots=True)
class Change:
    """What changed. ``tables`` None: unknown (anything may have). ``thread_ids`` None:
    unknown among the tables named (any thread may have); empty: no thread's rows."""

    tables: frozenset[str] | None = None
    thread_ids: frozenset[int] | None = None

    def touches(self, table: str) -> bool:
        return self.tables is None or table in self.tables

    def touches_thread(self, thread_id: int) -> bool:
        if not any(self.touches(t) for t in THREAD_TABLES):
            return False
        return self.thread_ids is None or thread_id in self.thread_ids

    def only_messages_of(self, thread_id: int) -> bool:
        """Only that thread's messages changed (a reader may catch up that thread alone)."""
        return self.tables == frozenset({"chat_message"}) and self.thread_ids == frozenset(
            {thread_id}
        )

    def merge(self, other: Change) -> Change:
        if self.tables is None or other.tables is None:
            return Change(None, None)
        ids = (
            None
            if self.thread_ids is None or other.thread_ids is None
            else self.thread_ids | other.thread_ids
        )
        return Change(self.tables | other.tables, ids)

    @classmethod
    def from_payload(cls, payload: str) -> Change:
        """``table`` or ``table:id,id,...`` (migration 0005's triggers)."""
        table, sep, rest = payload.partition(":")
        if not table:
            return cls(None, None)
        if table not in THREAD_TABLES:
            return cls(frozenset({table}), frozenset())
        if not sep:
            return cls(frozenset({table}), None)
        try:
            return cls(frozenset({table}), frozenset(int(x) for x in rest.split(",")))
        except ValueError:
            return cls(frozenset({table}), None)


EVERYTHING = Change(None, None)


class _Feed:
    """Changes received and not yet handed out, merged; iterated by the reader. Waiting
    here is safe to cancel (a reader's timeout loses nothing: the change stays pending)."""

    def __init__(self, coalesce: float) -> None:
        self._coalesce = coalesce
        self._pending: Change | None = None
        self._event = asyncio.Event()
        self._last = -float("inf")

    def add(self, change: Change) -> None:
        self._pending = change if self._pending is None else self._pending.merge(change)
        self._event.set()

    def __aiter__(self) -> _Feed:
        return self

    async def __anext__(self) -> Change:
        while True:
            await self._event.wait()
            # Leading edge: the first change after a quiet spell goes out at once; within
            # ``coalesce`` of the last one handed out, the rest of a burst is awaited and
            # merged (at most one Change per window).
            wait = self._last + self._coalesce - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            change, self._pending = self._pending, None
            self._event.clear()
            if change is not None:
                self._last = time.monotonic()
                return change


@contextlib.asynccontextmanager
async def watch(
    store: Store,
    *,
    poll_interval: float = POLL_INTERVAL,
    coalesce: float = COALESCE,
    safety_interval: float = SAFETY_INTERVAL,
) -> AsyncIterator[AsyncIterator[Change]]:
    """The store's changes from now on, until the block exits (which closes the
    connection it holds)."""
    if store.is_sqlite:
        feed = _Feed(0.0)
        async with store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            first = await _data_version(raw.driver_connection)
            poller = asyncio.create_task(
                _poll_data_version(raw.driver_connection, first, poll_interval, feed)
            )
            try:
                yield feed
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
        return
    feed = _Feed(coalesce)
    listener = Listener(store, (CHANNEL,))
    listener.on_channel(CHANNEL, lambda payload: feed.add(Change.from_payload(payload)))
    await listener.start()
    keeper = asyncio.create_task(_keep_listening(listener, feed, safety_interval))
    try:
        yield feed
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await listener.close()


async def _data_version(driver: Any) -> int:
    # One round trip to aiosqlite's thread; the driver is in autocommit (the engine turns
    # the sqlite3 module's implicit transactions off), so no transaction is opened.
    rows = await driver.execute_fetchall("PRAGMA data_version")
    return int(rows[0][0])


async def _poll_data_version(driver: Any, last: int, interval: float, feed: _Feed) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            now = await _data_version(driver)
        except Exception as exc:  # a store gone for a moment: look again next time
            log.warning("change feed: cannot read data_version: %s", exc)
            continue
        if now != last:
            last = now
            feed.add(EVERYTHING)


async def _keep_listening(listener: Listener, feed: _Feed, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        if listener.healthy:
            continue
        log.warning("change feed: LISTEN connection lost; reopening")
        try:
            await listener.ensure()
        except Exception as exc:  # the store is down: try again at the next interval
            log.warning("change feed: cannot listen: %s", exc)
            continue
        feed.add(EVERYTHING)  # what was written while nobody listened is unknown
