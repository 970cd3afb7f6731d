"""One very large reply: the chat engine's peak memory against the reply's own size.

    .venv/bin/python -m bench.big_reply [--mib 100]

A real OpenAI-format server in its own process streams a reply of ``--mib`` MiB (4,000
characters a chunk) into ``ChatService`` (its reply size limit raised to fit) on a fresh
SQLite store, as ``chat -m`` drives it, and the reply is stored; the send runs in a child
process that never held the reply. Printed: the reply's size, how far that process's
peak RSS grew over the send, and the ratio. Target: <= 2x the reply
(the probe saw 480 MB for 100 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--child", nargs=2, metavar=("URL", "MAX_REPLY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        await child(args.child[0], int(args.child[1]))
        sys.stdout.flush()
        os._exit(0)
    pieces = args.mib * 2**20 // PIECE
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'big.db'}"
        async with ServerProcess([openai_reply(["x" * PIECE] * pieces)], workdir=Path(tmp)) as srv:
            store = await open_store(url)
            try:
                llm = await add_llm(store, "big", type="openai", url=srv.url, model="m")
                await add_agent(store, "a", llm.id)
            finally:
                await store.close()
            limit = str((args.mib + 8) * 2**20)
            argv = [sys.executable, "-m", "bench.big_reply", "--child", url, limit]
            out = await asyncio.to_thread(
                subprocess.run, argv, capture_output=True, text=True, check=True, cwd=ROOT
            )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"reply {r['size']:.0f} MiB in {r['seconds']:.1f} s; peak RSS grew {r['grown']:.0f} MiB")
    ratio = r["grown"] / r["size"]
    verdict = "ok  " if ratio <= 2 else "MISS"
    print(f"peak growth / reply size: {ratio:.2f}x   {verdict} target <= 2x")


if __name__ == "__main__":
    asyncio.run(main())
