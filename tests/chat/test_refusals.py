"""A chat the LLM cannot take is refused before anything is stored (``ChatService.admit``):
no empty thread, no dangling user turn, no deleted answer; on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mcpctl_tui.chat.errors import Refused
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import ErrorKind, StreamError
from mcpctl_tui.llm.request import Message
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import ChatThread, InferenceTask, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, MessageRole, MessageStatus, utcnow
from mcpctl_tui.virtual.dispatch import VirtualLlmService
from tests.support.llm_servers import LlmServer, openai_reply
from tests.support.seed import add_agent, add_llm


async def _openai_agent(store: Store, url: str, **kw: object) -> int:
    llm = (await add_llm(store, "oa", type="openai", url=url, model="gpt-test", **kw)).id
    return (await add_agent(store, "a", llm, system_prompt="SYS")).id


async def _thread_count(store: Store) -> int:
    async with store.session() as s:
        return len((await s.execute(select(ChatThread))).all())


async def test_missing_api_key_is_refused_before_anything_is_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check refuses with the reference named, and no empty thread is left."""
    monkeypatch.delenv("MCPCTL_KEY_TEST_NO_SUCH", raising=False)
    async with LlmServer(openai_reply(["never"])) as srv:
        await _openai_agent(store, srv.url, api_key_ref="env:MCPCTL_KEY_TEST_NO_SUCH")
        async with ChatService(store) as svc:
            with pytest.raises(Refused) as refused:
                await svc.run_one_inference("a", "hi")
            assert str(refused.value) == (
                "LLM oa: API key reference env:MCPCTL_KEY_TEST_NO_SUCH: "
                "environment variable MCPCTL_KEY_TEST_NO_SUCH is not set"
            )
            assert refused.value.kind == ErrorKind.CONFIG
            assert srv.requests == []  # nothing went out
            assert await _thread_count(store) == 0  # and nothing was stored
            monkeypatch.setenv("MCPCTL_KEY_TEST_NO_SUCH", "sk-test-123")
            ok = await svc.run_one_inference("a", "hi again")
            # In an existing thread a refusal stores no user turn either.
            monkeypatch.delenv("MCPCTL_KEY_TEST_NO_SUCH")
            with pytest.raises(Refused):
                await svc.run_one_inference("a", "once more", thread_id=ok.thread_id)
            with pytest.raises(Refused):  # nor does a regenerate delete the answer
                [e async for e in svc.regenerate(ok.thread_id)]
        assert ok.status == MessageStatus.COMPLETE
        assert srv.requests[0].headers["authorization"] == "Bearer sk-test-123"
    async with store.session() as s:
        rows = await all_messages(s, ok.thread_id)
    assert [(m.role, m.status) for m in rows] == [
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.COMPLETE),
    ]
    assert await _thread_count(store) == 1


async def test_virtual_llm_without_dispatcher_is_refused(store: Store) -> None:
    llm = (await add_llm(store, "v", type="openai", kind=LlmKind.VIRTUAL)).id
    await add_agent(store, "a", llm)
    async with ChatService(store) as svc:
        with pytest.raises(
            Refused, match=r"^virtual LLM dispatcher not wired \(LLM v is virtual\)$"
        ):
            await svc.run_one_inference("a", "hi")
        # stream_inference (nothing stored) still says it as an event
        ctx = (await svc.prepare("a")).with_message(Message(role=MessageRole.USER, content="x"))
        events = [e async for e in svc.stream_inference(ctx)]
    assert events == [
        StreamError(ErrorKind.CONFIG, "virtual LLM dispatcher not wired (LLM v is virtual)")
    ]
    assert await _thread_count(store) == 0


async def test_offline_publisher_is_refused_with_the_dispatchers_words(store: Store) -> None:
    """The real dispatcher's rule, asked before anything is written: a publisher never
    heard from, then one that stopped beating, then one marked inactive."""
    llm = await add_llm(store, "v", type="openai", kind=LlmKind.VIRTUAL, last_heartbeat_at=None)
    await add_agent(store, "a", llm.id)
    async with ChatService.wired(store) as svc:
        assert isinstance(svc.virtual, VirtualLlmService)
        with pytest.raises(Refused) as refused:
            await svc.run_one_inference("a", "hi")
        assert str(refused.value).startswith("publisher offline: virtual LLM v (provider session")
        assert "never seen" in str(refused.value)
        assert refused.value.kind == ErrorKind.OFFLINE
        stale = utcnow() - timedelta(seconds=svc.virtual.options.heartbeat_timeout + 5)
        for values in ({"last_heartbeat_at": stale}, {"status": LlmStatus.INACTIVE}):
            async with store.transaction() as s:
                await s.execute(update(Llm).where(Llm.id == llm.id).values(**values))
            with pytest.raises(Refused, match=r"^publisher offline: virtual LLM v "):
                await svc.run_one_inference("a", "hi")
    assert await _thread_count(store) == 0
    async with store.session() as s:
        assert (await s.execute(select(InferenceTask))).first() is None


async def test_unknown_llm_type_is_refused_before_anything_is_written(store: Store) -> None:
    llm = (await add_llm(store, "weird", type="telepathy")).id
    await add_agent(store, "a", llm)
    async with ChatService(store) as svc:
        with pytest.raises(Refused) as refused:
            await svc.run_one_inference("a", "hi")
    assert str(refused.value).startswith("LLM weird: unknown LLM type 'telepathy'; known types: ")
    assert await _thread_count(store) == 0
