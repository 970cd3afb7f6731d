"""A reply is finished into the turn it started and nowhere else: ids are never handed out
twice (SQLite AUTOINCREMENT, migration 0006), and the finish matches id, thread, turn index
and ``pending``. A reply that outlives its thread ends as an error its sender sees, with
the text kept, and no other row changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mcpctl_tui.chat.events import TurnEnded, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import ErrorKind, TextDelta
from mcpctl_tui.store.deletes import delete_agent, delete_thread
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import TurnGone
from mcpctl_tui.store.messages import NewMessage, finish_message, insert_turns, lock_thread
from mcpctl_tui.store.migrate import upgrade_to
from mcpctl_tui.store.models import ChatMessage, ChatThread
from mcpctl_tui.store.threads import create_thread
from mcpctl_tui.store.types import MessageStatus
from tests.support.llm_servers import LlmServer, Reply, openai_events
from tests.support.seed import add_agent, add_llm

PENDING = MessageStatus.PENDING


async def _thread_with_pending_reply(store: Store, agent_id: int) -> tuple[int, int]:
    """A thread holding a question and a pending reply: (thread id, reply id)."""
    async with store.transaction() as s:
        thread = await create_thread(s, agent_id, "t")
        assert await lock_thread(s, thread.id)
        _q, reply = await insert_turns(
            s, thread.id, 0, [NewMessage("user", "q"), NewMessage("assistant", status=PENDING)]
        )
    return thread.id, reply


async def _rows(store: Store) -> list[tuple[int, int, int, str, MessageStatus]]:
    async with store.session() as s:
        q = select(
            ChatMessage.id,
            ChatMessage.thread_id,
            ChatMessage.turn_index,
            ChatMessage.content,
            ChatMessage.status,
        ).order_by(ChatMessage.id)
        return [tuple(r) for r in (await s.execute(q)).all()]  # type: ignore[misc]


async def test_deleted_rows_never_give_their_ids_back(store: Store) -> None:
    """The newest agent, thread and turns deleted, then made again: every new id is past
    every id handed out before (SQLite used to hand the same ones out again)."""
    llm = await add_llm(store, "l")
    agent = await add_agent(store, "a", llm.id)
    thread_id, reply_id = await _thread_with_pending_reply(store, agent.id)
    async with store.transaction() as s:
        await delete_thread(s, thread_id)
        await delete_agent(s, agent.id)
    again = await add_agent(store, "a", llm.id)
    thread2, reply2 = await _thread_with_pending_reply(store, again.id)
    assert again.id > agent.id and thread2 > thread_id and reply2 > reply_id


async def test_a_finish_writes_only_the_turn_it_started(store: Store) -> None:
    llm = await add_llm(store, "l")
    agent = await add_agent(store, "a", llm.id)
    gone_thread, gone_reply = await _thread_with_pending_reply(store, agent.id)
    other_thread, other_reply = await _thread_with_pending_reply(store, agent.id)
    async with store.transaction() as s:
        await delete_thread(s, gone_thread)
    before = await _rows(store)

    with pytest.raises(TurnGone, match="its thread was deleted"):
        await finish_message(store, gone_reply, gone_thread, 1, content="late")
    # Another thread's pending turn, named by its id with the wrong thread or turn index:
    # not this writer's, left alone.
    with pytest.raises(TurnGone, match="its thread was deleted"):
        await finish_message(store, other_reply, gone_thread, 1, content="late")
    with pytest.raises(TurnGone, match="its turn was replaced"):
        await finish_message(store, other_reply, other_thread, 0, content="late")
    assert await _rows(store) == before

    await finish_message(
        store, other_reply, other_thread, 1, content="mine", status=MessageStatus.COMPLETE
    )
    with pytest.raises(TurnGone, match="its turn was replaced"):  # finished once, not twice
        await finish_message(store, other_reply, other_thread, 1, content="again")
    rows = await _rows(store)
    assert rows[-1] == (other_reply, other_thread, 1, "mine", MessageStatus.COMPLETE)


async def test_a_reply_that_outlives_its_thread_says_so_and_keeps_its_text(store: Store) -> None:
    """Through the chat engine: the thread is deleted (and the agent made again, as the
    probe did) while the reply streams; the reply ends as an error naming why, the text
    it had is in the end event, and the new thread's turns are untouched."""
    chunks = [f"w{i} " for i in range(30)]
    async with LlmServer(Reply(openai_events(chunks), delay=0.03)) as srv:
        llm = (await add_llm(store, "oa", type="openai", url=srv.url, model="m")).id
        agent = (await add_agent(store, "a", llm)).id
        async with ChatService(store) as svc:
            gen = svc.send("a", "first question")
            started = await anext(gen)
            assert isinstance(started, TurnStarted)
            async for ev in gen:
                if isinstance(ev, TextDelta):
                    break
            async with store.transaction() as s:
                await delete_thread(s, started.thread_id)
                await delete_agent(s, agent)
            fresh = (await add_agent(store, "a", llm)).id
            new_thread, new_reply = await _thread_with_pending_reply(store, fresh)
            events = [ev async for ev in gen]
    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert ended.status == MessageStatus.ERROR and ended.error_kind == ErrorKind.STORE
    assert ended.error == "the reply was not stored: its thread was deleted while it streamed"
    assert ended.text == "".join(chunks)  # kept for the sender: on screen, on stdout
    rows = await _rows(store)
    assert rows == [
        (new_reply - 1, new_thread, 0, "q", MessageStatus.COMPLETE),
        (new_reply, new_thread, 1, "", PENDING),
    ]


async def test_upgrade_to_0006_keeps_rows_and_schema_and_stops_id_reuse(
    tmp_path: Path,
) -> None:
    """SQLite: the rebuild keeps every row, index and constraint (only AUTOINCREMENT and
    the inline primary key differ) and the next ids continue past the highest ones."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    store = await open_store(url, migrate=False)
    try:
        await upgrade_to(store.engine, "0005_change_feed")
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO llm (id, name, type, model, url, description, kind, status,"
                " created_at, updated_at) VALUES (7, 'l', 'echo', '', '', '', 'public',"
                " 'active', '2024-05-01 10:00:00', '2024-05-01 10:00:00')"
            )
        schema_before = await _schema(store)
        await upgrade_to(store.engine, "0006_no_id_reuse")
        schema_after = await _schema(store)
        assert set(schema_after) == set(schema_before) | {"sqlite_sequence"}
        for name, sql in schema_before.items():
            if name.startswith(("ix_", "uq_")):
                assert schema_after[name] == sql, name
            else:  # a table: the same constraints, AUTOINCREMENT added
                has_id = "\tid INTEGER" in sql
                assert ("AUTOINCREMENT" in schema_after[name]) == has_id, name
                assert schema_after[name].count("CHECK") == sql.count("CHECK"), name
                assert schema_after[name].count("FOREIGN KEY") == sql.count("FOREIGN KEY")
                assert schema_after[name].count("UNIQUE") == sql.count("UNIQUE"), name
    finally:
        await store.close()
    store = await open_store(url)
    try:
        async with store.transaction() as s:
            await s.execute(ChatThread.__table__.select())  # the tables read fine
        await _delete_and_add_llm(store)
    finally:
        await store.close()


async def _delete_and_add_llm(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM llm WHERE id = 7")
    made = await add_llm(store, "m")
    assert made.id == 8  # past the deleted 7, not 7 again


async def _schema(store: Store) -> dict[str, str]:
    async with store.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN"
            " ('table', 'index')"
        )
        return {r[0]: r[1] for r in rows.all()}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_write_racing_a_delete_is_a_one_line_conflict(store: Store) -> None:
    """The probe's apply-vs-delete race ended in a StaleDataError traceback: a row read,
    deleted by another process, then changed here. Now a Conflict that says to retry."""
    from mcpctl_tui.store.errors import Conflict
    from mcpctl_tui.store.models import Agent

    llm = await add_llm(store, "l")
    agent = await add_agent(store, "a", llm.id)
    other = await open_store(store.url)
    try:
        with pytest.raises(Conflict, match=r"changed or deleted .* nothing was written"):
            async with store.transaction() as s:
                row = await s.get(Agent, agent.id)
                assert row is not None
                async with other.transaction() as s2:  # another process, committed
                    await delete_agent(s2, agent.id)
                row.description = "edited"
    finally:
        await other.close()
