"""Rows for the chat tests: an LLM, an agent, prompts, personalities, bindings, turns."""

from __future__ import annotations

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
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus


async def add_llm(
    store: Store,
    name: str = "llm",
    *,
    type: str = "echo",
    url: str = "",
    model: str = "m1",
    api_key_ref: str | None = None,
    kind: LlmKind = LlmKind.PUBLIC,
    status: LlmStatus = LlmStatus.ACTIVE,
) -> int:
    async with store.transaction() as s:
        row = Llm(
            name=name,
            type=type,
            url=url,
            model=model,
            api_key_ref=api_key_ref,
            kind=kind,
            status=status,
        )
        s.add(row)
        await s.flush()
        return row.id


async def add_project(store: Store, name: str = "proj") -> int:
    async with store.transaction() as s:
        row = Project(name=name)
        s.add(row)
        await s.flush()
        return row.id


async def add_agent(
    store: Store,
    name: str,
    llm_id: int,
    *,
    system_prompt: str = "",
    project_id: int | None = None,
    default_params: dict[str, Any] | None = None,
) -> int:
    async with store.transaction() as s:
        row = Agent(
            name=name,
            llm_id=llm_id,
            system_prompt=system_prompt,
            project_id=project_id,
            default_params=default_params or {},
        )
        s.add(row)
        await s.flush()
        return row.id


async def set_default_personality(store: Store, agent_id: int, personality_id: int | None) -> None:
    async with store.transaction() as s:
        agent = await s.get(Agent, agent_id)
        assert agent is not None
        agent.default_personality_id = personality_id


async def add_prompt(
    store: Store,
    name: str,
    content: str,
    *,
    priority: int = 0,
    agent_id: int | None = None,
    project_id: int | None = None,
) -> int:
    async with store.transaction() as s:
        row = Prompt(
            name=name, content=content, priority=priority, agent_id=agent_id, project_id=project_id
        )
        s.add(row)
        await s.flush()
        return row.id


async def add_personality(store: Store, agent_id: int, name: str, priority: int = 0) -> int:
    async with store.transaction() as s:
        row = Personality(name=name, agent_id=agent_id, priority=priority)
        s.add(row)
        await s.flush()
        return row.id


async def bind(
    store: Store, personality_id: int, prompt_id: int, priority: int | None = None
) -> None:
    async with store.transaction() as s:
        s.add(
            PersonalityPrompt(personality_id=personality_id, prompt_id=prompt_id, priority=priority)
        )


async def add_thread(store: Store, agent_id: int, turns: list[dict[str, Any]]) -> int:
    """A thread with these turns (dicts of ChatMessage columns), in order."""
    async with store.transaction() as s:
        t = ChatThread(agent_id=agent_id, title="seeded")
        s.add(t)
        await s.flush()
        for i, turn in enumerate(turns):
            s.add(
                ChatMessage(
                    thread_id=t.id,
                    turn_index=i,
                    status=turn.pop("status", MessageStatus.COMPLETE),
                    **turn,
                )
            )
        return t.id
