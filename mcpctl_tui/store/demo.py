"""A small demo world: a project, an echo LLM, two agents with personalities and prompts,
and a few threads, so a newcomer sees everything work with no key and no network.

``seed_demo`` is what ``mcpctl-tui demo`` and the UI tests use; ``now`` pins the clock so
snapshots are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.types import MessageStatus, utcnow

ECHO_LLM = "echo-local"

_CODE_REPLY = """\
Here is a minimal health check you can drop into any service:

```python
async def healthz(request):
    return {"status": "ok"}
```

- It answers `200` while the process is up.
- Point the load balancer at `/healthz`.
"""

_THREADS: list[tuple[str, str, list[dict[str, Any]]]] = [
    (
        "ops",
        "Health check endpoint",
        [
            {"role": "user", "content": "How do I add a health check to my service?"},
            {
                "role": "assistant",
                "content": _CODE_REPLY,
                "model": "echo",
                "usage": {"input_tokens": 58, "output_tokens": 61},
            },
        ],
    ),
    (
        "ops",
        "Disk usage on build hosts",
        [
            {"role": "user", "content": "Which build host is the fullest?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "disk_usage", "arguments": '{"hosts": "build-*"}'},
                    }
                ],
                "model": "echo",
                "usage": {"input_tokens": 41, "output_tokens": 18},
            },
            {
                "role": "tool",
                "content": '{"build-1": "71%", "build-2": "93%"}',
                "tool_call_id": "call_1",
            },
            {
                "role": "assistant",
                "content": "**build-2** is at 93%: clean its cache first.",
                "model": "echo",
                "usage": {"input_tokens": 87, "output_tokens": 12},
            },
        ],
    ),
    (
        "ops",
        "Rotate the API gateway certs",
        [
            {"role": "user", "content": "Draft the cert rotation steps."},
            {
                "role": "assistant",
                "content": "1. Issue the new certificate",
                "status": MessageStatus.CANCELLED,
                "model": "echo",
            },
        ],
    ),
    (
        "writer",
        "Release notes 1.4",
        [
            {"role": "user", "content": "Summarise the 1.4 release in two lines."},
            {
                "role": "assistant",
                "content": "",
                "status": MessageStatus.ERROR,
                "error": "rate_limit: too many requests (429)",
                "model": "echo",
            },
        ],
    ),
]


@dataclass(frozen=True, slots=True)
class DemoIds:
    llm_id: int
    project_id: int
    agent_ids: dict[str, int]
    thread_ids: list[int]


async def seed_demo(store: Store, *, now: datetime | None = None) -> DemoIds:
    """Write the demo world into ``store`` (expected empty) in one transaction."""
    base = now or utcnow()
    async with store.transaction() as s:
        llm = Llm(
            name=ECHO_LLM,
            type="echo",
            model="echo",
            url="",
            description="Answers with what you sent: no key, no network.",
            # Example prices, so the demo's cost columns have something to show.
            price_input=0.5,
            price_output=1.5,
            price_currency="USD",
            created_at=base,
            updated_at=base,
        )
        project = Project(name="platform", description="The platform team", created_at=base)
        s.add_all([llm, project])
        await s.flush()
        agents: dict[str, Agent] = {}
        for name, desc, system in [
            ("ops", "Operations helper", "You are a careful site reliability engineer."),
            ("writer", "Docs and release notes", "You write short, plain English."),
        ]:
            a = Agent(
                name=name,
                description=desc,
                system_prompt=system,
                llm_id=llm.id,
                project_id=project.id,
                default_params={"temperature": 0.2},
                created_at=base,
                updated_at=base,
            )
            s.add(a)
            agents[name] = a
        await s.flush()
        s.add(
            Prompt(
                name="house-style",
                content="Prefer lists over prose.",
                priority=5,
                project_id=project.id,
                created_at=base,
            )
        )
        terse = Prompt(
            name="terse",
            content="Answer in at most three sentences.",
            priority=10,
            agent_id=agents["ops"].id,
            created_at=base,
        )
        friendly = Prompt(
            name="friendly",
            content="Be warm and encouraging.",
            agent_id=agents["writer"].id,
            created_at=base,
        )
        s.add_all([terse, friendly])
        await s.flush()
        personalities: dict[str, Personality] = {}
        for agent, pname, pdesc, prio in [
            ("ops", "oncall", "Short answers for the pager", 10),
            ("ops", "teacher", "Explains the why", 0),
            ("writer", "friendly", "Warm tone", 0),
        ]:
            p = Personality(
                name=pname,
                description=pdesc,
                agent_id=agents[agent].id,
                priority=prio,
                created_at=base,
            )
            s.add(p)
            personalities[pname] = p
        await s.flush()
        s.add_all(
            [
                PersonalityPrompt(personality_id=personalities["oncall"].id, prompt_id=terse.id),
                PersonalityPrompt(
                    personality_id=personalities["friendly"].id, prompt_id=friendly.id, priority=20
                ),
            ]
        )
        agents["ops"].default_personality_id = personalities["oncall"].id
        thread_ids: list[int] = []
        for i, (agent_name, title, turns) in enumerate(_THREADS):
            at = base - timedelta(minutes=5 + 90 * i)
            t = ChatThread(
                agent_id=agents[agent_name].id, title=title, created_at=at, last_turn_at=at
            )
            s.add(t)
            await s.flush()
            thread_ids.append(t.id)
            for idx, turn in enumerate(turns):
                s.add(
                    ChatMessage(
                        thread_id=t.id,
                        turn_index=idx,
                        parent_index=idx - 1 if idx else None,
                        role=turn["role"],
                        content=turn.get("content", ""),
                        tool_calls=turn.get("tool_calls"),
                        tool_call_id=turn.get("tool_call_id"),
                        status=turn.get("status", MessageStatus.COMPLETE),
                        error=turn.get("error"),
                        model=turn.get("model"),
                        llm=ECHO_LLM if turn["role"] == "assistant" else None,
                        usage=turn.get("usage"),
                        created_at=at,
                    )
                )
        await s.flush()
        return DemoIds(
            llm_id=llm.id,
            project_id=project.id,
            agent_ids={n: a.id for n, a in agents.items()},
            thread_ids=thread_ids,
        )
