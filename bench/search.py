"""Full-text search over stored turns: first-page latency at scale, and what the index costs.

    .venv/bin/python -m bench.search [--turns 1000000] [--pg URL] [--sqlite-only] [--runs 20]

For SQLite (a temp file) and PostgreSQL (a fresh database next to ``--pg``'s, or
``MCPCTL_TUI_TEST_PG_URL``'s, dropped afterwards), in one run:

1. Seed ``--turns`` turns into a database ``open_store`` migrated to head: 3 agents on 2
   LLMs (70/25/5% of the threads), threads of 20 turns, user turns of 8-20 words and
   replies of 30-80, sentences drawn from 4,000 words with Zipf's law (``the`` in almost
   every turn, the tail in ~0.1%); planted: ``quokka`` in exactly 12 turns, the phrase
   ``disk full`` in 1 turn in 997. Bulk driver writes (sqlite3 ``executemany``, asyncpg
   ``COPY``) into the real schema, so the index is kept as the app's rows keep it (FTS5
   triggers; the generated ``tsvector`` and its GIN index). PostgreSQL then gets the
   ``VACUUM ANALYZE`` autovacuum would give it. Seeding time is printed.
2. The first page, ``search_turns(s, q, limit=20)``: p50 and p95 of each query shape over
   ``--runs`` rounds (the shapes interleaved, after one warm-up round). Target: the p95
   over every query of the run <= 50 ms, per backend.
3. Append cost: the seeded database is copied (SQLite: the file; PostgreSQL: CREATE
   DATABASE ... TEMPLATE) and the copy's index dropped (the FTS table and its triggers;
   the GIN index and the ``content_tsv`` column), so both hold the same rows. Appends go
   as the app's do (``_begin_send``: ``lock_thread`` + ``insert_turns`` of the question
   and a pending placeholder in one transaction; ``finish_turn``: ``finish_message``
   with a ~300-character reply), in rounds that alternate between the two databases
   (which goes first alternates too). Target: median ms per append with / without <= 1.3x.
   PostgreSQL's GIN takes new entries into its pending list (``fastupdate``); merging it
   (when it passes 4 MB, or at vacuum) is not among the appends timed here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from mcpctl_tui.store.engine import Store, open_store  # noqa: E402
from mcpctl_tui.store.messages import (  # noqa: E402
    NewMessage,
    finish_message,
    insert_turns,
    lock_thread,
)
from mcpctl_tui.store.rows import sqlite_timestamp  # noqa: E402
from mcpctl_tui.store.search import SearchFilter, search_turns  # noqa: E402
from mcpctl_tui.store.types import MessageStatus, utcnow  # noqa: E402
from tests.support.databases import (  # noqa: E402
    PG_ENV,
    _asyncpg_dsn,
    fresh_pg_database,
    throwaway_db,
)
from tests.support.seed import add_agent, add_llm  # noqa: E402

TURNS = 1_000_000
PER_THREAD = 20
CHUNK = 50_000
RARE, RARE_COUNT, PHRASE, PHRASE_EVERY = "quokka", 12, "disk full", 997
P95_TARGET_MS = 50.0
APPEND_TARGET = 1.3
APPEND_ROUNDS, APPENDS_PER_ROUND, APPEND_THREADS = 6, 60, 50
AGENTS = (("main", "llm-a"), ("helper", "llm-a"), ("scout", "llm-b"))

_REAL_TEXT = (
    "the to and of a i you it is that in this for on be with not can are as have do your "
    "we if but so what will at or just from all was by an use one me there would like my "
    "should they get need file then some more when here how make which out run about no "
    "also error see up code now test only new into check time other could want work these "
    "because try data set first way its them server add let value change config line "
    "function case return build our sure name update path list type problem thanks log "
    "start call fix version output same default after before issue yes back model query "
    "disk full table user key memory write read deploy deployed deploying deployment "
    "deployments request response cache index search thread agent prompt reply token "
    "network timeout retry install package module import class method string number"
)
REAL = _REAL_TEXT.split()
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def vocabulary(size: int = 4000) -> tuple[list[str], list[float]]:
    """Real words at the top ranks, pronounceable made-up words in the tail; Zipf weights."""
    rng = random.Random(7)
    made = sorted({a + b for a in SYLLABLES for b in SYLLABLES} - set(REAL))
    made += sorted({a + b + c for a in SYLLABLES[:20] for b in SYLLABLES for c in "nrs"})
    rng.shuffle(made)
    words = REAL + [w for w in made if w not in REAL][: size - len(REAL)]
    return words, list(accumulate(1.0 / rank for rank in range(1, len(words) + 1)))


WORDS, CUM = vocabulary()


def sentences(rng: random.Random, n: int) -> str:
    """``n`` words from the vocabulary, as sentences of 6-14 words."""
    words = rng.choices(WORDS, cum_weights=CUM, k=n)
    out: list[str] = []
    while words:
        k = rng.randint(6, 14)
        part, words = words[:k], words[k:]
        out.append(part[0].capitalize() + " " + " ".join(part[1:]) + ".")
    return " ".join(out)


def turn_texts(turns: int, start: int, count: int) -> list[str]:
    """Turns ``start`` .. ``start + count - 1`` (the same text on every backend)."""
    rng = random.Random(start)
    rare_at = {k * turns // RARE_COUNT + 5 for k in range(RARE_COUNT)}
    texts = []
    for i in range(start, start + count):
        text = sentences(rng, rng.randint(8, 20) if i % 2 == 0 else rng.randint(30, 80))
        if i % PHRASE_EVERY == 3:
            text += f" The {PHRASE} alert fired again."
        if i in rare_at:
            text += f" A {RARE} in the logs."
        texts.append(text)
    return texts


def agent_of_thread(t: int) -> int:
    """Index into AGENTS: 70% main, 25% helper, 5% scout."""
    r = t % 20
    return 0 if r < 14 else 1 if r < 19 else 2


def rows(turns: int, agent_ids: list[int], t0: datetime) -> Iterator[tuple[list[Any], list[Any]]]:
    """Chunks of (threads, turns) rows: turn ``i`` at ``t0 + i`` seconds, ids in that order."""
    for start in range(0, turns, CHUNK):
        count = min(CHUNK, turns - start)
        threads = [
            [t + 1, agent_ids[agent_of_thread(t)], f"thread {t}", t0 + timedelta(seconds=t * 20)]
            for t in range(start // PER_THREAD, (start + count - 1) // PER_THREAD + 1)
            if t * PER_THREAD >= start
        ]
        msgs = [
            [i // PER_THREAD + 1, i % PER_THREAD, "assistant" if i % 2 else "user", text,
             "complete", "m" if i % 2 else None, t0 + timedelta(seconds=i),
             i % PER_THREAD - 1 if i % PER_THREAD else None]
            for i, text in zip(range(start, start + count), turn_texts(turns, start, count),
                               strict=True)
        ]  # fmt: skip
        yield threads, msgs


MSG_COLUMNS = [
    "thread_id", "turn_index", "role", "content", "status", "model", "created_at", "parent_index"
]  # fmt: skip


async def seed(store: Store, url: str, turns: int) -> None:
    llms: dict[str, int] = {}
    agent_ids = []
    for name, llm in AGENTS:
        if llm not in llms:
            llms[llm] = (await add_llm(store, llm, type="openai", model="m")).id
        agent_ids.append((await add_agent(store, name, llms[llm])).id)
    t0 = utcnow() - timedelta(seconds=turns + 3600)
    if store.is_sqlite:
        db = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for threads, msgs in rows(turns, agent_ids, t0):
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO chat_thread (id, agent_id, title, created_at, last_turn_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [[*t[:3], sqlite_timestamp(t[3]), sqlite_timestamp(t[3])] for t in threads],
            )
            db.executemany(
                f"INSERT INTO chat_message ({', '.join(MSG_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?)",
                [[*m[:6], sqlite_timestamp(m[6]), m[7]] for m in msgs],
            )
            db.execute("COMMIT")
        db.close()
        return
    pg = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        for threads, msgs in rows(turns, agent_ids, t0):
            cols = ["id", "agent_id", "title", "created_at", "last_turn_at"]
            recs = [(*t, t[3]) for t in threads]
            await pg.copy_records_to_table("chat_thread", records=recs, columns=cols)
            await pg.copy_records_to_table("chat_message", records=msgs, columns=MSG_COLUMNS)
        await pg.execute("SELECT setval(pg_get_serial_sequence('chat_thread', 'id'), max(id))"
                         " FROM chat_thread")  # fmt: skip
        await pg.execute("VACUUM ANALYZE")
    finally:
        await pg.close()


DROP_SQLITE = [
    *(f"DROP TRIGGER chat_message_fts_{op}" for op in ("insert", "delete", "update")),
    "DROP TABLE chat_message_fts",
]
DROP_PG = [
    "DROP INDEX ix_chat_message_content_tsv",
    "ALTER TABLE chat_message DROP COLUMN content_tsv",
]


@asynccontextmanager
async def unindexed_copy(
    url: str, drop_sqlite: list[str] = DROP_SQLITE, drop_pg: list[str] = DROP_PG
) -> AsyncIterator[str]:
    """A copy of the (closed) database at ``url`` without the search index (or without
    what ``drop_sqlite`` / ``drop_pg`` drop)."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        bare = path.with_name("unindexed.db")
        shutil.copyfile(path, bare)
        db = sqlite3.connect(bare, isolation_level=None)
        for stmt in drop_sqlite:
            db.execute(stmt)
        db.close()
        yield f"sqlite+aiosqlite:///{bare}"
        return
    async with fresh_pg_database(url, template=url.rsplit("/", 1)[1]) as copy:
        conn = await asyncpg.connect(_asyncpg_dsn(copy))
        try:
            for stmt in drop_pg:
                await conn.execute(stmt)
        finally:
            await conn.close()
        yield copy


def queries(sqlite: bool) -> list[tuple[str, str, SearchFilter]]:
    two = f"{WORDS[60]} {WORDS[300]}"
    prefix = "deploy*" if sqlite else "deploy:*"
    return [
        ("common word", WORDS[0], SearchFilter()),
        ("rare word", RARE, SearchFilter()),
        ("two words", two, SearchFilter()),
        ("phrase", f'"{PHRASE}"', SearchFilter()),
        ("prefix", prefix, SearchFilter()),
        (f"{WORDS[40]} agent=scout", WORDS[40], SearchFilter(agent="scout")),
        ("no match", "xylophonist", SearchFilter()),
    ]


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, round(p * (len(xs) - 1)))]


async def bench_queries(store: Store, runs: int) -> tuple[list[list[Any]], float]:
    shapes = queries(store.is_sqlite)
    times: list[list[float]] = [[] for _ in shapes]
    hits: list[int] = [0] * len(shapes)
    async with store.session() as s:
        for run in range(runs + 1):  # round 0 warms up
            for n, (_label, q, where) in enumerate(shapes):
                t0 = time.perf_counter()
                found = await search_turns(s, q, where, limit=20)
                ms = (time.perf_counter() - t0) * 1000
                if run:
                    times[n].append(ms)
                hits[n] = len(found)
                if where.agent:
                    assert all(h.agent == where.agent for h in found), "filter leaked"
                ids = [h.message_id for h in found]
                assert ids == sorted(ids, reverse=True), f"{q!r}: not newest first"
            await s.rollback()  # no snapshot held across rounds
    assert hits[1] == RARE_COUNT and hits[-1] == 0 and hits[0] == 20, hits
    table = [
        [label, q, hits[n], pct(times[n], 0.5), pct(times[n], 0.95)]
        for n, (label, q, _w) in enumerate(shapes)
    ]
    return table, pct([t for ts in times for t in ts], 0.95)


async def append_round(store: Store, rng: random.Random, at: dict[int, int], n: int) -> float:
    """Mean ms of ``n`` appends, each the app's two transactions (begin, finish)."""
    t0 = time.perf_counter()
    for k in range(n):
        thread = 1 + k % APPEND_THREADS
        idx = at[thread]
        question = sentences(rng, 12)
        reply = sentences(rng, 70)[:300]
        async with store.transaction() as s:
            assert await lock_thread(s, thread)
            placeholder = NewMessage("assistant", status=MessageStatus.PENDING, model="m")
            _user, reply_id = await insert_turns(
                s, thread, idx, [NewMessage("user", question), placeholder]
            )
        await finish_message(
            store,
            reply_id,
            thread,
            idx + 1,
            content=reply,
            status=MessageStatus.COMPLETE,
            usage={"input_tokens": 20, "output_tokens": 80},
            timing={"ttft_ms": 120.0, "duration_ms": 900.0},
        )
        at[thread] = idx + 2
    return (time.perf_counter() - t0) * 1000 / n


async def bench_appends(with_url: str, without_url: str) -> tuple[float, float]:
    stores = {True: await open_store(with_url), False: await open_store(without_url)}
    try:
        ms: dict[bool, list[float]] = {True: [], False: []}
        ats = {k: dict.fromkeys(range(1, APPEND_THREADS + 1), PER_THREAD) for k in stores}
        for r in range(APPEND_ROUNDS):
            for indexed in (True, False) if r % 2 == 0 else (False, True):
                rng = random.Random(r)  # the same texts on both
                ms[indexed].append(
                    await append_round(stores[indexed], rng, ats[indexed], APPENDS_PER_ROUND)
                )
        return statistics.median(ms[True]), statistics.median(ms[False])
    finally:
        for store in stores.values():
            await store.close()


async def measure(backend: str, pg: str | None, turns: int, runs: int) -> bool:
    async with throwaway_db(backend, pg, "search.db") as url:
        store = await open_store(url)
        try:
            t0 = time.perf_counter()
            await seed(store, url, turns)
            seeded = time.perf_counter() - t0
        finally:
            await store.close()
        print(f"{backend}: seeded {turns:,} turns in {seeded:.1f} s ({turns / seeded:,.0f}/s)")
        async with unindexed_copy(url) as bare_url:
            store = await open_store(url)
            try:
                table, p95 = await bench_queries(store, runs)
            finally:
                await store.close()
            print(f"  {'query':<22} {'as typed':<22} {'hits':>4} {'p50 ms':>8} {'p95 ms':>8}")
            for label, q, hits, p50, q95 in table:
                print(f"  {label:<22} {q:<22} {hits:>4} {p50:>8.2f} {q95:>8.2f}")
            q_ok = p95 <= P95_TARGET_MS
            print(
                f"  first page p95 over all {len(table)} queries x {runs} runs: {p95:.2f} ms"
                f"   {'ok  ' if q_ok else 'MISS'} target <= {P95_TARGET_MS:.0f} ms"
            )
            a_ok = await measure_appends(url, bare_url, "the index")
        return q_ok and a_ok


async def measure_appends(url: str, bare_url: str, what: str) -> bool:
    """``bench_appends`` on the two databases, printed as the ratio with / without ``what``."""
    with_ms, without_ms = await bench_appends(url, bare_url)
    ratio = with_ms / without_ms
    ok = ratio <= APPEND_TARGET
    print(
        f"  append (question + placeholder, then the reply's finish), median of"
        f" {APPEND_ROUNDS} rounds x {APPENDS_PER_ROUND}: {with_ms:.2f} ms with {what},"
        f" {without_ms:.2f} ms without = {ratio:.2f}x"
        f"   {'ok  ' if ok else 'MISS'} target <= {APPEND_TARGET}x"
    )
    return ok


Measure = Callable[[str, str | None, int, int], Awaitable[bool]]


async def bench_main(doc: str | None, measure: Measure, runs: int, runs_help: str) -> int:
    """The command line both big-store benches share: each backend measured in turn."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    ap.add_argument("--turns", type=int, default=TURNS)
    ap.add_argument("--pg", metavar="URL", default=os.environ.get(PG_ENV))
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--runs", type=int, default=runs, help=runs_help)
    opts = ap.parse_args()
    if opts.turns < PER_THREAD * APPEND_THREADS:
        ap.error(f"--turns must be at least {PER_THREAD * APPEND_THREADS}")
    backends = ["sqlite"] + ([] if opts.sqlite_only or not opts.pg else ["postgresql"])
    ok = True
    for backend in backends:
        ok &= await measure(backend, opts.pg, opts.turns, opts.runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(bench_main(__doc__, measure, 20, "rounds of the query set")))
