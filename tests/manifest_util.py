"""Helpers for the manifest/CLI tests: a whole-database dump, and the CLI in-process."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from mcpctl_tui.cli import main
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import Base

Dump = dict[str, list[tuple[Any, ...]]]


async def dump_store(store: Store) -> Dump:
    """Every row of every table (every column, timestamps included), in primary-key order."""
    out: Dump = {}
    async with store.session() as s:
        for table in Base.metadata.sorted_tables:
            q = select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(r) for r in (await s.execute(q)).all()]
    return out


async def dump_url(url: str) -> Dump:
    store = await open_store(url)
    try:
        return await dump_store(store)
    finally:
        await store.close()


def dump(url: str) -> Dump:
    return asyncio.run(dump_url(url))


def cli(url: str, *args: str, input: str | bytes | None = None) -> Result:
    """``mcpctl-tui --db URL ARGS…`` in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(main, ["--db", url, *args], input=input, catch_exceptions=False)


BASE = """\
kind: project
name: web
description: The web team
---
kind: llm
name: openai-main
type: openai
model: gpt-4o
url: https://api.openai.com/v1
apiKeyRef: env:OPENAI_API_KEY
tier: fast
---
kind: agent
name: helper
llm: openai-main
project: web
description: Answers questions
systemPrompt: |
  You are helpful.
  Be brief.
defaultParams: {temperature: 0.2, max_tokens: 512}
extras: {tools: [search]}
defaultPersonality: terse
---
kind: prompt
name: style
agent: helper
content: Short answers.
priority: 3
---
kind: prompt
name: house
project: web
content: House rules.
---
kind: prompt
name: house
content: Global house rules.
---
kind: prompt
name: safety
content: Be safe.
priority: 10
---
kind: personality
name: terse
agent: helper
description: Very short
priority: 1
prompts:
- {name: style, priority: 5}
- name: house
- name: safety
"""
