"""Store benchmark: racing appenders, and the two reads the UI does most.

    python bench/store.py [--pg URL] [--skip-writers] [--skip-reads]

(a) 8 writer processes, each with its own connection, append 250 turns each to one thread:
    appends/s and retries; then the turn indexes must be exactly 0..1999. Baseline, same
    run: the same statements from 8 processes straight through the bare driver (sqlite3,
    asyncpg), so a loaded machine shows up as a low baseline rather than as our fault.
(b) 50 agents, 2,000 threads, 100,000 messages: a page of 50 threads, and the last 100
    messages of a 10,000-message thread, through ``store.queries`` and as the same query in
    raw SQL on the same connection (the baseline, measured in the same run): median ms and
    the ratio.

Every database is a throw-away one (a temp SQLite file; a fresh PostgreSQL database next to
--pg's, dropped afterwards). Targets: (a) >= 500/s SQLite, >= 1000/s PostgreSQL; (b) ratio
<= 2x and <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import insert, select

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.messages import NewMessage, all_messages, last_messages
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.store.rows import sqlite_timestamp
from mcpctl_tui.store.threads import ThreadCursor, create_thread, list_threads
from mcpctl_tui.store.types import utcnow
from tests.dbs import fresh_pg_database
from tests.support.message_append import _PG_APPEND, AppendStats, append_message
from tests.support.store_seed import create_agent, create_llm

WRITERS = 8
APPENDS_EACH = 250
AGENTS = 50
THREADS = 2_000
MESSAGES = 100_000
BIG_THREAD_MESSAGES = 10_000
BIG_AGENT_THREADS = 400  # the agent whose thread list is paged
RUNS = 300


@asynccontextmanager
async def throwaway(backend: str, pg_url: str | None) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield f"sqlite+aiosqlite:///{d}/bench.db"
    else:
        assert pg_url
        async with fresh_pg_database(pg_url) as url:
            yield url


# --- (a) racing writers --------------------------------------------------------------


def _writer(url: str, thread_id: int, n: int, start_at: float, out: Any, bare: bool) -> None:
    async def ours() -> tuple[int, float]:
        store = await open_store(url)
        stats = AppendStats()
        try:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            for i in range(n):
                await append_message(
                    store,
                    thread_id,
                    NewMessage(role="user", content=f"{os.getpid()}:{i}"),
                    stats=stats,
                    # The benchmark's figure is for the opt-in asynchronous commit on
                    # PostgreSQL (no effect on SQLite); the default waits for the WAL flush.
                    durable=False,
                )
            return stats.retries, time.time()
        finally:
            await store.close()

    out.put(
        (os.getpid(), *asyncio.run(_bare_writer(url, thread_id, n, start_at) if bare else ours()))
    )


async def _bare_writer(url: str, thread_id: int, n: int, start_at: float) -> tuple[int, float]:
    """The baseline: the same statements straight through the driver, no SQLAlchemy."""
    retries = 0
    pid = os.getpid()
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=NORMAL")
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for i in range(n):
            now = sqlite_timestamp(utcnow())
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE chat_thread SET last_turn_at = max(last_turn_at, ?) WHERE id = ?",
                (now, thread_id),
            )
            db.execute(
                "INSERT INTO chat_message (thread_id, turn_index, role, content, status,"
                " created_at) VALUES (?, (SELECT coalesce(max(turn_index), -1) + 1 FROM"
                " chat_message WHERE thread_id = ?), 'user', ?, 'complete', ?)"
                " RETURNING id, turn_index",
                (thread_id, thread_id, f"{pid}:{i}", now),
            ).fetchone()
            db.execute("COMMIT")
        db.close()
        return 0, time.time()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for i in range(n):
            while (
                await conn.fetchrow(
                    _PG_APPEND,
                    thread_id,
                    "user",
                    f"{pid}:{i}",
                    None,
                    None,
                    "complete",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    utcnow(),
                )
            ) is None:
                retries += 1
    finally:
        await conn.close()
    return retries, time.time()


async def _race(url: str, thread_id: int, bare: bool) -> tuple[float, int, list[int]]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # time for every process to start and connect
    procs = [
        ctx.Process(target=_writer, args=(url, thread_id, APPENDS_EACH, start_at, out, bare))
        for _ in range(WRITERS)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    # Wall time from the common start to the last writer's last append (not process exit).
    wall = max(end for _pid, _r, end in results) - start_at
    return wall, sum(r for _p, r, _e in results), [pid for pid, _r, _e in results]


async def bench_writers(url: str) -> dict[str, Any]:
    store = await open_store(url)
    try:
        async with store.transaction() as s:
            llm = await create_llm(s, name="l", type="openai")
            agent = await create_agent(s, name="a", llm_id=llm.id)
            ours_thread = await create_thread(s, agent.id, "race")
            bare_thread = await create_thread(s, agent.id, "baseline")
        total = WRITERS * APPENDS_EACH
        bare_wall, bare_retries, _ = await _race(url, bare_thread.id, bare=True)
        wall, retries, pids = await _race(url, ours_thread.id, bare=False)
        async with store.session() as s:
            rows = await all_messages(s, ours_thread.id)
            bare_rows = await all_messages(s, bare_thread.id)
        contiguous = [m.turn_index for m in rows] == list(range(total))
        every_once = sorted(m.content for m in rows) == sorted(
            f"{pid}:{i}" for pid in pids for i in range(APPENDS_EACH)
        )
        return {
            "wall_s": wall,
            "rate": total / wall,
            "retries": retries,
            "bare_rate": total / bare_wall,
            "bare_retries": bare_retries,
            "ok": contiguous and every_once and len(bare_rows) == total,
        }
    finally:
        await store.close()


# --- (b) reads on a big database --------------------------------------------------------


async def build_big_db(store: Store) -> tuple[int, int]:
    """50 agents, 2,000 threads, 100,000 messages (one thread of 10,000); bulk Core inserts."""
    now = utcnow()
    async with store.transaction() as s:
        llm = await create_llm(s, name="bench-llm", type="openai")
        await s.execute(
            insert(Agent.__table__),
            [
                {"name": f"agent-{i:02d}", "llm_id": llm.id, "default_params": {}, "extras": {}}
                for i in range(AGENTS)
            ],
        )
        agent_ids = list((await s.execute(select(Agent.id).order_by(Agent.id))).scalars())
        big_agent = agent_ids[0]
        rows = []
        for i in range(THREADS):
            agent_id = big_agent if i < BIG_AGENT_THREADS else agent_ids[1 + i % (AGENTS - 1)]
            # Ties on last_turn_at every 3 threads: paging must order them by id.
            at = now - timedelta(seconds=(i // 3) * 7)
            rows.append(
                {"agent_id": agent_id, "title": f"thread {i}", "created_at": at, "last_turn_at": at}
            )
        await s.execute(insert(ChatThread.__table__), rows)
        thread_ids = list(
            (
                await s.execute(
                    select(ChatThread.id)
                    .where(ChatThread.agent_id == big_agent)
                    .order_by(ChatThread.id)
                )
            ).scalars()
        )
        all_threads = list(
            (await s.execute(select(ChatThread.id).order_by(ChatThread.id))).scalars()
        )
    big_thread = thread_ids[0]
    per_thread = (MESSAGES - BIG_THREAD_MESSAGES) // (THREADS - 1)
    plan: list[tuple[int, int]] = [(big_thread, BIG_THREAD_MESSAGES)]
    plan += [(t, per_thread) for t in all_threads if t != big_thread]
    plan[-1] = (plan[-1][0], plan[-1][1] + MESSAGES - sum(n for _t, n in plan))
    batch: list[dict[str, Any]] = []

    async def flush() -> None:
        async with store.transaction() as s:  # Core (not ORM) bulk insert: one statement
            await s.execute(insert(ChatMessage.__table__), batch)
        batch.clear()

    for thread_id, n in plan:
        for turn in range(n):
            assistant = turn % 2 == 1
            batch.append(
                {
                    "thread_id": thread_id,
                    "turn_index": turn,
                    "role": "assistant" if assistant else "user",
                    "content": f"message {turn} of thread {thread_id} " + "lorem ipsum " * 8,
                    "usage": {"input_tokens": 12, "output_tokens": 40} if assistant else None,
                    "created_at": now,
                }
            )
            if len(batch) >= 10_000:
                await flush()
    if batch:
        await flush()
    return big_agent, big_thread


async def _paired_median_ms(
    ours: Callable[[], Awaitable[Any]], raw: Callable[[], Awaitable[Any]], runs: int = RUNS
) -> tuple[float, float]:
    """Median ms of each, measured alternately so machine noise hits both alike."""
    for _ in range(20):  # warm caches (statement cache, page cache)
        await ours()
        await raw()
    t_ours: list[float] = []
    t_raw: list[float] = []
    for i in range(runs):
        pair = ((ours, t_ours), (raw, t_raw)) if i % 2 else ((raw, t_raw), (ours, t_ours))
        for fn, into in pair:
            t0 = time.perf_counter()
            await fn()
            into.append(time.perf_counter() - t0)
    return statistics.median(t_ours) * 1000, statistics.median(t_raw) * 1000


THREAD_PAGE_SQL = {
    "sqlite": (
        "SELECT t.id, t.agent_id, t.title, t.created_at, t.last_turn_at,"
        " (SELECT count(*) FROM chat_message m WHERE m.thread_id = t.id)"
        " FROM chat_thread t WHERE t.agent_id = ? AND (t.last_turn_at < ? OR"
        " (t.last_turn_at = ? AND t.id < ?)) ORDER BY t.last_turn_at DESC, t.id DESC LIMIT ?"
    ),
    "postgresql": (
        "SELECT t.id, t.agent_id, t.title, t.created_at, t.last_turn_at,"
        " (SELECT count(*) FROM chat_message m WHERE m.thread_id = t.id)"
        " FROM chat_thread t WHERE t.agent_id = $1 AND (t.last_turn_at < $2 OR"
        " (t.last_turn_at = $3 AND t.id < $4)) ORDER BY t.last_turn_at DESC, t.id DESC LIMIT $5"
    ),
}
LAST_MESSAGES_SQL = {
    "sqlite": (
        "SELECT id, thread_id, turn_index, role, content, tool_calls, tool_call_id, status,"
        " error, thinking, usage, timing, personality, model, created_at FROM chat_message"
        " WHERE thread_id = ? ORDER BY turn_index DESC LIMIT ?"
    ),
    "postgresql": (
        "SELECT id, thread_id, turn_index, role, content, tool_calls, tool_call_id, status,"
        " error, thinking, usage, timing, personality, model, created_at FROM chat_message"
        " WHERE thread_id = $1 ORDER BY turn_index DESC LIMIT $2"
    ),
}


async def bench_reads(url: str) -> dict[str, Any]:
    store = await open_store(url)
    try:
        t0 = time.perf_counter()
        big_agent, big_thread = await build_big_db(store)
        build_s = time.perf_counter() - t0
        dialect = store.dialect
        async with store.session() as s:
            first = await list_threads(s, big_agent, limit=50)
            # A page from the middle (keyset cursor after the 4th page), as when scrolling.
            cursor = None
            for _ in range(4):
                page = await list_threads(s, big_agent, limit=50, after=cursor)
                cursor = ThreadCursor(page[-1].last_turn_at, page[-1].id)
            assert cursor is not None and len(first) == 50

            conn = await s.connection()
            raw_cursor_at: Any = cursor.last_turn_at
            if dialect == "sqlite":  # raw SQLite compares the stored text form
                raw_cursor_at = sqlite_timestamp(cursor.last_turn_at)
            driver = conn.exec_driver_sql

            async def ours_threads() -> Any:
                return await list_threads(s, big_agent, limit=50, after=cursor)

            args: Any = (big_agent, raw_cursor_at, raw_cursor_at, cursor.id, 50)

            async def raw_threads() -> Any:
                return (await driver(THREAD_PAGE_SQL[dialect], args)).all()

            async def ours_messages() -> Any:
                return await last_messages(s, big_thread, 100)

            async def raw_messages() -> Any:
                return (await driver(LAST_MESSAGES_SQL[dialect], (big_thread, 100))).all()

            ours_page, raw_page = await ours_threads(), await raw_threads()
            assert [t.id for t in ours_page] == [r[0] for r in raw_page], "thread pages differ"
            assert [t.turn_count for t in ours_page] == [r[5] for r in raw_page]
            msgs = await ours_messages()
            assert [m.turn_index for m in msgs] == list(range(9_900, 10_000))
            results = {"build_s": build_s}
            for name, ours, raw in (
                ("page of 50 threads", ours_threads, raw_threads),
                ("last 100 messages", ours_messages, raw_messages),
            ):
                results[name] = await _paired_median_ms(ours, raw)
        return results
    finally:
        await store.close()


# --- main -------------------------------------------------------------------------------


def _line(*cols: object, widths: tuple[int, ...] = (12, 22, 12, 12, 8, 8)) -> str:
    return "  ".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=False))


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--pg", metavar="URL", default=os.environ.get("MCPCTL_TUI_TEST_PG_URL"))
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--skip-writers", action="store_true")
    ap.add_argument("--skip-reads", action="store_true")
    opts = ap.parse_args()
    backends = ["sqlite"] + ([] if opts.no_pg or not opts.pg else ["postgresql"])
    failed = False
    if not opts.skip_writers:
        print(f"(a) {WRITERS} writer processes x {APPENDS_EACH} appends to one thread")
        print(
            _line(
                "backend",
                "appends/s (target)",
                "retries",
                "bare driver/s",
                "ours/bare",
                "0..N-1",
                "pass",
                widths=(12, 20, 9, 16, 10, 8, 6),
            )
        )
        for backend in backends:
            async with throwaway(backend, opts.pg) as url:
                r = await bench_writers(url)
            target = 500 if backend == "sqlite" else 1000
            ok = r["ok"] and r["rate"] >= target
            failed |= not ok
            print(
                _line(
                    backend,
                    f"{r['rate']:.0f} (>= {target})",
                    r["retries"],
                    f"{r['bare_rate']:.0f} ({r['bare_retries']} retries)",
                    f"{r['rate'] / r['bare_rate']:.2f}",
                    "yes" if r["ok"] else "NO",
                    "ok" if ok else "MISS",
                    widths=(12, 20, 9, 16, 10, 8, 6),
                )
            )
        print()
    if not opts.skip_reads:
        print(
            f"(b) {AGENTS} agents, {THREADS:,} threads, {MESSAGES:,} messages;"
            f" median of {RUNS} runs"
        )
        print(_line("backend", "query", "ours ms", "raw SQL ms", "ratio", "pass"))
        for backend in backends:
            async with throwaway(backend, opts.pg) as url:
                r = await bench_reads(url)
            print(_line(backend, f"(built in {r['build_s']:.1f} s)"))
            for name in ("page of 50 threads", "last 100 messages"):
                ours, raw = r[name]
                ratio = ours / raw
                ok = ratio <= 2.0 and ours <= 10.0
                failed |= not ok
                print(
                    _line(
                        "",
                        name,
                        f"{ours:.3f}",
                        f"{raw:.3f}",
                        f"{ratio:.2f}x",
                        "ok" if ok else "MISS",
                    )
                )
        print("targets: ratio <= 2.00x, ours <= 10 ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
