"""aiosqlite connections whose worker thread is told to stop once, so a shutdown cannot hang.

aiosqlite runs each connection on a thread that reads a queue and exits at the first stop
request it reads. A second stop queued behind the first gets a future nothing will ever
resolve. SQLAlchemy sends two when a task is cancelled in the middle of a query and then
cancelled again while the connection is being closed: its graceful close (shielded) is
still waiting behind the query when the second cancellation makes it force-close, which
queues a stop; the graceful close then queues its own stop in its ``finally`` and waits on
it. ``asyncio.run`` (and every test runner) waits for that task at exit, forever. In the app
it happens whenever it exits while a worker is reading the store.

The same exit leaves the thread finishing that query after the loop has closed; aiosqlite's
thread then dies with a traceback on stderr (on the operator's restored terminal) when it
reports the result. Nobody is waiting for it, so the thread here ends quietly instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import aiosqlite
from aiosqlite.core import _connection_worker_thread


def _worker(tx: Any) -> None:
    try:
        _connection_worker_thread(tx)
    except RuntimeError:
        # Raised only when reporting to a closed event loop: the asker has gone.
        pass


class OneStopConnection(aiosqlite.Connection):
    """An aiosqlite connection that queues at most one stop request for its thread."""

    _stop_queued = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._thread = threading.Thread(target=_worker, args=(self._tx,), daemon=True)

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

    # The thread is a daemon, as the dialect makes its own: one left behind must not keep
    # the process alive.
    return OneStopConnection(connector, iter_chunk_size=64)
