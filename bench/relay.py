"""The virtual-LLM relay against the same upstream called directly, in one run.

    .venv/bin/python -m bench.relay [--backend sqlite|postgresql|both] [--chunks 20000]
        [--ttft-rounds 30] [--streams 16] [--fan-chunks 2000]

PostgreSQL uses a throw-away database next to $MCPCTL_TUI_TEST_PG_URL (or --pg-url).

1. Throughput: one stream of N chunks from a local OpenAI-compatible server (a real
   subprocess), read (a) directly through the openai adapter, (b) through the relay: a
   provider subprocess claims the task, streams the same server and writes chunks to the
   store; this process reads them back through ``VirtualLlmService``. Chunks/s each and
   the ratio relay/direct (target >= 0.5; >= 2,000/s on PostgreSQL, >= 1,000 on SQLite).
2. Time to first token: median over short replies, direct vs relay, interleaved; the
   added time is the difference of the medians (target <= 25 ms PG, <= 60 ms SQLite).
3. Fan-out: S concurrent streams over two provider sessions, each stream numbered
   chunks; every chunk must arrive once and in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # python bench/X.py too

from mcpctl_tui.llm.events import Finish, StreamEvent, TextDelta
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.store.engine import open_store
from mcpctl_tui.store.models import Llm
from mcpctl_tui.virtual.dispatch import VirtualLlmService
from tests.support.databases import PG_ENV, fresh_pg_database
from tests.support.llm_servers import Reply, ServerProcess, bench_openai_reply, openai_reply, sse
from tests.support.providers import ProviderProc, write_provider_file

TARGETS = {
    "sqlite": {"chunks_per_s": 1000, "added_ttft_ms": 60},
    "postgresql": {"chunks_per_s": 2000, "added_ttft_ms": 25},
}
REQ = InferenceRequest(system="", messages=[Message("user", "go")])


def numbered_reply(n: int) -> Reply:
    """``n`` content chunks "0 ", "1 ", ... so a reader can check order and uniqueness."""
    from tests.support.llm_servers import openai_chunk, openai_events

    events = [sse(openai_chunk({"role": "assistant", "content": ""}))]
    events += [sse(openai_chunk({"content": f"{i} "})) for i in range(n)]
    events += openai_events(usage=(1, n), text=())[1:]
    return Reply(events, flush_each=False)


async def timed(stream: AsyncIterator[StreamEvent]) -> tuple[float, float, int, StreamEvent]:
    """(ttft seconds, total seconds, text deltas, last event) of one stream."""
    t0 = time.perf_counter()
    ttft = -1.0
    n = 0
    last: StreamEvent | None = None
    async for ev in stream:
        last = ev
        if type(ev) is TextDelta:
            if n == 0:
                ttft = time.perf_counter() - t0
            n += 1
    assert last is not None
    return ttft, time.perf_counter() - t0, n, last


@contextlib.asynccontextmanager
async def database(backend: str, workdir: Path, pg_url: str | None) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'relay.db'}"
        return
    if not pg_url:
        raise SystemExit(f"postgresql: set {PG_ENV} or --pg-url")
    async with fresh_pg_database(pg_url) as url:
        yield url


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-relay-{backend}-"))
    for sub in ("big", "small", "fan"):
        (work / sub).mkdir()
    async with (
        database(backend, work, args.pg_url) as url,
        ServerProcess([bench_openai_reply(args.chunks)], workdir=work / "big") as big,
        ServerProcess([openai_reply(["first"])], workdir=work / "small") as small,
        ServerProcess([numbered_reply(args.fan_chunks)], workdir=work / "fan") as fan,
    ):
        store = await open_store(url)

        def up(name: str, srv: ServerProcess) -> dict[str, Any]:
            return {"name": name, "upstream": {"type": "openai", "url": srv.url, "model": "m"}}

        pa = write_provider_file(
            work / "a.yaml",
            [up("big", big), up("small", small), up("fan-a", fan)],
            concurrency=args.streams,
            state_file=work / "a.sid",
        )
        pb = write_provider_file(
            work / "b.yaml", [up("fan-b", fan)], concurrency=args.streams, state_file=work / "b.sid"
        )
        try:
            async with (
                ProviderProc(url, pa, heartbeat_interval=5, heartbeat_timeout=30),
                ProviderProc(url, pb, heartbeat_interval=5, heartbeat_timeout=30),
                VirtualLlmService(store) as virt,
                make_client() as client,
            ):
                async with store.session() as s:
                    from sqlalchemy import select

                    ids = dict((await s.execute(select(Llm.name, Llm.id))).all())
                openai = get_adapter("openai")

                def direct(srv: ServerProcess) -> AsyncIterator[StreamEvent]:
                    return openai.stream(Endpoint("openai", srv.url, "m"), REQ, client=client)

                # Warm both paths (connections, imports, caches).
                for _ in range(3):
                    await timed(direct(small))
                    await timed(virt.enqueue_infer_task(ids["small"], REQ))

                # 1. throughput, interleaved rounds, medians.
                d_rates, r_rates = [], []
                for _ in range(args.rounds):
                    _t, total, n, last = await timed(direct(big))
                    assert n == args.chunks and isinstance(last, Finish), (n, last)
                    d_rates.append(n / total)
                    _t, total, n, last = await timed(virt.enqueue_infer_task(ids["big"], REQ))
                    assert n == args.chunks and isinstance(last, Finish), (n, last)
                    r_rates.append(n / total)

                # 2. time to first token.
                d_ttft, r_ttft = [], []
                for _ in range(args.ttft_rounds):
                    d_ttft.append((await timed(direct(small)))[0])
                    r_ttft.append((await timed(virt.enqueue_infer_task(ids["small"], REQ)))[0])

                # 3. fan-out over two providers.
                expected = "".join(f"{i} " for i in range(args.fan_chunks))

                async def one(i: int) -> tuple[bool, int]:
                    llm = ids["fan-a" if i % 2 == 0 else "fan-b"]
                    text: list[str] = []
                    async for ev in virt.enqueue_infer_task(llm, REQ):
                        if type(ev) is TextDelta:
                            text.append(ev.text)
                    return "".join(text) == expected, len(text)

                t0 = time.perf_counter()
                fan_results = await asyncio.gather(*(one(i) for i in range(args.streams)))
                fan_secs = time.perf_counter() - t0
        finally:
            await store.close()

    d_rate, r_rate = statistics.median(d_rates), statistics.median(r_rates)
    d_med, r_med = statistics.median(d_ttft) * 1000, statistics.median(r_ttft) * 1000
    return {
        "backend": backend,
        "direct_chunks_per_s": round(d_rate),
        "relay_chunks_per_s": round(r_rate),
        "ratio": round(r_rate / d_rate, 3),
        "direct_ttft_ms_median": round(d_med, 2),
        "relay_ttft_ms_median": round(r_med, 2),
        "added_ttft_ms": round(r_med - d_med, 2),
        "relay_ttft_ms_p90": round(sorted(r_ttft)[int(len(r_ttft) * 0.9)] * 1000, 2),
        "fan_streams_ok": sum(ok for ok, _ in fan_results),
        "fan_streams": len(fan_results),
        "fan_chunks_per_s": round(sum(n for _, n in fan_results) / fan_secs),
    }


def verdict(r: dict[str, Any]) -> list[str]:
    t = TARGETS[r["backend"]]
    checks = [
        (r["ratio"] >= 0.5, f"ratio {r['ratio']} >= 0.5"),
        (
            r["relay_chunks_per_s"] >= t["chunks_per_s"],
            f"relay {r['relay_chunks_per_s']} chunks/s >= {t['chunks_per_s']}",
        ),
        (
            r["added_ttft_ms"] <= t["added_ttft_ms"],
            f"added ttft {r['added_ttft_ms']} ms <= {t['added_ttft_ms']}",
        ),
        (
            r["fan_streams_ok"] == r["fan_streams"],
            f"fan-out {r['fan_streams_ok']}/{r['fan_streams']} streams complete and in order",
        ),
    ]
    return [("PASS " if ok else "FAIL ") + text for ok, text in checks]


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--pg-url", default=os.environ.get(PG_ENV))
    p.add_argument("--chunks", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ttft-rounds", type=int, default=30)
    p.add_argument("--streams", type=int, default=16)
    p.add_argument("--fan-chunks", type=int, default=2000)
    args = p.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.backend == "both" and not args.pg_url:
        backends = ["sqlite"]
        print(f"(postgresql skipped: {PG_ENV} not set)")
    failed = False
    for backend in backends:
        r = await run_backend(backend, args)
        print(f"== {backend}")
        for k, v in r.items():
            if k != "backend":
                print(f"  {k:24} {v}")
        for line in verdict(r):
            print("  " + line)
            failed |= line.startswith("FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
