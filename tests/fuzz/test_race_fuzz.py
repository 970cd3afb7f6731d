"""Random interleavings of the writes that race on a shared store, from several OS
processes at once, on both backends: ``apply -f`` of an agent with its personality and
prompt, ``delete agent``, the editor's save, and a chat (``tests/support/ops_race.py``).

Each refused write is one line for the operator (no traceback, no process dying), and the
store afterwards is consistent: no personality, prompt, binding or thread without its
owner, every thread's turns at indexes exactly 0..N-1 in question/answer pairs, no reply
left pending, and the agent (when it exists) whole: its personality bound to its prompt.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    PersonalityPrompt,
    Prompt,
)
from mcpctl_tui.store.types import MessageRole, MessageStatus
from tests.support import REPO_ROOT
from tests.support.ops_race import OPS
from tests.support.seed import add_llm

PROCESSES = 3
EXAMPLES = int(os.environ.get("MCPCTL_TUI_FUZZ_EXAMPLES") or 4)  # each: 3 processes

PLANS = st.lists(
    st.lists(st.sampled_from(OPS), min_size=2, max_size=5),
    min_size=PROCESSES,
    max_size=PROCESSES,
)


@settings(max_examples=EXAMPLES)
@given(plans=PLANS)
def test_racing_writers_leave_a_consistent_store(db_url: str, plans: list[list[str]]) -> None:
    asyncio.run(_race(db_url, plans))


async def _race(url: str, plans: list[list[str]]) -> None:
    store = await open_store(url)
    try:
        await _reset(store)
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.support.ops_race",
                url,
                f"w{n}",
                json.dumps(plan),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            )
            for n, plan in enumerate(plans)
        ]
        for p in procs:  # all ready, then all at once
            assert p.stdout is not None
            assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")
            await p.stdin.drain()
        for p, plan in zip(procs, plans, strict=True):
            out, err = await asyncio.wait_for(p.communicate(), 120)
            said = out.decode().splitlines()
            assert p.returncode == 0 and not err, (plan, err.decode()[-3000:])
            assert [line.split(" ", 2)[1].rstrip(":") for line in said] == plan, said
            refused = [line for line in said if line.startswith("refused")]
            assert all(_one_retryable_line(line) for line in refused), refused
        assert await _problems(store) == [], plans
    finally:
        await store.close()


def _one_retryable_line(line: str) -> bool:
    """A race's refusal names what happened, never the driver's exception text."""
    return "\n" not in line and "sqlalchemy" not in line.lower() and "Error" not in line


async def _reset(store: Store) -> None:
    async with store.transaction() as s:
        for agent in (await s.execute(select(Agent))).scalars():
            await s.delete(agent)
        await s.flush()
        for llm in (await s.execute(select(Llm))).scalars():
            await s.delete(llm)
    await add_llm(store, "echo")


async def _problems(store: Store) -> list[str]:
    problems: list[str] = []
    async with store.session() as s:
        agents = {a.id: a for a in (await s.execute(select(Agent))).scalars()}
        personalities = list((await s.execute(select(Personality))).scalars())
        prompts = list((await s.execute(select(Prompt))).scalars())
        bindings = list((await s.execute(select(PersonalityPrompt))).scalars())
        threads = list((await s.execute(select(ChatThread))).scalars())
        messages = list(
            (await s.execute(select(ChatMessage).order_by(ChatMessage.turn_index))).scalars()
        )
    problems += [
        f"personality {p.name} without its agent" for p in personalities if p.agent_id not in agents
    ]
    problems += [
        f"prompt {p.name} without its agent"
        for p in prompts
        if p.agent_id is not None and p.agent_id not in agents
    ]
    known_p, known_pr = {p.id for p in personalities}, {p.id for p in prompts}
    problems += [
        "orphan binding"
        for b in bindings
        if b.personality_id not in known_p or b.prompt_id not in known_pr
    ]
    problems += [f"thread {t.id} without its agent" for t in threads if t.agent_id not in agents]
    turns: dict[int, list[ChatMessage]] = defaultdict(list)
    for m in messages:
        turns[m.thread_id].append(m)
    known_t = {t.id for t in threads}
    for tid, rows in turns.items():
        if tid not in known_t:
            problems.append(f"messages of thread {tid}, which is gone")
        if [m.turn_index for m in rows] != list(range(len(rows))):
            problems.append(f"thread {tid}: turn indexes {[m.turn_index for m in rows]}")
        roles = [m.role for m in rows]
        if roles != [MessageRole.USER, MessageRole.ASSISTANT] * (len(rows) // 2) or len(rows) % 2:
            problems.append(f"thread {tid}: turns {roles}")
        problems += [
            f"thread {tid}: turn {m.turn_index} {m.status}"
            for m in rows
            if m.status == MessageStatus.PENDING
        ]
    if agents:
        (agent,) = agents.values()
        mine = [p for p in personalities if p.agent_id == agent.id]
        bound = {(b.personality_id, b.prompt_id) for b in bindings}
        rules = [p for p in prompts if p.agent_id == agent.id]
        if mine and rules and (mine[0].id, rules[0].id) not in bound:
            problems.append("the agent's personality is not bound to its prompt")
    return problems
