"""One very large reply: the chat engine's peak memory against the reply's own size.

    .venv/bin/python -m bench.big_reply [--mib 100] [--pg URL]

A real OpenAI-format server in its own process streams a reply of ``--mib`` MiB (4,000
characters a chunk) into ``ChatService`` (its reply size limit raised to fit) on a fresh
store, as ``chat -m`` drives it, and the reply is stored. Printed: the reply's size, how
far this process's peak RSS grew over the send, and the ratio. Target: <= 2x the reply
(the probe saw 480 MB for 100 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.engine import open_store
from tests.support.llm_servers import ServerProcess, openai_reply
from tests.support.seed import add_agent, add_llm

PIECE = 4000


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    args = ap.parse_args()
    pieces = args.mib * 2**20 // PIECE
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'big.db'}"
        reply = openai_reply(["x" * PIECE] * pieces)
        async with ServerProcess([reply], workdir=Path(tmp)) as srv:
            del reply  # the server holds it, in its own process
            store = await open_store(url)
            try:
                llm = await add_llm(store, "big", type="openai", url=srv.url, model="m")
                await add_agent(store, "a", llm.id)
                async with ChatService(store, max_reply=(args.mib + 8) * 2**20) as svc:
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
    size = len(ended.text) / 2**20
    print(f"reply {size:.0f} MiB in {seconds:.1f} s; peak RSS grew {grown:.0f} MiB")
    ratio = grown / size
    verdict = "ok  " if ratio <= 2 else "MISS"
    print(f"peak growth / reply size: {ratio:.2f}x   {verdict} target <= 2x")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
