"""Usage and cost at scale: what the views' usage columns cost to read, and what keeping
the running sums (``reply_usage``, migration 0009) costs each reply.

    .venv/bin/python -m bench.usage [--turns 1000000] [--pg URL] [--sqlite-only] [--runs 9]

For SQLite (a temp file) and PostgreSQL (a fresh database next to ``--pg``'s, or
``MCPCTL_TUI_TEST_PG_URL``'s, dropped afterwards), in one run:

1. Seed ``--turns`` turns (threads of 20, 12 agents on 3 LLMs: USD-priced, EUR-priced,
   unpriced; 1 reply in 20 without usage) with bulk driver writes into the real schema,
   so the triggers keep the sums as the app's writes keep them.
2. Reads, median of ``--runs``: the agents and llms views (``overview.lines``, the usage
   columns included) and ``usage --by agent``, beside the same per-agent sums computed
   from the turns themselves (every reply's JSON: what the columns cost before the
   running sums). Target: each <= 50 ms at 1,000,000 turns. The threads view (its 5,000
   newest threads) and its usage column alone are printed without a target: listing the
   threads is most of that view.
3. Append cost: the database is copied and the copy's usage triggers dropped; appends
   as the app's (question + placeholder, then the reply's finish with usage) alternate
   between the two (``bench.search.bench_appends``). Target: with / without <= 1.3x.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from sqlalchemy import and_, case, func, or_, select  # noqa: E402

from bench.search import bench_main, measure_appends, unindexed_copy  # noqa: E402
from mcpctl_tui.store.engine import Store, open_store  # noqa: E402
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread  # noqa: E402
from mcpctl_tui.store.overview import THREAD_LIMIT, lines, newest_threads  # noqa: E402
from mcpctl_tui.store.rows import sqlite_timestamp  # noqa: E402
from mcpctl_tui.store.types import Prices, utcnow  # noqa: E402
from mcpctl_tui.store.usage import tally_by, usage_rows  # noqa: E402
from tests.support.databases import _asyncpg_dsn, throwaway_db  # noqa: E402
from tests.support.seed import add_agent, add_llm  # noqa: E402

PER_THREAD, CHUNK = 20, 50_000
VIEW_TARGET_MS = 50.0
LLMS = (("gpt-usd", Prices(2.5, 10.0)), ("mistral-eur", Prices(2.0, 6.0, "EUR")), ("local", None))
AGENTS = 12
COLUMNS = [
    "thread_id", "turn_index", "role", "content", "status", "usage", "llm", "created_at",
    "parent_index",
]  # fmt: skip
DROP_SQLITE = [
    f"DROP TRIGGER reply_usage_{op}" for op in ("insert", "delete", "update_old", "update_new")
]
DROP_PG = ["DROP TRIGGER reply_usage_track ON chat_message"]


async def seed(store: Store, url: str, turns: int) -> None:
    llms = [(await add_llm(store, n, type="openai", model="m", prices=p)).name for n, p in LLMS]
    agent_ids = [
        (await add_agent(store, f"agent-{i}", (await _llm_id(store, llms[i % 3])))).id
        for i in range(AGENTS)
    ]
    t0 = utcnow() - timedelta(days=60)
    sqlite = store.is_sqlite
    db = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None) if sqlite else None
    pg = None if sqlite else await asyncpg.connect(_asyncpg_dsn(url))
    try:
        for start in range(0, turns, CHUNK):
            end = min(turns, start + CHUNK)
            first_t, last_t = start // PER_THREAD, (end - 1) // PER_THREAD
            threads = [
                (t + 1, agent_ids[t % AGENTS], f"thread {t}", t0 + timedelta(seconds=t * 5))
                for t in range(first_t, last_t + 1)
                if t * PER_THREAD >= start
            ]
            msgs = []
            for i in range(start, end):
                t, idx = i // PER_THREAD, i % PER_THREAD
                reply = idx % 2 == 1
                usage = (
                    None
                    if not reply or i % 40 == 1
                    else {"input_tokens": 200 + i % 700, "output_tokens": 50 + i % 300}
                )
                at = t0 + timedelta(seconds=i * 5)
                msgs.append(
                    (t + 1, idx, "assistant" if reply else "user", "text", "complete",
                     usage, llms[(t % AGENTS) % 3] if reply else None, at, idx - 1 if idx else None)
                )  # fmt: skip
            if db is not None:
                db.execute("BEGIN")
                db.executemany(
                    "INSERT INTO chat_thread (id, agent_id, title, created_at, last_turn_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(*x[:3], sqlite_timestamp(x[3]), sqlite_timestamp(x[3])) for x in threads],
                )
                db.executemany(
                    f"INSERT INTO chat_message ({', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?,?,?)",
                    [(*m[:5], None if m[5] is None else json.dumps(m[5]), m[6],
                      sqlite_timestamp(m[7]), m[8]) for m in msgs],
                )  # fmt: skip
                db.execute("COMMIT")
            else:
                assert pg is not None
                cols = ["id", "agent_id", "title", "created_at", "last_turn_at"]
                await pg.copy_records_to_table(
                    "chat_thread", records=[(*x, x[3]) for x in threads], columns=cols
                )
                await pg.copy_records_to_table(
                    "chat_message",
                    records=[(*m[:5], None if m[5] is None else json.dumps(m[5]), *m[6:])
                             for m in msgs],
                    columns=COLUMNS,
                )  # fmt: skip
        if pg is not None:
            await pg.execute(
                "SELECT setval(pg_get_serial_sequence('chat_thread', 'id'), max(id))"
                " FROM chat_thread"
            )
            await pg.execute("VACUUM ANALYZE")
    finally:
        if db is not None:
            db.close()
        if pg is not None:
            await pg.close()


async def _llm_id(store: Store, name: str) -> int:
    from mcpctl_tui.store.models import Llm

    async with store.session() as s:
        return int((await s.execute(select(Llm.id).where(Llm.name == name))).scalar_one())


def _scan_by_agent() -> Any:
    """The per-agent sums from the turns themselves (the columns' cost without the
    running sums): every reply's usage JSON read."""
    m = ChatMessage
    inp, out = m.usage["input_tokens"].as_integer(), m.usage["output_tokens"].as_integer()
    known = and_(inp.is_not(None), out.is_not(None))
    return (
        select(
            Agent.name,
            func.count(),
            func.sum(case((known, inp), else_=0)),
            func.sum(case((known, out), else_=0)),
        )
        .select_from(m)
        .join(ChatThread, ChatThread.id == m.thread_id)
        .join(Agent, Agent.id == ChatThread.agent_id)
        .where(
            m.role == "assistant", m.status != "pending", or_(m.usage.is_not(None), m.content != "")
        )
        .group_by(Agent.name)
    )


async def _view(view: str, s: Any) -> Any:
    return await lines(s, view, heartbeat_timeout=90)


async def _threads_usage(s: Any) -> Any:
    """The threads view's usage column alone: its newest threads' sums."""
    return await tally_by(s, "thread", thread_ids=newest_threads())


async def _median_ms(store: Store, runs: int, read: Any) -> float:
    times = []
    for _ in range(runs + 1):  # the first is a warm-up
        async with store.session() as s:
            t0 = time.perf_counter()
            await read(s)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[1:])


async def measure(backend: str, pg: str | None, turns: int, runs: int) -> bool:
    async with throwaway_db(backend, pg, "usage.db") as url:
        store = await open_store(url)
        try:
            t0 = time.perf_counter()
            await seed(store, url, turns)
            print(f"{backend}: seeded {turns:,} turns in {time.perf_counter() - t0:.1f} s")
            reads: dict[str, Any] = {
                f"{v} view": functools.partial(_view, v) for v in ("agents", "llms")
            }
            reads["usage --by agent"] = lambda s: usage_rows(s, "agent", None)
            scan = await _median_ms(store, max(1, runs // 3), lambda s: s.execute(_scan_by_agent()))
            ok = True
            print(f"  per-agent sums from the turns themselves: {scan:.0f} ms")
            for label, read in reads.items():
                ms = await _median_ms(store, runs, read)
                fits = ms <= VIEW_TARGET_MS
                ok &= fits
                print(
                    f"  {label:<18} {ms:8.1f} ms   {'ok  ' if fits else 'MISS'} target <= "
                    f"{VIEW_TARGET_MS:.0f} ms   ({scan / ms:.1f}x faster than from the turns)"
                )
            # Listing its 5,000 newest threads is most of the threads view: its usage
            # column is measured alone beside it, without a target of its own.
            whole = await _median_ms(store, runs, functools.partial(_view, "threads"))
            column = await _median_ms(store, runs, _threads_usage)
            print(
                f"  threads view       {whole:8.1f} ms   (its {THREAD_LIMIT:,} newest threads at"
                f" most; their usage column {column:.1f} ms of it, {column / whole:.0%})"
            )
        finally:
            await store.close()
        async with unindexed_copy(url, DROP_SQLITE, DROP_PG) as bare:
            fits = await measure_appends(url, bare, "the usage triggers")
        return ok and fits


if __name__ == "__main__":
    sys.exit(asyncio.run(bench_main(__doc__, measure, 9, "reads of each view")))
