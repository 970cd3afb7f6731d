"""Streaming throughput, memory and added time to first token of the chat engine.

    .venv/bin/python -m bench.stream [--chunks 100000] [--ttft-runs 60] [--pg URL]

A local OpenAI-format server (a real subprocess, ``tests.support.llm_servers``) streams N small
SSE chunks, each one HTTP chunk. In the same run it measures:

  bare     a bare httpx loop reading the same bytes (``aiter_bytes``): the baseline;
  adapter  the openai adapter alone (SSE parse + JSON + typed events);
  engine   ChatService.send: context from the store, user turn + placeholder stored,
           adapter, accumulation, the assistant turn stored at the end.

and prints events/s and the ratio engine/bare (target >= 0.5). Memory: tracemalloc peak
of the engine at N/2 and N chunks; linear growth (ratio ~2, bounded by the reply text it
must hold) rather than quadratic (~4). TTFT: median over short replies of (first content
delta through the engine, from the call) - (first body byte of the bare loop, from the
request), engine including prepare_context and storing the user turn (target <= 5 ms on
SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # python bench/X.py too

import httpx

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import TextDelta
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.openai import chat_completions_url
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.store.engine import Store, open_store
from tests.support.llm_servers import Reply, ServerProcess, openai_events
from tests.support.seed import add_llm_agent


def workdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def big_reply(n: int) -> Reply:
    # Small deltas ("w123 "), one SSE event per HTTP chunk, written as fast as the socket takes.
    return Reply(openai_events([f"w{i % 1000} " for i in range(n)]), flush_each=False)


BODY = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}


async def bare_loop(client: httpx.AsyncClient, url: str) -> tuple[float, int, float]:
    """(seconds, bytes, seconds to the first body byte)."""
    t0 = time.perf_counter()
    first = 0.0
    total = 0
    async with client.stream("POST", chat_completions_url(url), json=BODY) as resp:
        async for chunk in resp.aiter_bytes():
            if not total:
                first = time.perf_counter() - t0
            total += len(chunk)
    return time.perf_counter() - t0, total, first


async def adapter_loop(client: httpx.AsyncClient, url: str) -> tuple[float, int]:
    adapter = get_adapter("openai")
    req = InferenceRequest(system="", messages=[Message("user", "go")])
    t0 = time.perf_counter()
    n = 0
    async for ev in adapter.stream(Endpoint("openai", url, "bench"), req, client=client):
        if isinstance(ev, TextDelta):
            n += 1
    return time.perf_counter() - t0, n


async def engine_turn(svc: ChatService, thread_id: int | None) -> tuple[float, int, float, int]:
    """(seconds, text deltas, seconds to the first delta, thread id)."""
    t0 = time.perf_counter()
    first = 0.0
    n = 0
    tid = thread_id or 0
    async for ev in svc.send("bench", "go", thread_id=thread_id):
        if isinstance(ev, TextDelta):
            if not n:
                first = time.perf_counter() - t0
            n += 1
        elif hasattr(ev, "thread_id"):
            tid = ev.thread_id
    return time.perf_counter() - t0, n, first, tid


async def seed(store: Store, url: str) -> None:
    await add_llm_agent(
        store,
        llm="bench",
        agent="bench",
        type="openai",
        url=url,
        model="bench",
        system_prompt="You are a benchmark.",
    )


@contextlib.asynccontextmanager
async def bench_store(pg: str | None, tmp: Path) -> AsyncIterator[Store]:
    if pg:
        from tests.support.databases import fresh_pg_database

        async with fresh_pg_database(pg) as url:
            store = await open_store(url)
            try:
                yield store
            finally:
                await store.close()
    else:
        store = await open_store(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
        try:
            yield store
        finally:
            await store.close()


async def throughput(n: int, pg: str | None, tmp: Path, reps: int) -> dict[str, Any]:
    server = ServerProcess([big_reply(n)], workdir=workdir(tmp / "big"))
    async with server as srv, bench_store(pg, tmp) as store, make_client() as client:
        await seed(store, srv.url)
        svc = ChatService(store, http_client=client)
        await bare_loop(client, srv.url)  # warm up: connection, imports
        bare, adapter, engine = [], [], []
        nbytes = 0
        for _ in range(reps):  # interleaved, best of reps: the machine is shared
            secs, nbytes, _ = await bare_loop(client, srv.url)
            bare.append(secs)
            secs, got = await adapter_loop(client, srv.url)
            assert got == n, got
            adapter.append(secs)
            secs, got, _, _ = await engine_turn(svc, None)
            assert got == n, got
            engine.append(secs)
        return {
            "bytes": nbytes,
            "bare": n / min(bare),
            "adapter": n / min(adapter),
            "engine": n / min(engine),
        }


async def memory(n: int, tmp: Path) -> tuple[int, int]:
    """(tracemalloc peak bytes during one engine turn of n chunks, reply text bytes)."""
    server = ServerProcess([big_reply(n)], workdir=workdir(tmp / f"mem{n}"))
    async with server as srv, bench_store(None, tmp / f"mem{n}") as store, make_client() as client:
        await seed(store, srv.url)
        svc = ChatService(store, http_client=client)
        await engine_turn(svc, None)  # warm up (imports, caches, pool)
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        await engine_turn(svc, None)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        text_bytes = sum(len(f"w{i % 1000} ") for i in range(n))
        return peak - base, text_bytes


async def ttft(runs: int, pg: str | None, tmp: Path) -> dict[str, float]:
    server = ServerProcess([Reply(openai_events(["hello", " world"]))], workdir=workdir(tmp / "t"))
    async with server as srv, bench_store(pg, tmp / "t") as store, make_client() as client:
        await seed(store, srv.url)
        svc = ChatService(store, http_client=client)
        _, _, _, tid = await engine_turn(svc, None)
        await bare_loop(client, srv.url)
        bare, eng_thread, eng_new = [], [], []
        for _ in range(runs):
            bare.append((await bare_loop(client, srv.url))[2])
            eng_thread.append((await engine_turn(svc, tid))[2])
            eng_new.append((await engine_turn(svc, None))[2])
        mb = statistics.median(bare) * 1000
        return {
            "bare_ms": mb,
            "engine_ms": statistics.median(eng_thread) * 1000,
            "added_ms": statistics.median(e - b for e, b in zip(eng_thread, bare, strict=True))
            * 1000,
            "added_new_thread_ms": statistics.median(
                e - b for e, b in zip(eng_new, bare, strict=True)
            )
            * 1000,
        }


async def amain(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    backend = "postgresql" if args.pg else "sqlite"
    n = args.chunks
    t = await throughput(n, args.pg, tmp, args.reps)
    print(f"stream of {n} chunks ({t['bytes'] / 1e6:.1f} MB SSE), {backend}, best of {args.reps}")
    print(f"  bare httpx loop   {t['bare']:>10,.0f} events/s   1.00")
    print(f"  openai adapter    {t['adapter']:>10,.0f} events/s   {t['adapter'] / t['bare']:.2f}")
    ratio = t["engine"] / t["bare"]
    ok = "ok" if ratio >= 0.5 else "MISS"
    print(
        f"  ChatService.send  {t['engine']:>10,.0f} events/s   {ratio:.2f}  (target >= 0.50: {ok})"
    )
    if not args.pg:
        half, _ = await memory(n // 2, tmp)
        full, full_text = await memory(n, tmp)
        growth = full / half
        ok = "ok" if growth < 2.6 else "MISS"
        print(
            f"memory (tracemalloc peak of one turn): {n // 2} chunks {half / 1e6:.1f} MB, "
            f"{n} chunks {full / 1e6:.1f} MB; x{growth:.2f} for x2 chunks (linear ~2, "
            f"quadratic ~4: {ok}); {full / full_text:.0f} bytes held per reply byte"
        )
    tt = await ttft(args.ttft_runs, args.pg, tmp)
    target = "no target on PostgreSQL" if args.pg else "target <= 5 ms on SQLite: "
    if not args.pg:
        target += "ok" if tt["added_ms"] <= 5 else "MISS"
    print(
        f"time to first token, median of {args.ttft_runs}: bare {tt['bare_ms']:.2f} ms, "
        f"engine {tt['engine_ms']:.2f} ms; added {tt['added_ms']:.2f} ms in a thread "
        f"({target}), {tt['added_new_thread_ms']:.2f} ms for a new thread"
    )
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--ttft-runs", type=int, default=60)
    p.add_argument("--pg", metavar="URL", help="run on a fresh PostgreSQL database next to URL")
    return asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
