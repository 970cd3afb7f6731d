"""The change feed: idle cost and write -> Change latency, on both backends, in one run.

    .venv/bin/python -m bench.changes [--backend sqlite|postgresql|both] [--idle 10]
        [--writes 40]

PostgreSQL uses a throw-away database next to $MCPCTL_TUI_TEST_PG_URL (or --pg-url).

1. Idle CPU: this process's CPU time (user + system, every thread: aiosqlite's too, from
   ``resource.getrusage``) over ``--idle`` seconds of wall time while ``store.changes.watch``
   runs with its defaults and nothing writes; as a % of one core (target <= 1 %). The
   baseline, measured in the same run, is an event loop doing nothing for as long.
2. Latency: another engine (its own connections, as another process would) commits one
   row at a time, at random moments; the time from the start of its write (the commit
   included: a NOTIFY can arrive before the writer's commit returns) to the Change;
   p50 and p95 (SQLite is bounded by the poll interval, 0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # python bench/X.py too

from mcpctl_tui.store.changes import watch
from mcpctl_tui.store.engine import Store, open_store
from tests.support.databases import PG_ENV, fresh_pg_database
from tests.support.seed import add_project


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def idle_cpu(seconds: float, store: Store | None) -> float:
    """% of one core used over ``seconds`` (with the feed running when ``store`` is given)."""
    async with contextlib.AsyncExitStack() as stack:
        if store is not None:
            changes = await stack.enter_async_context(watch(store))
            drain = asyncio.create_task(_drain(changes))
            stack.callback(drain.cancel)
        await asyncio.sleep(1.0)  # past connection set-up
        c0, t0 = _cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        c1, t1 = _cpu(), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0)


async def _drain(changes: AsyncIterator[object]) -> None:
    async for _ in changes:
        pass


async def latency(store: Store, writes: int) -> list[float]:
    writer = await open_store(store.url)
    out: list[float] = []
    try:
        async with watch(store) as changes:
            await asyncio.sleep(0.5)
            for i in range(writes):
                await asyncio.sleep(random.uniform(0.05, 0.6))  # not in step with the poll
                done = time.perf_counter()  # from the start of the write: its commit counts
                await add_project(writer, f"bench-{i}")
                async with asyncio.timeout(10):
                    await anext(changes)
                out.append(time.perf_counter() - done)
    finally:
        await writer.close()
    return out


@contextlib.asynccontextmanager
async def backend_store(backend: str, pg_url: str | None) -> AsyncIterator[Store]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            store = await open_store(f"sqlite+aiosqlite:///{d}/bench.db")
            try:
                yield store
            finally:
                await store.close()
        return
    assert pg_url is not None
    async with fresh_pg_database(pg_url) as url:
        store = await open_store(url)
        try:
            yield store
        finally:
            await store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--writes", type=int, default=40)
    ap.add_argument("--pg-url", default=os.environ.get(PG_ENV))
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not args.pg_url:
        print(f"postgresql skipped: set {PG_ENV} or --pg-url")
        backends.remove("postgresql")
    base = await idle_cpu(args.idle, None)
    print(f"baseline: an idle event loop uses {base:.3f} % of a core over {args.idle:g} s")
    for backend in backends:
        async with backend_store(backend, args.pg_url) as store:
            cpu = await idle_cpu(args.idle, store)
            lat = await latency(store, args.writes)
        print(
            f"{backend:10s} idle CPU with the feed {cpu:.3f} % (baseline {base:.3f} %, "
            f"feed adds {cpu - base:.3f} %; target <= 1 %) | write->Change over "
            f"{len(lat)} writes (from the start of the write): p50 {statistics.median(lat):.4f} s, "
            f"p95 {pct(lat, 0.95):.4f} s, max {max(lat):.4f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
