"""prepare_context: system block order and dedupe, personality choice, params, history."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from mcpctl_tui.chat.context import NO_PERSONALITY, ChatOverrides, prepare_context
from mcpctl_tui.chat.errors import UnknownPersonality
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Message
from mcpctl_tui.store.chat_context import load_chat_rows
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.types import LlmKind, MessageStatus
from tests.support.seed import (
    add_agent,
    add_llm,
    add_personality,
    add_project,
    add_prompt,
    add_thread,
    bind_prompt,
    set_default_personality,
)


async def _world(store: Store) -> dict[str, int]:
    """An agent in a project with direct, project, global and foreign prompts, two
    personalities, and bindings that exercise every rule."""
    ids: dict[str, int] = {}
    llm = (await add_llm(store)).id
    proj = (await add_project(store, "proj")).id
    other_proj = (await add_project(store, "other")).id
    a = ids["agent"] = (await add_agent(store, "a", llm, system_prompt="BASE", project_id=proj)).id
    b = (await add_agent(store, "b", llm, project_id=other_proj)).id
    # agent-direct: priority 5 before priority 1; ties broken by name
    ids["d_low"] = (await add_prompt(store, "d-low", "DIRECT-LOW", priority=1, agent_id=a)).id
    ids["d_hi_b"] = (await add_prompt(store, "d-hi-b", "DIRECT-HI-B", priority=5, agent_id=a)).id
    ids["d_hi_a"] = (await add_prompt(store, "d-hi-a", "DIRECT-HI-A", priority=5, agent_id=a)).id
    ids["d_empty"] = (await add_prompt(store, "d-empty", "  \n ", priority=9, agent_id=a)).id
    # agent-direct, bound to personality "pirate": only while pirate is in effect
    ids["d_pirate"] = (await add_prompt(store, "d-pirate", "ARR", priority=0, agent_id=a)).id
    ids["p1"] = (await add_prompt(store, "p1", "PROJECT-1", priority=2, project_id=proj)).id
    ids["p2"] = (await add_prompt(store, "p2", "PROJECT-2", priority=3, project_id=proj)).id
    ids["g_bound"] = (await add_prompt(store, "g-bound", "GLOBAL-BOUND", priority=0)).id
    ids["g_free"] = (await add_prompt(store, "g-free", "GLOBAL-FREE", priority=100)).id
    ids["foreign"] = (
        await add_prompt(store, "foreign", "OTHER-AGENT", priority=100, agent_id=b)
    ).id
    ids["other_proj"] = (await add_prompt(store, "op", "OTHER-PROJECT", project_id=other_proj)).id
    pirate = ids["pirate"] = (await add_personality(store, a, "pirate")).id
    ids["formal"] = (await add_personality(store, a, "formal")).id
    # binding priority overrides the prompt's own: g-bound (0 -> 50) goes before d-pirate
    await bind_prompt(store, pirate, ids["g_bound"], priority=50)
    await bind_prompt(store, pirate, ids["d_pirate"])
    await bind_prompt(store, pirate, ids["p1"], priority=99)  # project prompt: keeps its place
    # another agent's personality binding reaches only that agent
    await bind_prompt(store, (await add_personality(store, b, "pirate")).id, ids["g_free"])
    return ids


async def test_system_block_order_without_personality(store: Store) -> None:
    await _world(store)
    ctx = await prepare_context(store, "a")
    assert ctx.personality is None
    assert ctx.system == "\n\n".join(
        ["BASE", "DIRECT-HI-A", "DIRECT-HI-B", "DIRECT-LOW", "PROJECT-2", "PROJECT-1"]
    )
    # the bound agent-direct prompt, global prompts and foreign prompts are absent
    assert ctx.prompt_names == ("d-hi-a", "d-hi-b", "d-low", "p2", "p1")


async def test_system_block_with_personality_and_append(store: Store) -> None:
    await _world(store)
    ctx = await prepare_context(
        store, "a", personality="pirate", overrides=ChatOverrides(system_append="  APPENDED\n")
    )
    assert ctx.personality == "pirate"
    assert ctx.system.split("\n\n") == [
        "BASE",
        "DIRECT-HI-A",
        "DIRECT-HI-B",
        "DIRECT-LOW",
        "PROJECT-2",
        "PROJECT-1",  # bound to pirate at 99, but keeps its earlier place, once
        "GLOBAL-BOUND",  # binding priority 50
        "ARR",  # agent-direct bound to pirate, priority 0
        "APPENDED",
    ]
    assert ctx.system.count("PROJECT-1") == 1


async def test_other_personality_hides_bound_direct_prompt(store: Store) -> None:
    await _world(store)
    ctx = await prepare_context(store, "a", personality="formal")
    assert "ARR" not in ctx.system
    assert "GLOBAL-BOUND" not in ctx.system


async def test_system_replacement_and_empty_parts(store: Store) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm, system_prompt="ORIGINAL")).id
    await add_prompt(store, "x", "X", agent_id=a)
    ctx = await prepare_context(store, "a", overrides=ChatOverrides(system="NEW", system_append=""))
    assert ctx.system == "NEW\n\nX"
    ctx = await prepare_context(store, "a", overrides=ChatOverrides(system=""))
    assert ctx.system == "X"  # an empty replacement leaves no blank block
    b = (await add_agent(store, "b", llm)).id
    assert (await prepare_context(store, b)).system == ""


async def test_personality_choice_rules(store: Store) -> None:
    ids = await _world(store)
    assert (await prepare_context(store, "a")).personality is None
    await set_default_personality(store, ids["agent"], ids["formal"])
    assert (await prepare_context(store, "a")).personality == "formal"
    assert (await prepare_context(store, "a", personality="pirate")).personality == "pirate"
    # Explicitly none, over the default: no personality and none of its prompts.
    none = await prepare_context(store, "a", personality=NO_PERSONALITY)
    assert none.personality is None
    assert "GLOBAL-BOUND" not in none.system and "ARR" not in none.system
    with pytest.raises(UnknownPersonality) as err:
        await prepare_context(store, "a", personality="ninja")
    assert str(err.value) == "agent a has no personality 'ninja' (personalities: formal, pirate)"


async def test_param_merge_per_key(store: Store) -> None:
    adapter_defaults = get_adapter("anthropic").default_params
    llm = (await add_llm(store, type="anthropic", url="http://127.0.0.1:9")).id
    await add_agent(
        store, "a", llm, default_params={"temperature": 0.2, "top_p": 0.9, "custom": {"x": 1}}
    )
    ctx = await prepare_context(
        store, "a", overrides=ChatOverrides(params={"temperature": 0.7, "seed": 3})
    )
    expected: dict[str, Any] = {**adapter_defaults}
    expected.update({"temperature": 0.7, "top_p": 0.9, "custom": {"x": 1}, "seed": 3})
    assert ctx.params == expected


async def test_history_keeps_tools_and_partial_turns(store: Store) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm)).id
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    cut = {"id": "c9", "type": "function", "function": {"name": "g", "arguments": '{"b'}}
    t = (
        await add_thread(
            store,
            a,
            [
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "content": "r1", "tool_call_id": "c1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "part", "status": MessageStatus.CANCELLED},
                {"role": "user", "content": "q3"},
                {"role": "assistant", "content": "", "status": MessageStatus.ERROR, "error": "500"},
                {"role": "user", "content": "q4"},
                {"role": "assistant", "content": "half", "tool_calls": [cut], "status": "error"},
                {"role": "tool", "content": "orphan", "tool_call_id": "c9"},
                {"role": "assistant", "content": "", "status": MessageStatus.PENDING},
            ],
        )
    ).id
    ctx = await prepare_context(store, "a", t)
    assert ctx.thread_id == t
    assert ctx.history == [
        Message("user", "q1"),
        Message("assistant", "", tool_calls=[call]),
        Message("tool", "r1", tool_call_id="c1"),
        Message("assistant", "a1"),
        Message("user", "q2"),
        Message("assistant", "part"),
        Message("user", "q3"),
        Message("user", "q4"),
        Message("assistant", "half"),
    ]


async def test_thread_must_belong_to_agent(store: Store) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm)).id
    await add_agent(store, "b", llm)
    t = (await add_thread(store, a, [])).id
    with pytest.raises(NotFound, match=f"thread {t} of agent b not found"):
        await prepare_context(store, "b", t)
    with pytest.raises(NotFound, match="agent nobody not found"):
        await prepare_context(store, "nobody")


async def test_llm_row_and_kind(store: Store) -> None:
    llm = (
        await add_llm(
            store, "v1", type="openai", model="big", api_key_ref="env:K", kind=LlmKind.VIRTUAL
        )
    ).id
    await add_agent(store, "a", llm)
    ctx = await prepare_context(store, "a")
    assert ctx.llm_kind == LlmKind.VIRTUAL
    assert (ctx.llm.name, ctx.llm.type, ctx.llm.model, ctx.llm.api_key_ref) == (
        "v1",
        "openai",
        "big",
        "env:K",
    )


async def test_two_round_trips(store: Store) -> None:
    """prepare_context is on the time-to-first-token path: a fixed, small number of queries."""
    ids = await _world(store)
    t = (
        await add_thread(
            store, ids["agent"], [{"role": "user", "content": f"q{i}"} for i in range(30)]
        )
    ).id
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        ctx = await prepare_context(store, "a", t, personality="pirate")
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert len(ctx.history) == 30
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, statements


async def test_candidate_prompts_are_only_this_agents(store: Store) -> None:
    """A prompt bound only to another agent's personality is not even loaded."""
    ids = await _world(store)
    async with store.session() as s:
        rows = await load_chat_rows(s, "a", None)
    loaded = {c.prompt.id for c in rows.prompts}
    assert loaded == {
        ids[k] for k in ("d_low", "d_hi_b", "d_hi_a", "d_empty", "d_pirate", "p1", "p2", "g_bound")
    }
