"""Benchmark: apply / re-apply / export of a large manifest, against raw inserts.

    .venv/bin/python bench/manifest.py [--pg postgresql://postgres@127.0.0.1:5432/test]

The manifest holds 10 llms, 5 projects, 200 agents (each with a default personality),
600 agent prompts + 50 project + 50 global prompts, and 400 personalities binding 3
prompts each. The baseline is the same rows written with raw executemany INSERTs in one
transaction, measured in the same run on the same database kind; figures are ratios to it
(these machines are noisy) and milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.manifest import Kind, apply_manifest, dump_yaml, get_objects
from mcpctl_tui.store.models import (
    Agent,
    Llm,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from tests.support.databases import fresh_pg_database

N_LLM, N_PROJECT, N_AGENT = 10, 5, 200


def manifest() -> str:
    docs: list[str] = []
    for i in range(N_LLM):
        docs.append(
            f"kind: llm\nname: llm{i}\ntype: openai\nurl: http://127.0.0.1:9/v1\n"
            f"model: m{i}\napiKeyRef: env:K{i}\n"
        )
    for p in range(N_PROJECT):
        docs.append(f"kind: project\nname: proj{p}\n")
        docs += [
            f"kind: prompt\nname: shared{j}\nproject: proj{p}\ncontent: project {p} {j}\n"
            for j in range(10)
        ]
    docs += [f"kind: prompt\nname: g{j}\ncontent: global {j}\npriority: {j}\n" for j in range(50)]
    for a in range(N_AGENT):
        docs.append(
            f"kind: agent\nname: agent{a}\nllm: llm{a % N_LLM}\nproject: proj{a % N_PROJECT}\n"
            f"systemPrompt: You are agent {a}.\ndefaultParams: {{temperature: 0.{a % 10}}}\n"
            "defaultPersonality: calm\n"
        )
        docs += [
            f"kind: prompt\nname: own{j}\nagent: agent{a}\ncontent: agent {a} {j}\n"
            for j in range(3)
        ]
        for pname in ("calm", "bold"):
            docs.append(
                f"kind: personality\nname: {pname}\nagent: agent{a}\nprompts:\n"
                f"- {{name: own{a % 3}, priority: 5}}\n- name: shared{a % 10}\n- name: g{a % 50}\n"
            )
    return "---\n".join(docs)


async def baseline(store: Store) -> None:
    """The same rows with raw executemany INSERTs, ids chosen up front."""
    agent_prompts = [(a, j) for a in range(N_AGENT) for j in range(3)]
    async with store.transaction() as s:
        await s.execute(
            insert(Llm),
            [
                {"id": i + 1, "name": f"llm{i}", "type": "openai", "model": f"m{i}"}
                for i in range(N_LLM)
            ],
        )
        await s.execute(
            insert(Project), [{"id": p + 1, "name": f"proj{p}"} for p in range(N_PROJECT)]
        )
        await s.execute(
            insert(Agent),
            [
                {
                    "id": a + 1,
                    "name": f"agent{a}",
                    "llm_id": a % N_LLM + 1,
                    "project_id": a % N_PROJECT + 1,
                    "system_prompt": f"You are agent {a}.",
                    "default_params": {"temperature": a % 10 / 10},
                    "extras": {},
                }
                for a in range(N_AGENT)
            ],
        )
        prompts = (
            [
                {"name": f"shared{j}", "project_id": p + 1, "content": "x"}
                for p in range(N_PROJECT)
                for j in range(10)
            ]
            + [{"name": f"g{j}", "content": "x", "priority": j} for j in range(50)]
            + [{"name": f"own{j}", "agent_id": a + 1, "content": "x"} for a, j in agent_prompts]
        )
        await s.execute(insert(Prompt), [{"id": i + 1, **p} for i, p in enumerate(prompts)])
        await s.execute(
            insert(Personality),
            [
                {"id": 2 * a + k + 1, "name": n, "agent_id": a + 1}
                for a in range(N_AGENT)
                for k, n in enumerate(("calm", "bold"))
            ],
        )
        await s.execute(
            insert(PersonalityPrompt),
            [
                {"personality_id": pid, "prompt_id": (pid % 100) + 1, "priority": None}
                for pid in range(1, 2 * N_AGENT + 1)
            ]
            + [
                {"personality_id": pid, "prompt_id": 101 + pid % 600, "priority": 5}
                for pid in range(1, 2 * N_AGENT + 1)
            ],
        )


async def timed(coro_fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    await coro_fn()
    return (time.perf_counter() - t0) * 1000


async def run(label: str, url_a: str, url_b: str) -> None:
    text = manifest()
    docs = text.count("---\n") + 1
    base_store = await open_store(url_a)
    store = await open_store(url_b)
    try:
        base_ms = await timed(lambda: baseline(base_store))
        first_ms = await timed(lambda: apply_manifest(store, [(None, text)]))
        results: list[str] = []

        async def again() -> None:
            results.extend(str(r) for r in await apply_manifest(store, [(None, text)]))

        again_ms = await timed(again)
        assert all(r.endswith(" unchanged") for r in results), "re-apply changed something"

        async def export() -> None:
            async with store.session() as s:
                dump_yaml([e for k in Kind for e in await get_objects(s, k)])

        export_ms = await timed(export)
    finally:
        await base_store.close()
        await store.close()
    print(f"{label}: {docs} documents")
    print(f"  baseline raw INSERTs   {base_ms:8.0f} ms   1.0x")
    print(f"  apply (create)         {first_ms:8.0f} ms  {first_ms / base_ms:5.1f}x")
    print(f"  re-apply (unchanged)   {again_ms:8.0f} ms  {again_ms / base_ms:5.1f}x")
    print(f"  export (get all yaml)  {export_ms:8.0f} ms  {export_ms / base_ms:5.1f}x")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", help="PostgreSQL base URL (fresh databases are made next to it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await run("sqlite", f"sqlite:///{tmp}/a.db", f"sqlite:///{tmp}/b.db")
    if args.pg:
        async with fresh_pg_database(args.pg) as a, fresh_pg_database(args.pg) as b:
            await run("postgresql", a, b)


if __name__ == "__main__":
    asyncio.run(main())
