"""aiosqlite connections whose worker thread is told to stop once, so a shutdown cannot hang.

aiosqlite runs each connection on a thread that reads a queue and exits at the first stop
request it reads. A second stop queued behind the first gets a future nothing will ever
resolve. SQLAlchemy sends two when a task is cancelled in the middle of a query and then
cancelled again while the connection is being closed: its graceful close (shielded) is
still waiting behind the query when the second cancellation makes it force-close, which
queues a stop; the graceful close then queues its own stop in its ``finally`` and waits on
it. ``asyncio.run`` (and every test runner) waits for that task at exit, forever. In the app
it happens whenever it exits while a worker is reading the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiosqlite


class OneStopConnection(aiosqlite.Connection):
    """An aiosqlite connection that queues at most one stop request for its thread."""

    _stop_queued = False

    def stop(self) -> asyncio.Future[Any] | None:
        if self._stop_queued:
            # The thread will stop (or has) at the request already queued; a second one would
            # sit behind it unanswered. Nothing is left to wait for.
            self._running = False
            return None
        self._stop_queued = True
        future: asyncio.Future[Any] | None = super().stop()
        return future


def connect(*args: Any, **kwargs: Any) -> OneStopConnection:
    """What SQLAlchemy's aiosqlite dialect calls instead of ``aiosqlite.connect``.

    Takes ``sqlite3.connect``'s arguments, as the dialect passes them.
    """

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        return opened

    connection = OneStopConnection(connector, iter_chunk_size=64)
    # As the dialect does for its own: a thread left behind must not keep the process alive.
    connection._thread.daemon = True
    return connection
