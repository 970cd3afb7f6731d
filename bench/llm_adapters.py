"""Adapter throughput: events/s through each wire-format adapter as a ratio to a bare httpx
loop reading the same bytes from the same local server, in the same run.

    .venv/bin/python -m bench.llm_adapters [--chunks 100000] [--rounds 3]

The server writes the whole body at once (as fast as the socket takes it), each SSE/NDJSON
event in its own HTTP chunk, so both loops see the same reads. Peak RSS growth is printed
to show memory stays flat (no quadratic buffers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # python bench/X.py too

import httpx

from mcpctl_tui.llm.events import TextDelta
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from tests.support.llm_servers import (
    NDJSON_HEADERS,
    LlmServer,
    Reply,
    anthropic_events,
    bench_openai_reply,
    ollama_lines,
)


def replies(n: int) -> dict[str, Reply]:
    anth = anthropic_events(["x"] * n)
    ndjson = ollama_lines(["x"] * n)
    return {
        "openai": bench_openai_reply(n),
        "anthropic": Reply(anth, flush_each=False),
        "ollama": Reply(ndjson, headers=dict(NDJSON_HEADERS), flush_each=False),
    }


async def bare(client: httpx.AsyncClient, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    n = 0
    async with client.stream("POST", url, json={"stream": True}) as resp:
        async for _chunk in resp.aiter_bytes():
            n += 1
    return time.perf_counter() - start, n


async def adapter(client: httpx.AsyncClient, llm_type: str, url: str) -> tuple[float, int]:
    endpoint = Endpoint(llm_type, url, "m")
    req = InferenceRequest("s", [Message("user", "u")])
    start = time.perf_counter()
    n = 0
    async for ev in get_adapter(llm_type).stream(endpoint, req, client=client):
        if type(ev) is TextDelta:
            n += 1
    return time.perf_counter() - start, n


async def measure(llm_type: str, reply: Reply, rounds: int, n: int) -> dict[str, float]:
    async with LlmServer(reply) as srv, make_client() as client:
        b_times, a_times = [], []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            t, _n = await bare(client, srv.url + "/v1/chat/completions")
            b_times.append(t)
            t, got = await adapter(client, llm_type, srv.url)
            assert got == n, (llm_type, got)
            a_times.append(t)
    b, a = statistics.median(b_times), statistics.median(a_times)
    return {
        "bare_events_per_s": round(n / b),
        "adapter_events_per_s": round(n / a),
        "ratio": round(b / a, 3),
    }


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    scripted = replies(args.chunks)
    for llm_type, reply in scripted.items():  # warm-up: the bodies and buffers exist once
        await measure(llm_type, reply, 1, args.chunks)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results: dict[str, object] = {}
    for llm_type, reply in scripted.items():
        results[llm_type] = await measure(llm_type, reply, args.rounds, args.chunks)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Peak RSS growth after the warm-up: ~0 means nothing grows with the number of chunks.
    results["peak_rss_growth_after_warmup_mib"] = round((rss1 - rss0) / 1024, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
