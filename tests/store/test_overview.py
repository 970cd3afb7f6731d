"""The resource views' reads (store.overview), on both backends: each view's rows, an
LLM's liveness by the heartbeat rule, providers with their tasks in flight, and what
uses a row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from mcpctl_tui.store.demo import seed_demo
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.manifest import apply_manifest
from mcpctl_tui.store.models import InferenceTask, TaskStatus
from mcpctl_tui.store.overview import Line, describe, lines
from mcpctl_tui.store.types import LlmKind, utcnow
from mcpctl_tui.store.usage import Figure
from tests.support.seed import add_agent, add_llm

TIMEOUT = 90.0


async def _lines(store: Store, view: str) -> list[Line]:
    async with store.session() as s:
        return await lines(s, view, heartbeat_timeout=TIMEOUT)


def _by_name(found: list[Line], key: str = "name") -> dict[str, Line]:
    return {str(ln.values[key]): ln for ln in found}


async def test_views_of_the_demo_world(store: Store) -> None:
    ids = await seed_demo(store)
    agents = _by_name(await _lines(store, "agents"))
    cost = agents["ops"].values.pop("cost")
    assert cost.text == "$0.0002+?" and cost.value == pytest.approx((186 * 0.5 + 91 * 1.5) / 1e6)
    assert agents["ops"].values | {"activity": None} == {
        "name": "ops",
        "project": "platform",
        "llm": "echo-local",
        "personality": "oncall",
        "threads": 3,
        "activity": None,
        # three replies with usage, priced at the demo's 0.5 / 1.5 USD per million, and a
        # cancelled one without usage: a lower bound, never a zero
        "tokens": Figure("277+?", 277),
    }
    assert agents["ops"].values["activity"] is not None  # its newest thread's last turn
    assert agents["ops"].doc is not None and agents["ops"].owner is None
    llm = _by_name(await _lines(store, "llms"))["echo-local"].values
    assert (llm["kind"], llm["status"], llm["agents"]) == ("public", "active", 2)
    assert llm["tokens"] == Figure("277+?", 277)
    # writer's only reply failed before any text: not a reply, nothing to count
    assert agents["writer"].values["tokens"] is None is agents["writer"].values["cost"]
    prompts = await _lines(store, "prompts")
    assert [(ln.values["name"], ln.values["scope"]) for ln in prompts] == [
        ("friendly", "agent writer"),
        ("house-style", "project platform"),
        ("terse", "agent ops"),
    ]
    pers = _by_name(await _lines(store, "personalities"))
    assert pers["oncall"].values == {
        "name": "oncall",
        "agent": "ops",
        "prompts": "terse",
        "default": "yes",
    }
    threads = await _lines(store, "threads")
    assert sorted(ln.thread_id for ln in threads) == sorted(ids.thread_ids)
    assert {ln.values["agent"] for ln in threads} == {"ops", "writer"}
    assert await _lines(store, "providers") == []


async def test_virtual_rows_liveness_and_providers(store: Store) -> None:
    now = utcnow()
    async with store.transaction() as s:
        live = await add_llm(s, "gpu", kind=LlmKind.VIRTUAL, provider_session_id="sess-a")
        await add_llm(
            s,
            "old",
            kind=LlmKind.VIRTUAL,
            provider_session_id="sess-b",
            last_heartbeat_at=now - timedelta(seconds=TIMEOUT * 2),
        )
        await add_agent(s, "remote", live.id, kind=LlmKind.VIRTUAL, provider_session_id="sess-a")
        for status in (TaskStatus.RUNNING, TaskStatus.CLAIMED, TaskStatus.COMPLETED):
            await s.execute(
                insert(InferenceTask).values(
                    llm_id=live.id, status=status, claimed_by="sess-a", request={}
                )
            )
    llms = _by_name(await _lines(store, "llms"))
    assert llms["gpu"].values["status"] == "live"
    assert llms["old"].values["status"] == "offline"  # silent past the timeout
    assert llms["gpu"].owner == "sess-a"
    providers = _by_name(await _lines(store, "providers"), "session")
    a = providers["sess-a"].values
    assert (a["state"], a["llms"], a["agents"], a["tasks"]) == ("live", "gpu", "remote", 2)
    assert providers["sess-b"].values["state"] == "stale"
    assert providers["sess-b"].values["tasks"] == 0
    async with store.session() as s:
        usage = await describe(s, llms["gpu"])
    assert usage.groups == [("published by provider session", ["sess-a"]), ("agents", ["remote"])]


async def test_describe_what_uses_each_kind(store: Store) -> None:
    await seed_demo(store)

    async def uses(view: str, name: str) -> dict[str, list[str]]:
        line = _by_name(await _lines(store, view))[name]
        async with store.session() as s:
            return dict((await describe(s, line)).groups)

    assert await uses("llms", "echo-local") == {"agents": ["ops", "writer"]}
    await apply_manifest(
        store,
        [(None, "kind: mcpserver\nname: fs\nproject: platform\ntransport: stdio\ncommand: [x]")],
    )
    assert await uses("projects", "platform") == {
        "agents": ["ops", "writer"],
        "prompts": ["house-style"],
        "mcp servers": ["fs"],
    }
    assert await uses("mcpservers", "fs") == {"agents of its project": ["ops", "writer"]}
    ops = await uses("agents", "ops")
    assert ops["personalities"] == ["oncall", "teacher"]
    assert ops["prompts (its own)"] == ["terse"]
    assert len(ops["threads"]) == 3
    assert await uses("prompts", "terse") == {"bound to personalities": ["oncall (agent ops)"]}
    assert await uses("personalities", "oncall") == {
        "prompts bound": ["terse"],
        "default of agents": ["ops"],
    }
    thread = (await _lines(store, "threads"))[0]
    async with store.session() as s:
        usage = await describe(s, thread)
    assert dict(usage.groups)["agent"] in (["ops"], ["writer"])
