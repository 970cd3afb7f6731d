"""Id-based deletes (store.deletes) under the database's rules, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.catalog import get_llm_by_name, get_personality_by_name, get_project_by_name
from mcpctl_tui.store.deletes import (
    AgentCascade,
    delete_agent,
    delete_llm,
    delete_personality,
    delete_project,
    delete_prompt,
    delete_thread,
)
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import InUse, Invalid, NotFound
from mcpctl_tui.store.manifest import apply_manifest
from mcpctl_tui.store.messages import NewMessage
from mcpctl_tui.store.models import (
    Agent,
    ChatMessage,
    ChatThread,
    Llm,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.threads import create_thread
from mcpctl_tui.store.types import LlmKind
from tests.support.databases import dump_store
from tests.support.manifests import BASE
from tests.support.message_append import append_message
from tests.support.seed import add_agent, add_llm

MORE_AGENTS = "".join(f"---\nkind: agent\nname: {n}\nllm: openai-main\n" for n in ("b", "c"))


async def _seed(store: Store) -> None:
    await apply_manifest(store, [(None, BASE + MORE_AGENTS)])


async def _id(store: Store, model: type[Llm | Agent | Project], name: str) -> int:
    async with store.session() as s:
        return int((await s.execute(select(model.id).where(model.name == name))).scalar_one())


async def test_llm_in_use_is_refused_naming_the_agents(store: Store) -> None:
    await _seed(store)
    before = await dump_store(store)
    llm_id = await _id(store, Llm, "openai-main")
    async with store.transaction() as s:
        with pytest.raises(InUse) as err:
            await delete_llm(s, llm_id)
        # The refusal ran in a savepoint: the transaction is still usable afterwards.
        assert await get_llm_by_name(s, "openai-main") is not None
    assert str(err.value) == "llm openai-main is in use by 3 agents: b, c, helper"
    assert err.value.users == ["b", "c", "helper"]
    assert await dump_store(store) == before


async def test_unused_llm_goes(store: Store) -> None:
    await apply_manifest(store, [(None, "kind: llm\nname: spare\ntype: ollama\nurl: http://h:1\n")])
    async with store.transaction() as s:
        await delete_llm(s, await _id(store, Llm, "spare"))
    async with store.session() as s:
        assert await get_llm_by_name(s, "spare") is None


async def test_agent_delete_cascades_and_counts(store: Store) -> None:
    await _seed(store)
    agent_id = await _id(store, Agent, "helper")
    async with store.transaction() as s:
        t1 = await create_thread(s, agent_id, "one")
        t2 = await create_thread(s, agent_id, "two")
    for i in range(3):
        await append_message(store, t1.id, NewMessage(role="user", content=f"m{i}"))
    await append_message(store, t2.id, NewMessage(role="user", content="x"))
    other = await _id(store, Agent, "b")
    async with store.transaction() as s:
        t3 = await create_thread(s, other, "keep")
    await append_message(store, t3.id, NewMessage(role="user", content="stays"))

    async with store.transaction() as s:
        cascade = await delete_agent(s, agent_id)
    assert cascade == AgentCascade(personalities=1, prompts=1, threads=2, messages=4)
    assert str(cascade) == "1 personality, 1 prompt, 2 threads, 4 messages"
    async with store.session() as s:
        assert await get_agent_by_name(s, "helper") is None
        assert (await s.execute(select(func.count()).select_from(ChatThread))).scalar() == 1
        assert (await s.execute(select(func.count()).select_from(ChatMessage))).scalar() == 1
        assert (await s.execute(select(func.count()).select_from(PersonalityPrompt))).scalar() == 0
        # Project and global prompts, the LLM and the other agents stay.
        assert (await s.execute(select(func.count()).select_from(Prompt))).scalar() == 3
        assert await get_llm_by_name(s, "openai-main") is not None


async def test_project_delete_takes_its_prompts_and_detaches_agents(store: Store) -> None:
    await _seed(store)
    async with store.transaction() as s:
        cascade = await delete_project(s, await _id(store, Project, "web"))
    assert str(cascade) == "1 prompt, 1 agent detached"
    async with store.session() as s:
        agent = await get_agent_by_name(s, "helper")
        assert agent is not None and agent.project_id is None
        assert await get_project_by_name(s, "web") is None


async def test_personality_delete_clears_the_default(store: Store) -> None:
    await _seed(store)
    agent_id = await _id(store, Agent, "helper")
    async with store.transaction() as s:
        personality = await get_personality_by_name(s, agent_id, "terse")
        assert personality is not None
        agent = await s.get(Agent, agent_id)  # loaded: the refresh must reach it
        cascade = await delete_personality(s, personality.id)
        assert agent is not None and agent.default_personality_id is None
    assert cascade.bindings == 3 and cascade.default_of == ("helper",)
    async with store.session() as s:
        agent = await get_agent_by_name(s, "helper")
        assert agent is not None and agent.default_personality_id is None


async def test_prompt_delete_counts_its_bindings(store: Store) -> None:
    await _seed(store)
    async with store.session() as s:
        pid = (await s.execute(select(Prompt.id).where(Prompt.name == "safety"))).scalar_one()
    async with store.transaction() as s:
        assert (await delete_prompt(s, pid)).bindings == 1


async def test_thread_delete_counts_messages(store: Store) -> None:
    await _seed(store)
    async with store.transaction() as s:
        thread = await create_thread(s, await _id(store, Agent, "b"))
    await append_message(store, thread.id, NewMessage(role="user", content="hi"))
    async with store.transaction() as s:
        assert await delete_thread(s, thread.id) == 1


async def test_live_virtual_rows_are_refused_unless_allowed(store: Store) -> None:
    live = {"kind": LlmKind.VIRTUAL, "provider_session_id": "s-9"}  # heard from just now
    async with store.transaction() as s:
        llm = await add_llm(s, "remote", type="openai", **live)
        agent = await add_agent(s, "va", llm.id, **live)
    async with store.transaction() as s:
        with pytest.raises(
            Invalid, match="agent va is virtual, served by live provider session s-9"
        ):
            await delete_agent(s, agent.id)
        with pytest.raises(Invalid, match="llm remote is virtual"):
            await delete_llm(s, llm.id)
    async with store.transaction() as s:
        await delete_agent(s, agent.id, allow_virtual=True)
        await delete_llm(s, llm.id, allow_virtual=True)


async def test_missing_ids_are_not_found(store: Store) -> None:
    async with store.transaction() as s:
        for fn in (delete_llm, delete_agent, delete_project, delete_prompt, delete_personality):
            with pytest.raises(NotFound):
                await fn(s, 12345)
