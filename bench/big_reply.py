"""One very large reply: the chat engine's peak memory against the reply's own size.

    .venv/bin/python -m bench.big_reply [--mib 100] [--pg URL]

A real OpenAI-format server in its own process streams a reply of ``--mib`` MiB (4,000
characters a chunk) into ``ChatService`` (its reply size limit raised to fit), as
``chat -m`` drives it, and the reply is stored: on a fresh SQLite file, and on a fresh
PostgreSQL database when ``--pg`` (or ``MCPCTL_TUI_TEST_PG_URL``) names a server. Each
send runs in a child process that never held the reply, so its peak RSS growth is the
engine's. Target: <= 2x the reply (the probe saw 480 MB for 100 MB).

Beside each backend, in the same run: the floor, a child that holds the reply as one
string and stores it with one bare driver call (``sqlite3`` / ``asyncpg``) and nothing
of ours. SQLite copies a bound text twice (the bind, then the record), so its floor is
about 3x whatever holds the text: that part is SQLite's, and the line says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcpctl_tui.chat.events import TurnEnded  # noqa: E402
from mcpctl_tui.chat.service import ChatService  # noqa: E402
from mcpctl_tui.store.engine import open_store  # noqa: E402
from tests.support.databases import PG_ENV, _asyncpg_dsn, throwaway_db  # noqa: E402
from tests.support.llm_servers import ServerProcess, openai_reply  # noqa: E402
from tests.support.seed import add_agent, add_llm  # noqa: E402

PIECE = 4000


def peak_mib() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it starts afresh at exec,
    not at the spawning parent's size)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def child(url: str, max_reply: int) -> None:
    """The send, in a process that never held the reply: its peak growth is the engine's."""
    store = await open_store(url)
    try:
        async with ChatService(store, max_reply=max_reply) as svc:
            before = peak_mib()
            t0 = time.perf_counter()
            ended = None
            async for event in svc.send("a", "everything, please"):
                if isinstance(event, TurnEnded):
                    ended = event
            seconds = time.perf_counter() - t0
            grown = peak_mib() - before
    finally:
        await store.close()
    assert ended is not None and ended.status.value == "complete", ended
    print(json.dumps({"size": len(ended.text) / 2**20, "seconds": seconds, "grown": grown}))


async def floor(url: str, mib: int) -> None:
    """The same text stored by one bare driver call: what the database itself costs."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split(":///", 1)[1])
        db.execute("CREATE TABLE IF NOT EXISTS big (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT OR REPLACE INTO big VALUES (1, '')")
        db.commit()
        before = peak_mib()
        db.execute("UPDATE big SET body = ? WHERE id = 1", ("x" * (mib * 2**20),))
        db.commit()
    else:
        import asyncpg

        pg = await asyncpg.connect(_asyncpg_dsn(url))
        await pg.execute("CREATE TABLE IF NOT EXISTS big (id int PRIMARY KEY, body text)")
        await pg.execute("INSERT INTO big VALUES (1, '') ON CONFLICT DO NOTHING")
        before = peak_mib()
        await pg.execute("UPDATE big SET body = $1 WHERE id = 1", "x" * (mib * 2**20))
        await pg.close()
    print(json.dumps({"size": float(mib), "seconds": 0.0, "grown": peak_mib() - before}))


async def run_child(*args: str) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.big_reply", *args]
    out = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def measure(backend: str, mib: int, pg: str | None) -> None:
    pieces = mib * 2**20 // PIECE
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with (
            ServerProcess([openai_reply(["x" * PIECE] * pieces)], workdir=tmp) as srv,
            throwaway_db(backend, pg, "big.db") as url,
        ):
            store = await open_store(url)
            try:
                llm = await add_llm(store, "big", type="openai", url=srv.url, model="m")
                await add_agent(store, "a", llm.id)
            finally:
                await store.close()
            r = await run_child("--child", url, str((mib + 8) * 2**20))
            f = await run_child("--floor", url, str(mib))
    ratio, base = r["grown"] / r["size"], f["grown"] / f["size"]
    print(
        f"{backend:<10} reply {r['size']:.0f} MiB in {r['seconds']:.1f} s; peak RSS grew "
        f"{r['grown']:.0f} MiB = {ratio:.2f}x   {'ok  ' if ratio <= 2 else 'MISS'} target <= 2x"
    )
    print(
        f"{'':<10} floor: the bare driver storing one {f['size']:.0f} MiB string grew "
        f"{f['grown']:.0f} MiB = {base:.2f}x; the engine adds {ratio - base:+.2f}x over it"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--pg", default=os.environ.get(PG_ENV), help="a PostgreSQL server URL")
    ap.add_argument("--child", nargs=2, metavar=("URL", "MAX_REPLY"), help=argparse.SUPPRESS)
    ap.add_argument("--floor", nargs=2, metavar=("URL", "MIB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or args.floor:
        if args.child:
            await child(args.child[0], int(args.child[1]))
        else:
            await floor(args.floor[0], int(args.floor[1]))
        sys.stdout.flush()
        os._exit(0)
    for backend in ["sqlite", "postgresql"] if args.pg else ["sqlite"]:
        await measure(backend, args.mib, args.pg)


if __name__ == "__main__":
    asyncio.run(main())
