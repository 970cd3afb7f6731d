"""The query layer: CRUD for every table, readable refusals, joined listings, paging,
message windows and exact tool-call round-trips, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mcpctl_tui.store.agents import list_agent_listings
from mcpctl_tui.store.catalog import (
    get_llm_by_name,
    get_project_by_name,
    get_prompt_by_name,
    list_personalities,
)
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Conflict, Invalid, NotFound
from mcpctl_tui.store.messages import (
    NewMessage,
    all_messages,
    finish_message,
    last_messages,
    messages_before,
    messages_from,
)
from mcpctl_tui.store.models import ChatMessage, ChatThread
from mcpctl_tui.store.threads import (
    ThreadCursor,
    create_thread,
    get_thread,
    list_threads,
    rename_thread,
    search_threads,
)
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageStatus, utcnow
from tests.support.message_append import append_message
from tests.support.seed import (
    add_agent,
    add_llm,
    add_personality,
    add_project,
    add_prompt,
    bind_prompt,
)
from tests.support.store_rows import (
    get_agent,
    get_agent_listing,
    get_llm,
    get_personality,
    get_project,
    get_prompt,
    list_agents,
    list_bindings,
    list_llms,
    list_projects,
    set_binding_priority,
    update_agent,
    update_llm,
    update_personality,
    update_project,
    update_prompt,
)


async def _llm_and_agent(store: Store, agent: str = "alice") -> tuple[int, int]:
    async with store.transaction() as s:
        llm = await add_llm(s, name=f"llm-{agent}", type="openai", model="gpt-4o")
        a = await add_agent(s, name=agent, llm_id=llm.id)
        return llm.id, a.id


async def test_crud_for_every_table(store: Store) -> None:
    async with store.transaction() as s:
        llm = await add_llm(
            s, name="gpt", type="openai", model="gpt-4o", api_key_ref="env:OPENAI_KEY", tier="big"
        )
        proj = await add_project(s, name="ops", description="operations")
        agent = await add_agent(
            s,
            name="alice",
            llm_id=llm.id,
            project_id=proj.id,
            system_prompt="You help.",
            default_params={"temperature": 0.2},
            extras={"tags": ["a", "b"]},
        )
        pers = await add_personality(s, agent_id=agent.id, name="terse", priority=3)
        prompt = await add_prompt(s, name="short", content="Be short.", agent_id=agent.id)
        await bind_prompt(s, pers.id, prompt.id, priority=9)
        thread = await create_thread(s, agent.id, "first")

    async with store.transaction() as s:
        await update_llm(s, llm.id, model="gpt-4.1", api_key_ref="keyring:openai/ops")
        await update_project(s, proj.id, description="ops team")
        await update_agent(s, agent.id, default_personality_id=pers.id, system_prompt="Help.")
        await update_personality(s, pers.id, description="few words")
        await update_prompt(s, prompt.id, content="Be brief.", priority=4)
        await set_binding_priority(s, pers.id, prompt.id, None)
        await rename_thread(s, thread.id, "renamed")

    async with store.session() as s:
        got_llm = await get_llm(s, llm.id)
        assert (got_llm.model, got_llm.api_key_ref, got_llm.tier) == (
            "gpt-4.1",
            "keyring:openai/ops",
            "big",
        )
        assert got_llm.kind == LlmKind.PUBLIC and got_llm.status == LlmStatus.ACTIVE
        assert (await get_llm_by_name(s, "gpt")) is not None
        assert [x.name for x in await list_llms(s)] == ["gpt"]
        assert [x.name for x in await list_llms(s, kind=LlmKind.VIRTUAL)] == []
        assert (await get_project(s, proj.id)).description == "ops team"
        assert [p.name for p in await list_projects(s)] == ["ops"]
        a = await get_agent(s, agent.id)
        assert a.system_prompt == "Help."
        assert a.default_params == {"temperature": 0.2}
        assert a.extras == {"tags": ["a", "b"]}
        assert a.default_personality_id == pers.id
        assert a.created_at.tzinfo is not None
        assert [x.name for x in await list_agents(s)] == ["alice"]
        assert (await get_personality(s, pers.id)).description == "few words"
        assert [p.name for p in await list_personalities(s, agent.id)] == ["terse"]
        assert (await get_prompt(s, prompt.id)).content == "Be brief."
        assert (await get_prompt_by_name(s, "short", agent_id=agent.id)) is not None
        assert (await get_prompt_by_name(s, "short")) is None  # not a global prompt
        [binding] = await list_bindings(s, pers.id)
        assert (binding.name, binding.priority_override, binding.priority) == ("short", None, 4)
        t = await get_thread(s, thread.id)
        assert t.title == "renamed"


async def test_agent_listing_is_one_joined_query(store: Store) -> None:
    async with store.transaction() as s:
        pub = await add_llm(s, name="gpt", type="openai")
        virt = await add_llm(
            s, name="local", type="ollama", kind=LlmKind.VIRTUAL, provider_session_id="sess-1"
        )
        proj = await add_project(s, name="ops")
        a = await add_agent(s, name="alice", llm_id=pub.id, project_id=proj.id)
        await add_agent(
            s,
            name="bob",
            llm_id=virt.id,
            kind=LlmKind.VIRTUAL,
            status=LlmStatus.INACTIVE,
            provider_session_id="sess-1",
        )
        terse = await add_personality(s, agent_id=a.id, name="terse")
        await update_agent(s, a.id, default_personality_id=terse.id)
    statements: list[str] = []

    from sqlalchemy import event

    def _count(_c: object, _cur: object, statement: str, *_a: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", _count)
    try:
        async with store.session() as s:
            rows = await list_agent_listings(s)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", _count)
    assert len(statements) == 1
    alice, bob = rows
    assert (alice.name, alice.llm_name, alice.llm_type, alice.project_name) == (
        "alice",
        "gpt",
        "openai",
        "ops",
    )
    assert (alice.kind, alice.status, alice.default_personality_name) == (
        LlmKind.PUBLIC,
        LlmStatus.ACTIVE,
        "terse",
    )
    assert (bob.llm_name, bob.llm_kind, bob.kind, bob.status, bob.project_name) == (
        "local",
        LlmKind.VIRTUAL,
        LlmKind.VIRTUAL,
        LlmStatus.INACTIVE,
        None,
    )
    async with store.session() as s:
        assert (await get_agent_listing(s, a.id)).llm_name == "gpt"
        assert [r.name for r in await list_agent_listings(s, project_id=proj.id)] == ["alice"]
        with pytest.raises(NotFound, match="agent 999 not found"):
            await get_agent_listing(s, 999)


async def test_conflicts_read_well_and_keep_the_transaction(store: Store) -> None:
    llm_id, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        with pytest.raises(Conflict, match=r"^llm llm-alice already exists$"):
            await add_llm(s, name="llm-alice", type="openai")
        with pytest.raises(Conflict, match=r"^agent alice already exists$"):
            await add_agent(s, name="alice", llm_id=llm_id)
        await add_personality(s, agent_id=agent_id, name="terse")
        with pytest.raises(
            Conflict, match=f"personality terse already exists for agent {agent_id}"
        ):
            await add_personality(s, agent_id=agent_id, name="terse")
        p = await add_prompt(s, name="g")
        with pytest.raises(Conflict, match="prompt g already exists as a global prompt"):
            await add_prompt(s, name="g")
        pers = await add_personality(s, agent_id=agent_id, name="chatty")
        await bind_prompt(s, pers.id, p.id)
        with pytest.raises(Conflict, match="already bound"):
            await bind_prompt(s, pers.id, p.id)
        other_id = (await add_agent(s, name="bob", llm_id=llm_id)).id
        with pytest.raises(Conflict, match=r"^agent alice already exists$"):
            await update_agent(s, other_id, name="alice")
        # The transaction is still good (savepoints), and commits what succeeded.
        await add_project(s, name="after-the-errors")
    async with store.session() as s:
        assert await get_project_by_name(s, "after-the-errors") is not None
        assert (await get_agent(s, other_id)).name == "bob"


async def test_invalid_values_are_refused_clearly(store: Store) -> None:
    llm_id, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        proj = await add_project(s, name="ops")
        with pytest.raises(Invalid, match="literal keys are refused"):
            await add_llm(s, name="x", type="openai", api_key_ref="sk-abc123")
        with pytest.raises(Invalid, match="a project or to an agent, not both"):
            await add_prompt(s, name="p", project_id=proj.id, agent_id=agent_id)
        p = await add_prompt(s, name="p", project_id=proj.id)
        with pytest.raises(Invalid, match="not both"):
            await update_prompt(s, p.id, agent_id=agent_id)
        with pytest.raises(Invalid, match="has no updatable field 'colour'"):
            await update_llm(s, llm_id, colour="red")
        with pytest.raises(Invalid, match="refers to a row that does not exist"):
            await add_agent(s, name="orphan", llm_id=98765)
        other_llm, other_agent = llm_id, (await add_agent(s, name="bob", llm_id=llm_id)).id
        pers = await add_personality(s, agent_id=other_agent, name="bobs")
        with pytest.raises(Invalid, match="not one of its personalities"):
            await update_agent(s, agent_id, default_personality_id=pers.id)
        with pytest.raises(NotFound, match="llm 4242 not found"):
            await update_llm(s, 4242, model="m")
        assert other_llm == llm_id


async def test_bindings_order_by_override_then_prompt_priority(store: Store) -> None:
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        pers = await add_personality(s, agent_id=agent_id, name="p")
        low = await add_prompt(s, name="low", priority=1)
        high = await add_prompt(s, name="high", priority=5)
        mid = await add_prompt(s, name="mid", priority=3, agent_id=agent_id)
        await bind_prompt(s, pers.id, low.id, priority=10)  # override lifts it to the top
        await bind_prompt(s, pers.id, high.id)
        await bind_prompt(s, pers.id, mid.id)
    async with store.session() as s:
        got = [(b.name, b.priority) for b in await list_bindings(s, pers.id)]
    assert got == [("low", 10), ("high", 5), ("mid", 3)]


async def test_thread_pages_have_no_duplicates_and_no_gaps(store: Store) -> None:
    _llm, agent_id = await _llm_and_agent(store)
    _llm2, other = await _llm_and_agent(store, "bob")
    # Whole seconds: the SQLite text form must still compare right at the cursor.
    base = utcnow().replace(microsecond=0)
    async with store.transaction() as s:
        ids = [(await create_thread(s, agent_id, f"t{i}")).id for i in range(23)]
        await create_thread(s, other, "not alice's")
        # Runs of equal last_turn_at (3 threads each) straddle the page boundaries.
        for i, tid in enumerate(ids):
            await s.execute(
                update(ChatThread)
                .where(ChatThread.id == tid)
                .values(last_turn_at=base - timedelta(minutes=i // 3))
            )
    await append_message(store, ids[-1], NewMessage(role="user", content="bump"))
    seen: list[int] = []
    cursor: ThreadCursor | None = None
    async with store.session() as s:
        while True:
            page = await list_threads(s, agent_id, limit=4, after=cursor)
            if not page:
                break
            seen += [t.id for t in page]
            cursor = ThreadCursor(page[-1].last_turn_at, page[-1].id)
    # The bumped thread first, then newest first, ties broken by id descending.
    expected = [ids[-1], *sorted(ids[:-1], key=lambda t: (ids.index(t) // 3, -t))]
    assert seen == expected
    assert len(set(seen)) == 23
    async with store.session() as s:
        first = await list_threads(s, agent_id, limit=1)
    assert first[0].turn_count == 1 and first[0].title == "t22"


async def test_title_search_matches_the_text_literally(store: Store) -> None:
    """``%``, ``_`` and the escape character in the search text are no wildcards."""
    _llm, agent_id = await _llm_and_agent(store)
    titles = ["50%", "Budget 50% cut", "500 things", "a_b", "A_B notes", "axb", "a/b", "ab"]
    async with store.transaction() as s:
        for title in titles:
            await create_thread(s, agent_id, title)

    async def found(text: str) -> set[str]:
        async with store.session() as s:
            return {h.title for h in await search_threads(s, text, limit=100)}

    assert await found("50%") == {"50%", "Budget 50% cut"}
    assert await found("a_b") == {"a_b", "A_B notes"}  # case-insensitive, "_" literal
    assert await found("a/b") == {"a/b"}
    assert await found("%") == {"50%", "Budget 50% cut"}
    assert await found("_") == {"a_b", "A_B notes"}
    assert await found("") == set(titles)
    async with store.session() as s:
        [hit] = await search_threads(s, "axb")
    assert (hit.title, hit.agent_id, hit.agent_name) == ("axb", agent_id, "alice")


async def test_message_windows(store: Store) -> None:
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        tid = (await create_thread(s, agent_id)).id
    for i in range(25):
        await append_message(
            store, tid, NewMessage(role="user" if i % 2 == 0 else "assistant", content=f"m{i}")
        )
    async with store.session() as s:
        last = await last_messages(s, tid, 10)
        assert [m.turn_index for m in last] == list(range(15, 25))
        assert [m.content for m in last][-1] == "m24"
        page = await messages_before(s, tid, last[0].turn_index, 10)
        assert [m.turn_index for m in page] == list(range(5, 15))
        top = await messages_before(s, tid, page[0].turn_index, 10)
        assert [m.turn_index for m in top] == list(range(5))
        assert await messages_before(s, tid, 0, 10) == []
        assert [m.turn_index for m in await all_messages(s, tid)] == list(range(25))
        tail = await messages_from(s, tid, 22, 10)
        assert [(m.turn_index, m.content) for m in tail] == [(22, "m22"), (23, "m23"), (24, "m24")]
        assert [m.turn_index for m in await messages_from(s, tid, 3, 2)] == [3, 4]
        assert await messages_from(s, tid, 25, 10) == []


async def test_append_moves_last_turn_at_and_finish_updates(store: Store) -> None:
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        thread = await create_thread(s, agent_id)
    before = thread.last_turn_at
    msg = await append_message(
        store, thread.id, NewMessage(role="assistant", status=MessageStatus.PENDING)
    )
    assert (msg.turn_index, msg.status) == (0, MessageStatus.PENDING)
    await finish_message(
        store,
        msg.id,
        thread.id,
        0,
        content="done",
        status=MessageStatus.COMPLETE,
        usage={"output_tokens": 3},
    )
    async with store.session() as s:
        t = await get_thread(s, thread.id)
        [m] = await all_messages(s, thread.id)
    assert t.last_turn_at > before
    assert (m.content, m.status, m.usage) == ("done", MessageStatus.COMPLETE, {"output_tokens": 3})
    assert m.created_at.tzinfo is not None
    with pytest.raises(NotFound, match="thread 777 not found"):
        await append_message(store, 777, NewMessage(role="user"))
    # The durable variant (PostgreSQL waits for the WAL flush) appends the same way.
    again = await append_message(store, thread.id, NewMessage(role="user"), durable=True)
    assert again.turn_index == 1


TOOL_CALLS = [
    {
        "id": "call_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Zürich", "units":"metric"}'},
    },
    {
        "id": "call_1",
        "type": "function",
        # Arguments are model output: kept byte for byte, odd spacing and escapes included.
        "function": {"name": "search", "arguments": '{ "q" : "a \\"quoted\\" \\n line" ,"n":1.50}'},
    },
    {"id": "call_2", "type": "function", "function": {"name": "noop", "arguments": ""}},
]


async def test_tool_call_payloads_round_trip_exactly(store: Store) -> None:
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        tid = (await create_thread(s, agent_id)).id
    sent = [
        NewMessage(role="user", content="weather and search please"),
        NewMessage(role="assistant", content="", tool_calls=TOOL_CALLS),
        NewMessage(role="tool", content='{"temp": 21.5, "sky": "☀"}', tool_call_id="call_0"),
        NewMessage(role="tool", content="[]", tool_call_id="call_1"),
        NewMessage(role="tool", content="", tool_call_id="call_2"),
        NewMessage(
            role="assistant",
            content="It is 21.5 °C.",
            thinking="the user wants…",
            usage={"input_tokens": 120, "output_tokens": 9},
            timing={"ttft_ms": 123.5, "duration_ms": 456.25},
            model="gpt-4o",
            personality="terse",
        ),
    ]
    for m in sent:
        await append_message(store, tid, m)
    async with store.session() as s:
        got = await all_messages(s, tid)
    for m, g in zip(sent, got, strict=True):
        assert (g.role, g.content, g.tool_call_id, g.thinking, g.model, g.personality) == (
            m.role,
            m.content,
            m.tool_call_id,
            m.thinking,
            m.model,
            m.personality,
        )
        assert g.usage == m.usage and g.timing == m.timing
        # Equal as JSON values and as the strings a provider gets back.
        assert g.tool_calls == m.tool_calls
        if m.tool_calls is not None:
            assert g.tool_calls is not None
            for a, b in zip(g.tool_calls, m.tool_calls, strict=True):
                assert a["function"]["arguments"] == b["function"]["arguments"]
                assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


async def test_light_reads_equal_the_orm_rows(store: Store) -> None:
    """The hot reads skip the ORM; they must return exactly what the ORM would."""
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        tid = (await create_thread(s, agent_id)).id
    for m in [
        NewMessage(role="user", content="hi"),
        NewMessage(role="assistant", tool_calls=TOOL_CALLS, usage={"output_tokens": 1}),
        NewMessage(role="tool", content="{}", tool_call_id="call_0"),
        NewMessage(role="assistant", status=MessageStatus.ERROR, error="boom", thinking="hmm"),
    ]:
        await append_message(store, tid, m)
    columns = [c.key for c in ChatMessage.__table__.columns]
    async with store.session() as s:
        orm = (
            (
                await s.execute(
                    select(ChatMessage)
                    .where(ChatMessage.thread_id == tid)
                    .order_by(ChatMessage.turn_index)
                )
            )
            .scalars()
            .all()
        )
        light = await all_messages(s, tid)
        assert [m.turn_index for m in await last_messages(s, tid, 2)] == [2, 3]
    assert len(orm) == len(light) == 4
    for o, t in zip(orm, light, strict=True):
        assert {c: getattr(o, c) for c in columns} == {c: getattr(t, c) for c in columns}
        assert type(t.status) is MessageStatus
        assert t.created_at.tzinfo is not None


async def test_nul_in_model_output_is_stored_not_refused(store: Store) -> None:
    """PostgreSQL cannot store NUL in text or JSONB; the turn is kept, NUL shown as U+FFFD."""
    _llm, agent_id = await _llm_and_agent(store)
    async with store.transaction() as s:
        tid = (await create_thread(s, agent_id)).id
    calls = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "a\x00b"}}]
    pending = MessageStatus.PENDING
    m = await append_message(
        store, tid, NewMessage(role="assistant", content="x\x00y", tool_calls=calls, status=pending)
    )
    await finish_message(store, m.id, tid, 0, thinking="t\x00", status=MessageStatus.COMPLETE)
    async with store.session() as s:
        [got] = await all_messages(s, tid)
    assert got.content == "x\ufffdy"
    assert got.thinking == "t\ufffd"
    assert got.tool_calls is not None
    assert got.tool_calls[0]["function"]["arguments"] == "a\ufffdb"
