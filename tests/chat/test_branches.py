"""Branches through ChatService on both backends: an edited question and a reply answered
again start a branch (nothing overwritten), the request sends the current path only,
switching brings a branch's newest continuation, a refusal changes nothing, and racing
senders on a branched thread keep one chain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mcpctl_tui.chat.context import ChatOverrides
from mcpctl_tui.chat.errors import UnknownPersonality
from mcpctl_tui.chat.events import ChatEvent, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.branches import show_turn, step_branch
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.messages import Turn, all_messages, every_turn, lock_thread
from tests.support.chat_race import race_problems
from tests.support.llm_servers import LlmServer, openai_reply
from tests.support.seed import add_agent, add_llm


async def _collect(events: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [e async for e in events]


async def _path(store: Store, thread_id: int) -> list[tuple[int, str]]:
    async with store.session() as s:
        return [(t.turn_index, t.content) for t in await all_messages(s, thread_id)]


async def _tree(store: Store, thread_id: int) -> list[Turn]:
    async with store.session() as s:
        return await every_turn(s, thread_id)


def _sent(srv: LlmServer, n: int) -> list[str]:
    """The texts of request ``n`` (its system message left out)."""
    return [m["content"] for m in srv.requests[n].json["messages"][1:]]


async def _agent(store: Store, url: str) -> None:
    llm = (await add_llm(store, "oa", type="openai", url=url, model="gpt-test")).id
    await add_agent(store, "a", llm, system_prompt="SYS")


def _replies(*texts: str) -> list[Any]:
    return [openai_reply([t]) for t in texts]


async def test_an_edit_and_a_regenerate_branch_and_keep_everything(store: Store) -> None:
    async with LlmServer(_replies("A1", "A3", "A3'", "B", "C")) as srv:
        await _agent(store, srv.url)
        async with ChatService(store) as svc:
            tid = (await svc.run_one_inference("a", "Q0")).thread_id
            await svc.run_one_inference("a", "Q2", thread_id=tid)
            assert await _path(store, tid) == [(0, "Q0"), (1, "A1"), (2, "Q2"), (3, "A3")]

            # Edit turn 2: asked beside it, with the path before it as history.
            events = await _collect(svc.send("a", "Q2'", thread_id=tid, edit_turn=2))
            started = events[0]
            assert isinstance(started, TurnStarted)
            assert _sent(srv, 2) == ["Q0", "A1", "Q2'"]
            assert await _path(store, tid) == [(0, "Q0"), (1, "A1"), (4, "Q2'"), (5, "A3'")]
            tree = {t.turn_index: t for t in await _tree(store, tid)}
            assert sorted(started.replaced_message_ids) == [tree[2].id, tree[3].id]
            assert (tree[2].on_path, tree[3].on_path, tree[3].content) == (False, False, "A3")
            assert (tree[4].parent_index, tree[4].branches, tree[4].branch) == (1, 2, 2)
            assert (tree[2].branches, tree[2].branch, tree[5].branches) == (2, 1, 1)

            # Answer turn 1 again: a third branch point, under the first question.
            await _collect(svc.regenerate(tid, at_turn=1))
            assert _sent(srv, 3) == ["Q0"]
            assert await _path(store, tid) == [(0, "Q0"), (6, "B")]

            # Back to the first reply: it brings its newest continuation (the edit).
            async with store.transaction() as s:
                assert await step_branch(s, tid, 6, -1) == 1
                assert await step_branch(s, tid, 1, -1) is None  # the first: nothing moves
            assert await _path(store, tid) == [(0, "Q0"), (1, "A1"), (4, "Q2'"), (5, "A3'")]

            # The last question answered again: the path's own end, not an old branch.
            await _collect(svc.regenerate(tid))
            assert _sent(srv, 4) == ["Q0", "A1", "Q2'"]
            assert await _path(store, tid) == [(0, "Q0"), (1, "A1"), (4, "Q2'"), (7, "C")]
            # An old turn shown on its own: the path runs through it to its newest leaf.
            async with store.transaction() as s:
                await show_turn(s, tid, 2)
            assert await _path(store, tid) == [(0, "Q0"), (1, "A1"), (2, "Q2"), (3, "A3")]
    assert len(await _tree(store, tid)) == 8  # nothing deleted


async def test_edit_the_first_question_and_refusals_change_nothing(store: Store) -> None:
    async with LlmServer(_replies("A1", "A1'")) as srv:
        await _agent(store, srv.url)
        async with ChatService(store) as svc:
            tid = (await svc.run_one_inference("a", "Q0")).thread_id
            before = await _tree(store, tid)
            not_a_question = r"turn 1 of thread \d+ is an assistant turn, not a user one"
            with pytest.raises(Invalid, match=not_a_question):
                await _collect(svc.send("a", "x", thread_id=tid, edit_turn=1))
            with pytest.raises(Invalid, match="is a user turn, not an assistant one"):
                await _collect(svc.regenerate(tid, at_turn=0))
            with pytest.raises(NotFound):
                await _collect(svc.send("a", "x", thread_id=tid, edit_turn=9))
            with pytest.raises(UnknownPersonality):  # raised after the branch: rolled back
                await _collect(svc.regenerate(tid, at_turn=1, personality="nobody"))
            assert await _tree(store, tid) == before
            assert len(srv.requests) == 1

            await _collect(svc.send("a", "Q0'", thread_id=tid, edit_turn=0))
            assert _sent(srv, 1) == ["Q0'"]
    assert await _path(store, tid) == [(2, "Q0'"), (3, "A1'")]
    tree = await _tree(store, tid)
    assert [(t.turn_index, t.parent_index, t.branches, t.branch) for t in tree] == [
        (0, None, 2, 1),
        (1, 0, 1, 1),
        (2, None, 2, 2),
        (3, 2, 1, 1),
    ]


async def test_racing_senders_on_a_branch_keep_one_chain(store: Store) -> None:
    """Senders racing on a branched thread, each with its own store (connections), and
    a switch among them: every send lands on the path's end, each question followed by
    its own answer, the chain unbroken."""
    async with store.transaction() as s:
        echo = await add_llm(s, "echo", type="echo")
        await add_agent(s, "e", echo.id)
    async with ChatService(store) as svc:
        tid = (await svc.run_one_inference("e", "base")).thread_id
        await _collect(svc.regenerate(tid))  # turn 2 beside turn 1: a branch point
    senders = {f"w{n}": [f"w{n}:{i}" for i in range(4)] for n in range(4)}

    async def sender(texts: list[str]) -> None:
        own = await open_store(store.url)
        try:
            async with ChatService(own) as svc:
                for text in texts:
                    await svc.run_one_inference("e", text, thread_id=tid)
        finally:
            await own.close()

    await asyncio.gather(*(sender(t) for t in senders.values()))
    path = await _tree(store, tid)
    on_path = [t for t in path if t.on_path]
    assert [t.turn_index for t in on_path[:2]] == [0, 2]
    # After the branch's reply, the race's turns: 16 questions each with its answer.
    assert race_problems(on_path[2:], senders, after=2) == []
    assert len(on_path) == 2 + 32


async def test_a_branch_switch_waits_for_the_thread_lock(store: Store) -> None:
    """A switch is one more writer of the thread: it queues behind a held lock."""
    async with store.transaction() as s:
        echo = await add_llm(s, "echo", type="echo")
        await add_agent(s, "e", echo.id)
    async with ChatService(store) as svc:
        tid = (await svc.run_one_inference("e", "q")).thread_id
        await _collect(svc.regenerate(tid))
    other = await open_store(store.url)
    try:
        async with store.transaction() as s:
            await lock_thread(s, tid)

            async def switch() -> int | None:
                async with other.transaction() as s2:
                    await lock_thread(s2, tid)
                    return await step_branch(s2, tid, 2, -1)

            task = asyncio.create_task(switch())
            await asyncio.sleep(0.3)
            assert not task.done()
        assert await asyncio.wait_for(task, 10) == 1
    finally:
        await other.close()
    assert [i for i, _ in await _path(store, tid)] == [0, 1]


async def test_a_question_answered_again_by_another_llm(store: Store) -> None:
    """/llm (ChatOverrides.llm): the same question tried on another LLM, beside the
    first answer; the reply records which LLM gave it; an unknown name writes nothing."""
    async with LlmServer(_replies("from A")) as one, LlmServer(_replies("from B")) as two:
        await _agent(store, one.url)
        await add_llm(store, "other", type="openai", url=two.url, model="gpt-other")
        async with ChatService(store) as svc:
            tid = (await svc.run_one_inference("a", "Q")).thread_id
            with pytest.raises(NotFound, match="llm nosuch"):
                await _collect(svc.regenerate(tid, overrides=ChatOverrides(llm="nosuch")))
            await _collect(svc.regenerate(tid, at_turn=1, overrides=ChatOverrides(llm="other")))
        assert _sent(two, 0) == ["Q"] and len(one.requests) == 1
    tree = await _tree(store, tid)
    assert [(t.content, t.llm, t.model, t.on_path) for t in tree[1:]] == [
        ("from A", "oa", "gpt-test", False),
        ("from B", "other", "gpt-other", True),
    ]
