"""Every rule of the data model, enforced by the database itself (raw SQL deletes and
inserts, no help from the query layer), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.threads import create_thread
from mcpctl_tui.store.types import utcnow
from tests.support.message_append import append_message
from tests.support.seed import (
    add_agent,
    add_llm,
    add_personality,
    add_project,
    add_prompt,
    bind_prompt,
)
from tests.support.store_rows import get_agent, get_prompt, list_bindings, update_agent


async def _world(store: Store) -> dict[str, int]:
    """An LLM, a project, two agents with personalities, prompts, threads, messages."""
    async with store.transaction() as s:
        llm = await add_llm(s, name="gpt", type="openai", api_key_ref="env:OPENAI_KEY")
        proj = await add_project(s, name="ops")
        alice = await add_agent(s, name="alice", llm_id=llm.id, project_id=proj.id)
        bob = await add_agent(s, name="bob", llm_id=llm.id, project_id=proj.id)
        terse = await add_personality(s, agent_id=alice.id, name="terse")
        await add_personality(s, agent_id=alice.id, name="chatty")
        await add_personality(s, agent_id=bob.id, name="terse")
        await update_agent(s, alice.id, default_personality_id=terse.id)
        direct = await add_prompt(s, name="direct", content="x", agent_id=alice.id)
        glob = await add_prompt(s, name="global", content="g")
        pp = await add_prompt(s, name="proj", content="p", project_id=proj.id)
        await bind_prompt(s, terse.id, direct.id, priority=7)
        await bind_prompt(s, terse.id, glob.id)
        t1 = await create_thread(s, alice.id, "one")
        t2 = await create_thread(s, bob.id, "two")
    for tid in (t1.id, t1.id, t2.id):
        await append_message(store, tid, NewMessage(role="user", content="hi"))
    return {
        "llm": llm.id,
        "project": proj.id,
        "alice": alice.id,
        "bob": bob.id,
        "terse": terse.id,
        "direct": direct.id,
        "global": glob.id,
        "proj_prompt": pp.id,
        "t1": t1.id,
        "t2": t2.id,
    }


async def _count(store: Store, sql: str, **params: Any) -> int:
    async with store.session() as s:
        return int((await s.execute(text(sql), params)).scalar_one())


async def _raw(store: Store, sql: str, **params: Any) -> None:
    async with store.transaction() as s:
        await s.execute(text(sql), params)


async def test_llm_in_use_cannot_be_deleted(store: Store) -> None:
    ids = await _world(store)
    with pytest.raises(IntegrityError):
        await _raw(store, "DELETE FROM llm WHERE id = :id", id=ids["llm"])
    assert await _count(store, "SELECT count(*) FROM llm") == 1
    await _raw(store, "DELETE FROM agent")
    await _raw(store, "DELETE FROM llm WHERE id = :id", id=ids["llm"])
    assert await _count(store, "SELECT count(*) FROM llm") == 0


async def test_deleting_a_project_detaches_agents_and_takes_its_prompts(store: Store) -> None:
    ids = await _world(store)
    await _raw(store, "DELETE FROM project WHERE id = :id", id=ids["project"])
    assert await _count(store, "SELECT count(*) FROM agent WHERE project_id IS NULL") == 2
    assert (
        await _count(store, "SELECT count(*) FROM prompt WHERE id = :i", i=ids["proj_prompt"]) == 0
    )
    assert await _count(store, "SELECT count(*) FROM agent") == 2


async def test_deleting_the_default_personality_leaves_none(store: Store) -> None:
    ids = await _world(store)
    await _raw(store, "DELETE FROM personality WHERE id = :id", id=ids["terse"])
    async with store.session() as s:
        alice = await get_agent(s, ids["alice"])
        assert alice.default_personality_id is None
        # Its bindings went with it; the prompts stay.
        assert await list_bindings(s, ids["terse"]) == []
        assert (await get_prompt(s, ids["direct"])).name == "direct"


async def test_deleting_a_thread_takes_its_messages(store: Store) -> None:
    ids = await _world(store)
    await _raw(store, "DELETE FROM chat_thread WHERE id = :id", id=ids["t1"])
    assert (
        await _count(store, "SELECT count(*) FROM chat_message WHERE thread_id = :t", t=ids["t1"])
        == 0
    )
    assert await _count(store, "SELECT count(*) FROM chat_message") == 1


async def test_deleting_an_agent_purges_what_is_its_own(store: Store) -> None:
    ids = await _world(store)
    await _raw(store, "DELETE FROM agent WHERE id = :id", id=ids["alice"])
    assert await _count(store, "SELECT count(*) FROM personality") == 1  # bob's
    assert await _count(store, "SELECT count(*) FROM personality_prompt") == 0
    assert await _count(store, "SELECT count(*) FROM prompt WHERE agent_id IS NOT NULL") == 0
    assert await _count(store, "SELECT count(*) FROM prompt") == 2  # global + project stay
    assert await _count(store, "SELECT count(*) FROM chat_thread") == 1
    assert await _count(store, "SELECT count(*) FROM chat_message") == 1
    assert await _count(store, "SELECT count(*) FROM llm") == 1


@pytest.mark.parametrize(
    "sql",
    [
        # unique (name, agent_id) on personality
        "INSERT INTO personality (name, description, agent_id, priority, created_at)"
        " VALUES ('terse', '', :alice, 0, :now)",
        # unique (name, agent_id) on prompt
        "INSERT INTO prompt (name, content, priority, agent_id, created_at)"
        " VALUES ('direct', '', 0, :alice, :now)",
        # global names are unique among global prompts (partial index)
        "INSERT INTO prompt (name, content, priority, created_at) VALUES ('global', '', 0, :now)",
        # project names are unique within the project (partial index)
        "INSERT INTO prompt (name, content, priority, project_id, created_at)"
        " VALUES ('proj', '', 0, :project, :now)",
        # unique (personality_id, prompt_id)
        "INSERT INTO personality_prompt (personality_id, prompt_id) VALUES (:terse, :direct)",
        # unique (thread_id, turn_index)
        "INSERT INTO chat_message (thread_id, turn_index, role, content, status, created_at)"
        " VALUES (:t1, 0, 'user', '', 'complete', :now)",
        # a prompt has one scope at most
        "INSERT INTO prompt (name, content, priority, project_id, agent_id, created_at)"
        " VALUES ('both', '', 0, :project, :alice, :now)",
        # lifecycle enums are checked
        "UPDATE agent SET status = 'zombie' WHERE id = :alice",
        "UPDATE llm SET kind = 'imaginary'",
        "UPDATE chat_message SET status = 'lost'",
    ],
    ids=[
        "personality-name-per-agent",
        "prompt-name-per-agent",
        "global-prompt-name",
        "project-prompt-name",
        "binding-pair",
        "turn-index",
        "prompt-scope",
        "agent-status",
        "llm-kind",
        "message-status",
    ],
)
async def test_the_database_refuses(store: Store, sql: str) -> None:
    ids = await _world(store)
    params = {k: v for k, v in ids.items() if f":{k}" in sql}
    if ":now" in sql:
        params["now"] = utcnow()
    with pytest.raises(IntegrityError):
        await _raw(store, sql, **params)


async def test_same_names_are_fine_in_other_scopes(store: Store) -> None:
    ids = await _world(store)
    async with store.transaction() as s:
        # The same personality name on another agent, the same prompt name in every scope.
        await add_personality(s, agent_id=ids["bob"], name="chatty")
        await add_prompt(s, name="direct", agent_id=ids["bob"])
        await add_prompt(s, name="direct")
        await add_prompt(s, name="direct", project_id=ids["project"])


def _indexes(sync_conn: Any) -> dict[str, dict[str, Any]]:
    insp = inspect(sync_conn)
    return {
        f"{table}.{ix['name']}": ix
        for table in ("llm", "agent", "chat_thread", "prompt")
        for ix in insp.get_indexes(table)
    }


async def test_indexes_exist(store: Store) -> None:
    async with store.engine.connect() as conn:
        found = await conn.run_sync(_indexes)
    cols = {name: ix["column_names"] for name, ix in found.items()}
    assert cols["llm.ix_llm_kind_status"] == ["kind", "status"]
    assert cols["llm.ix_llm_provider_session_id"] == ["provider_session_id"]
    assert cols["agent.ix_agent_kind_status"] == ["kind", "status"]
    assert cols["agent.ix_agent_provider_session_id"] == ["provider_session_id"]
    assert cols["prompt.ix_prompt_agent_id"] == ["agent_id"]
    assert cols["chat_thread.ix_chat_thread_agent_last_turn"] == ["agent_id", "last_turn_at"]
    # The DESC is in the index itself (not only in the query).
    async with store.session() as s:
        if store.is_sqlite:
            ddl = (
                await s.execute(
                    text(
                        "SELECT sql FROM sqlite_master"
                        " WHERE name = 'ix_chat_thread_agent_last_turn'"
                    )
                )
            ).scalar_one()
        else:
            ddl = (
                await s.execute(
                    text(
                        "SELECT indexdef FROM pg_indexes"
                        " WHERE indexname = 'ix_chat_thread_agent_last_turn'"
                    )
                )
            ).scalar_one()
    assert "last_turn_at DESC" in ddl


async def test_thread_listing_uses_the_index(store: Store) -> None:
    """The planner walks (agent_id, last_turn_at DESC) for the thread pane's query."""
    ids = await _world(store)
    if store.is_sqlite:
        sql = (
            "EXPLAIN QUERY PLAN SELECT id FROM chat_thread WHERE agent_id = :a"
            " ORDER BY last_turn_at DESC, id DESC LIMIT 50"
        )
    else:
        sql = (
            "EXPLAIN SELECT id FROM chat_thread WHERE agent_id = :a"
            " ORDER BY last_turn_at DESC, id DESC LIMIT 50"
        )
    async with store.session() as s:
        if not store.is_sqlite:
            await s.execute(text("SET LOCAL enable_seqscan = off"))  # tiny table otherwise
        plan = " ".join(str(r) for r in (await s.execute(text(sql), {"a": ids["alice"]})).all())
    assert "ix_chat_thread_agent_last_turn" in plan


async def test_rules_hold_for_orm_writes_too(store: Store) -> None:
    """The FK is not a query-layer courtesy: an ORM insert to a missing agent fails."""
    with pytest.raises(IntegrityError):
        async with store.transaction() as s:
            s.add(ChatThread(agent_id=12345, title="orphan"))
