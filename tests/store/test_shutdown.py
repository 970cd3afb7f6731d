"""A store whose query is cancelled mid-flight still lets its event loop shut down."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from mcpctl_tui.store import sqlite_driver
from mcpctl_tui.store.engine import open_store

# Keeps SQLite's thread busy for a few hundred milliseconds.
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
    "SELECT count(*) FROM c"
)
HANG = 20.0  # seconds; each run takes well under one


def _finishes(main: object, timeout: float = HANG) -> bool:
    """Run ``asyncio.run(main)`` on a thread of its own; False if it never returns."""
    done = threading.Event()

    def run() -> None:
        asyncio.run(main)  # type: ignore[arg-type]
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(timeout)


async def test_a_second_stop_while_a_close_waits_behind_a_query_does_not_strand_the_close(
    tmp_path: Path,
) -> None:
    # What SQLAlchemy does when the task closing a connection is cancelled: the graceful
    # close is queued behind a running query, then the connection is force-stopped.
    conn = await sqlite_driver.connect(str(tmp_path / "x.sqlite"))
    query = asyncio.ensure_future(conn.execute(SLOW_QUERY))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(conn.close())
    await asyncio.sleep(0)
    conn.stop()
    await asyncio.wait_for(closing, HANG)
    query.cancel()


def test_the_loop_shuts_down_after_a_query_is_cancelled_mid_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    died: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", died.append)

    async def main() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")

        async def read() -> None:
            async with store.engine.connect() as conn:
                await conn.execute(text(SLOW_QUERY))

        reading = asyncio.create_task(read())
        await asyncio.sleep(0.05)
        reading.cancel()  # as the app does to its workers when it exits
        await asyncio.sleep(0.01)
        await store.close()
        # Returning now leaves asyncio.run to cancel the close still waiting on the query:
        # the order that stranded it.

    # Which of the two pending tasks asyncio.run cancels first varies; a few runs hit both.
    for attempt in range(4):
        assert _finishes(main()), f"asyncio.run never returned (run {attempt + 1})"
    # The abandoned queries' threads finish after their loops have closed, with nobody
    # left to tell: they end quietly (no traceback on the operator's restored terminal).
    for thread in threading.enumerate():
        if thread.daemon and "worker" in thread.name:
            thread.join(HANG)
    assert [str(d.exc_value) for d in died] == []
