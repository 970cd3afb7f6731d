"""Store benchmark: racing senders through the chat engine, and the two reads the UI does most.

    python bench/store.py [--pg URL] [--sends N] [--skip-senders] [--skip-reads]

(a) 8 sender processes, each with its own store, send N turns each (default 100) to one
    thread through ``ChatService`` (the path the app appends by: the user turn and the
    reply's placeholder in one transaction, then the reply's finish), against the echo
    LLM: turns stored per second; then the thread must be exact (turn indexes 0..N-1,
    every turn once, each question followed by its own answer, nothing pending).
    Baseline, same run: the same number of turn pairs from 8 processes through the bare
    driver (sqlite3, asyncpg) in the same statements (the context read and the history
    are ChatService's own, compiled; the writes in the shapes it sends), so a loaded
    machine shows up as a low baseline rather than as our fault. The ratio ours/bare is
    what the engine, SQLAlchemy and aiosqlite/asyncpg's layers cost.
(b) 50 agents, 2,000 threads, 100,000 messages: a page of 50 threads (with what their
    replies used), and the last 100 messages of a 10,000-message thread (with their branch
    marks), through ``store.threads``/``store.messages`` and as the same statements sent
    raw on the same connection (the baseline, measured in the same run): median ms and the
    ratio. A third line prices the branch marks: the same window without them, raw.

Every database is a throw-away one (a temp SQLite file; a fresh PostgreSQL database next to
--pg's, dropped afterwards). Targets: (a) the check holds and ours/bare stays above its
regression floor (``MIN_RATIO``); (b) ratio <= 2x and <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import insert, select

from mcpctl_tui.llm.echo import ECHO_SEPARATOR
from mcpctl_tui.store.chat_context import _HISTORY_QUERY, _context_query
from mcpctl_tui.store.engine import Store, create_engine_for, open_store
from mcpctl_tui.store.messages import _SQL as WINDOW_SQL
from mcpctl_tui.store.messages import all_messages, last_messages
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.store.rows import sqlite_timestamp
from mcpctl_tui.store.threads import ThreadCursor, create_thread, list_threads
from mcpctl_tui.store.types import utcnow
from mcpctl_tui.store.usage import tally_query
from tests.support.chat_race import race_problems, send_all, sent_texts
from tests.support.databases import throwaway_db
from tests.support.seed import add_agent, add_llm

WRITERS = 8
SENDS_EACH = 100
# Regression floors for ours/bare, about half what a 2-core box measured when this was
# written (0.12 SQLite, 0.25 PostgreSQL): a send is two transactions of ORM work and
# round trips to the driver's thread, where the baseline sends bare statements.
MIN_RATIO = {"sqlite": 0.06, "postgresql": 0.12}
AGENTS = 50
THREADS = 2_000
MESSAGES = 100_000
BIG_THREAD_MESSAGES = 10_000
BIG_AGENT_THREADS = 400  # the agent whose thread list is paged
RUNS = 300


# --- (a) racing senders ------------------------------------------------------------------

SYSTEM_PROMPT = "Be brief."
_USAGE = json.dumps({"input_tokens": 3, "output_tokens": 6})
_TIMING = json.dumps({"ttft_ms": 0.1, "duration_ms": 0.2})


def _sender(
    url: str, agent: str, thread_id: int, name: str, n: int, go: Any, out: Any, bare: bool
) -> None:
    """One sender process: set up, wait for the others, send ``n`` turns, report its end."""
    texts = sent_texts(name, n)
    if bare:
        sql = _baseline_sql(url)
        send = _bare_sqlite if url.startswith("sqlite") else _bare_pg
        out.put(asyncio.run(send(url, sql, agent, thread_id, texts, go)))
        return

    async def ours() -> float:
        store = await open_store(url)
        try:
            await asyncio.to_thread(go.wait)
            await send_all(store, agent, thread_id, texts)
            return time.time()
        finally:
            await store.close()

    out.put(asyncio.run(ours()))


def _baseline_sql(url: str) -> dict[str, str]:
    """The statements a send runs, for the bare driver. The context read and the history
    are ChatService's own statements, compiled once; the writes are written out in the
    shapes it sends (see ``store.messages``)."""
    engine = create_engine_for(url)
    sqlite = engine.dialect.name == "sqlite"

    def compiled(stmt: Any, order: tuple[str, ...]) -> str:
        c = stmt.compile(dialect=engine.dialect)
        assert tuple(c.positiontup or ()) == order, c.positiontup
        return str(c)

    sql = {
        "context": compiled(_context_query(False, False, True), ("thread_id", "agent")),
        "history": compiled(_HISTORY_QUERY, ("thread_id",)),
    }
    p = (lambda i: "?") if sqlite else (lambda i: f"${i}")
    columns = "thread_id, turn_index, role, content, status, model, created_at"
    row = lambda first: "(" + ", ".join(p(first + i) for i in range(7)) + ")"  # noqa: E731
    sql["touch"] = f"UPDATE chat_thread SET last_turn_at = {p(1)} WHERE id = {p(2)}"
    sql["insert"] = (
        f"INSERT INTO chat_message ({columns}) VALUES {row(1)}"
        + ("" if sqlite else f", {row(8)}")
        + " RETURNING id"
    )
    sql["message"] = (
        "SELECT id, thread_id, turn_index, role, content, tool_calls, tool_call_id, status,"
        " error, thinking, usage, timing, personality, model, created_at"
        f" FROM chat_message WHERE id = {p(1)}"
    )
    sql["finish"] = (
        f"UPDATE chat_message SET content = {p(1)}, status = {p(2)}, usage = {p(3)},"
        f" timing = {p(4)} WHERE id = {p(5)}"
    )
    return sql


async def _bare_sqlite(
    url: str, sql: dict[str, str], agent: str, thread_id: int, texts: list[str], go: Any
) -> float:
    """The baseline on SQLite: a send's statements through sqlite3, no SQLAlchemy."""
    db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=30)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=NORMAL")
    go.wait()
    for text in texts:
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql["touch"], (sqlite_timestamp(utcnow()), thread_id))
        db.execute(sql["context"], (thread_id, agent)).fetchall()
        history = db.execute(sql["history"], (thread_id,)).fetchall()
        at = len(history)
        now = sqlite_timestamp(utcnow())
        db.execute(sql["insert"], (thread_id, at, "user", text, "complete", "", now)).fetchone()
        (reply_id,) = db.execute(
            sql["insert"], (thread_id, at + 1, "assistant", "", "pending", "", now)
        ).fetchone()
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql["message"], (reply_id,)).fetchone()
        reply = SYSTEM_PROMPT + ECHO_SEPARATOR + text
        db.execute(sql["finish"], (reply, "complete", _USAGE, _TIMING, reply_id))
        db.execute(sql["touch"], (sqlite_timestamp(utcnow()), thread_id))
        db.execute("COMMIT")
    db.close()
    return time.time()


async def _bare_pg(
    url: str, sql: dict[str, str], agent: str, thread_id: int, texts: list[str], go: Any
) -> float:
    """The baseline on PostgreSQL: a send's statements through asyncpg, no SQLAlchemy."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await asyncio.to_thread(go.wait)
        for text in texts:
            async with conn.transaction():
                await conn.execute(sql["touch"], utcnow(), thread_id)
                await conn.fetch(sql["context"], thread_id, agent)
                at = len(await conn.fetch(sql["history"], thread_id))
                now = utcnow()
                rows = await conn.fetch(
                    sql["insert"],
                    *(thread_id, at, "user", text, "complete", "", now),
                    *(thread_id, at + 1, "assistant", "", "pending", "", now),
                )
            reply_id = rows[1][0]
            async with conn.transaction():
                await conn.fetchrow(sql["message"], reply_id)
                reply = SYSTEM_PROMPT + ECHO_SEPARATOR + text
                await conn.execute(sql["finish"], reply, "complete", _USAGE, _TIMING, reply_id)
                await conn.execute(sql["touch"], utcnow(), thread_id)
    finally:
        await conn.close()
    return time.time()


def _race(url: str, agent: str, thread_id: int, sends: int, bare: bool, writers: int) -> float:
    """Seconds from the common start to the last sender's last send returning."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    go = ctx.Barrier(writers + 1)  # every sender set up and connected, then all at once
    procs = [
        ctx.Process(target=_sender, args=(url, agent, thread_id, f"w{n}", sends, go, out, bare))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    go.wait(timeout=600)
    start = time.time()
    ends = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0, f"sender exited {p.exitcode}"
    return max(ends) - start


async def bench_senders(url: str, sends: int, writers: int = WRITERS) -> dict[str, Any]:
    store = await open_store(url)
    try:
        async with store.transaction() as s:
            llm = await add_llm(s, name="echo", type="echo")
            agent = await add_agent(s, name="a", llm_id=llm.id, system_prompt=SYSTEM_PROMPT)
            ours_thread = await create_thread(s, agent.id, "race")
            bare_thread = await create_thread(s, agent.id, "baseline")
        turns = 2 * writers * sends
        bare_wall = await asyncio.to_thread(
            _race, url, agent.name, bare_thread.id, sends, True, writers
        )
        wall = await asyncio.to_thread(
            _race, url, agent.name, ours_thread.id, sends, False, writers
        )
        senders = {f"w{n}": sent_texts(f"w{n}", sends) for n in range(writers)}
        async with store.session() as s:
            problems = race_problems(await all_messages(s, ours_thread.id), senders)
            bare_problems = race_problems(await all_messages(s, bare_thread.id), senders)
        return {
            "wall_s": wall,
            "rate": turns / wall,
            "bare_rate": turns / bare_wall,
            "problems": problems,
            "bare_problems": bare_problems,
        }
    finally:
        await store.close()


# --- (b) reads on a big database --------------------------------------------------------


async def build_big_db(store: Store) -> tuple[int, int]:
    """50 agents, 2,000 threads, 100,000 messages (one thread of 10,000); bulk Core inserts."""
    now = utcnow()
    async with store.transaction() as s:
        llm = await add_llm(s, name="bench-llm", type="openai")
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
                    "parent_index": turn - 1 if turn else None,
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


def _compiled(stmt: Any, dialect: Any) -> str:
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


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
# The window as it was before branches: the columns alone, no branch marks.
UNMARKED_SQL = {
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

            page_ids = [t.id for t in await ours_threads()]
            usage_sql = _compiled(tally_query("thread", thread_ids=page_ids), conn.dialect)

            async def raw_threads() -> Any:  # the same two statements: threads, their usage
                rows = (await driver(THREAD_PAGE_SQL[dialect], args)).all()
                return rows, (await driver(usage_sql)).all()

            async def ours_messages() -> Any:
                return await last_messages(s, big_thread, 100)

            window_sql = WINDOW_SQL["last", dialect == "sqlite"]

            async def raw_messages() -> Any:
                return (await driver(window_sql, (big_thread, 100))).all()

            async def unmarked_messages() -> Any:
                return (await driver(UNMARKED_SQL[dialect], (big_thread, 100))).all()

            ours_page, (raw_page, _usage) = await ours_threads(), await raw_threads()
            assert [t.id for t in ours_page] == [r[0] for r in raw_page], "thread pages differ"
            assert [t.turn_count for t in ours_page] == [r[5] for r in raw_page]
            msgs = await ours_messages()
            assert [m.turn_index for m in msgs] == list(range(9_900, 10_000))
            results = {"build_s": build_s}
            for name, ours, raw in (
                ("page of 50 threads", ours_threads, raw_threads),
                ("last 100 messages", ours_messages, raw_messages),
                ("branch marks", raw_messages, unmarked_messages),
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
    ap.add_argument("--sends", type=int, default=SENDS_EACH, help="sends per process")
    ap.add_argument("--writers", type=int, default=WRITERS, help="sender processes")
    ap.add_argument("--skip-senders", action="store_true")
    ap.add_argument("--skip-reads", action="store_true")
    opts = ap.parse_args()
    backends = ["sqlite"] + ([] if opts.no_pg or not opts.pg else ["postgresql"])
    failed = False
    if not opts.skip_senders:
        print(
            f"(a) {opts.writers} sender processes x {opts.sends} sends through ChatService"
            " to one thread (echo LLM)"
        )
        widths = (12, 12, 16, 10, 8, 6)
        print(
            _line(
                "backend", "turns/s", "bare driver/s", "ours/bare", "check", "pass", widths=widths
            )
        )
        for backend in backends:
            async with throwaway_db(backend, opts.pg, "bench.db") as url:
                r = await bench_senders(url, opts.sends, opts.writers)
            ratio = r["rate"] / r["bare_rate"]
            checked = not r["problems"] and not r["bare_problems"]
            ok = checked and ratio >= MIN_RATIO[backend]
            failed |= not ok
            check = "ok" if checked else "FAIL"
            print(
                _line(
                    backend,
                    f"{r['rate']:.0f}",
                    f"{r['bare_rate']:.0f}",
                    f"{ratio:.2f}",
                    check,
                    "ok" if ok else "MISS",
                    widths=widths,
                )
            )
            for problem in r["problems"] + [f"baseline: {x}" for x in r["bare_problems"]]:
                print(f"    {problem}")
        print(
            "check: turn indexes 0..N-1, every turn once, each question followed by its"
            " answer, none pending; targets: ours/bare >="
            f" {MIN_RATIO['sqlite']:.2f} SQLite, {MIN_RATIO['postgresql']:.2f} PostgreSQL"
        )
        print()
    if not opts.skip_reads:
        print(
            f"(b) {AGENTS} agents, {THREADS:,} threads, {MESSAGES:,} messages;"
            f" median of {RUNS} runs"
        )
        print(_line("backend", "query", "ours ms", "raw SQL ms", "ratio", "pass"))
        for backend in backends:
            async with throwaway_db(backend, opts.pg, "bench.db") as url:
                r = await bench_reads(url)
            print(_line(backend, f"(built in {r['build_s']:.1f} s)"))
            for name in ("page of 50 threads", "last 100 messages", "branch marks"):
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
        print(
            "targets: ratio <= 2.00x, ours <= 10 ms (branch marks: the window with them /"
            " without, both raw)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
