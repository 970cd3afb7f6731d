"""ChatService against the echo LLM and real local OpenAI-format servers, on both backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mcpctl_tui.chat.context import ChatOverrides
from mcpctl_tui.chat.errors import UnknownPersonality
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.echo import ECHO_SEPARATOR
from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    Usage,
    Waiting,
    WaitStage,
)
from mcpctl_tui.llm.request import InferenceRequest
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages, every_turn
from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread
from mcpctl_tui.store.threads import list_threads
from mcpctl_tui.store.types import LlmKind, MessageStatus
from mcpctl_tui.virtual.task_rows import LlmLiveness
from tests.support.llm_servers import (
    LlmServer,
    Reply,
    ToolCallSpec,
    openai_chunk,
    openai_events,
    openai_reply,
    sse,
)
from tests.support.seed import add_agent, add_llm, add_personality, add_prompt


async def _collect(events: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [e async for e in events]


async def _messages(store: Store, thread_id: int) -> list[ChatMessage]:
    async with store.session() as s:
        return await all_messages(s, thread_id)


async def _openai_agent(store: Store, url: str, **kw: Any) -> int:
    llm = (await add_llm(store, "oa", type="openai", url=url, model="gpt-test", **kw)).id
    return (await add_agent(store, "a", llm, system_prompt="SYS")).id


async def test_echo_turn_is_stored_with_usage_timing_and_title(store: Store) -> None:
    llm = (await add_llm(store, model="echo-1")).id
    a = (await add_agent(store, "a", llm, system_prompt="You are terse.")).id
    p = (await add_personality(store, a, "pirate")).id
    prompt = (await add_prompt(store, "arr", "Say arr.", agent_id=a)).id
    from tests.support.seed import bind_prompt

    await bind_prompt(store, p, prompt)
    async with ChatService(store) as svc:
        events = await _collect(svc.send("a", "hello there\nsecond line", personality="pirate"))
    started = events[0]
    assert isinstance(started, TurnStarted)
    assert started.new_thread and started.thread_title == "hello there"
    assert (started.personality, started.model, started.llm_kind) == ("pirate", "echo-1", "public")
    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    expected = "You are terse.\n\nSay arr." + ECHO_SEPARATOR + "hello there\nsecond line"
    deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert deltas == expected == ended.text
    assert ended.status == MessageStatus.COMPLETE and ended.finish_reason == "stop"

    rows = await _messages(store, started.thread_id)
    assert [(m.role, m.status, m.id) for m in rows] == [
        ("user", MessageStatus.COMPLETE, started.user_message_id),
        ("assistant", MessageStatus.COMPLETE, started.assistant_message_id),
    ]
    user, asst = rows
    assert user.content == "hello there\nsecond line"
    assert asst.content == expected
    assert (asst.personality, asst.model) == ("pirate", "echo-1")
    assert asst.usage == {"input_tokens": ended.input_tokens, "output_tokens": ended.output_tokens}
    assert asst.usage["output_tokens"] == len(expected.split())
    assert asst.timing is not None
    assert 0 < asst.timing["ttft_ms"] <= asst.timing["duration_ms"]
    async with store.session() as s:
        thread = await s.get(ChatThread, started.thread_id)
        assert thread is not None
        assert thread.title == "hello there"
        assert thread.last_turn_at >= asst.created_at


async def test_thread_resume_sends_exact_history(store: Store) -> None:
    tricky = ["  héllo", "\n\t😀", " wörld  "]
    async with LlmServer([openai_reply(tricky), openai_reply(["second"])]) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            first = await svc.run_one_inference(
                "a", "q1 ✓", overrides=ChatOverrides(params={"temperature": 0.5})
            )
            assert first.text == "".join(tricky)
            second = await svc.run_one_inference("a", "q2", thread_id=first.thread_id)
        assert second.thread_id == first.thread_id
        body = srv.requests[1].json
        assert body["messages"] == [
            {"role": "system", "content": "SYS"},
            {"role": "user", "content": "q1 ✓"},
            {"role": "assistant", "content": "  héllo\n\t😀 wörld  "},
            {"role": "user", "content": "q2"},
        ]
        assert body["model"] == "gpt-test" and body["stream"] is True
        assert "temperature" in srv.requests[0].json and "temperature" not in body
    rows = await _messages(store, first.thread_id)
    assert [m.content for m in rows] == ["q1 ✓", "  héllo\n\t😀 wörld  ", "q2", "second"]
    # What was sent is what the store holds, byte for byte (UTF-8 of every turn).
    sent = [m["content"].encode() for m in body["messages"][1:]]
    assert sent == [m.content.encode() for m in rows[:3]]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            Reply(
                [b'{"error": {"message": "Incorrect API key provided"}}'],
                status=401,
                headers={"content-type": "application/json"},
                framing="length",
            ),
            ErrorKind.AUTH,
        ),
        (
            Reply(
                [b"upstream exploded"],
                status=500,
                headers={"content-type": "text/plain"},
                framing="length",
            ),
            ErrorKind.SERVER,
        ),
    ],
)
async def test_http_errors_are_stored_as_error_turns(
    store: Store, reply: Reply, kind: ErrorKind
) -> None:
    async with LlmServer(reply) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            ended = await svc.run_one_inference("a", "hi")
    assert ended.status == MessageStatus.ERROR and ended.error_kind == kind
    assert ended.error
    rows = await _messages(store, ended.thread_id)
    assert [(m.role, m.status) for m in rows] == [
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.ERROR),
    ]
    assert rows[1].error == ended.error and rows[1].content == ""


async def test_stream_cut_keeps_partial_text(store: Store) -> None:
    events = openai_events(["par", "tial"], usage=None)
    # the role chunk + two content chunks, then the connection drops
    async with LlmServer(Reply(events, cut_after=3)) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            ended = await svc.run_one_inference("a", "hi")
    assert ended.status == MessageStatus.ERROR and ended.error_kind == ErrorKind.NETWORK
    rows = await _messages(store, ended.thread_id)
    assert rows[1].status == MessageStatus.ERROR
    assert rows[1].content == "partial" and rows[1].error == ended.error


async def test_cancel_mid_stream_stores_partial_and_closes_http(store: Store) -> None:
    chunks = [f"w{i} " for i in range(50)]
    async with LlmServer(Reply(openai_events(chunks), delay=0.05)) as srv:
        await _openai_agent(store, srv.url)
        got: list[str] = []
        started: list[TurnStarted] = []
        three = asyncio.Event()
        async with ChatService(store) as svc:

            async def consume() -> None:
                async for e in svc.send("a", "go"):
                    if isinstance(e, TurnStarted):
                        started.append(e)
                    elif isinstance(e, TextDelta):
                        got.append(e.text)
                        if len(got) == 3:
                            three.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(three.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the provider sees the hang-up promptly (the response was closed)
            await asyncio.wait_for(srv.requests[0].disconnected.wait(), 2)
            assert not srv.requests[0].completed
    rows = await _messages(store, started[0].thread_id)
    asst = rows[1]
    assert asst.id == started[0].assistant_message_id
    assert asst.status == MessageStatus.CANCELLED
    assert asst.content == "".join(got) and asst.content.startswith("w0 w1 w2 ")
    assert asst.error is None and asst.timing is not None


async def test_closing_the_generator_stores_cancelled(store: Store) -> None:
    async with LlmServer(Reply(openai_events([f"c{i}" for i in range(40)]), delay=0.05)) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            gen = svc.send("a", "go")
            started = await anext(gen)
            assert isinstance(started, TurnStarted)
            # Before the first token: what the reply waits for, by host, never the path.
            waiting = await anext(gen)
            assert waiting == Waiting(WaitStage.FIRST_BYTE, srv.url.split("/")[2])
            first = await anext(gen)
            assert isinstance(first, TextDelta)
            await gen.aclose()
            await asyncio.wait_for(srv.requests[0].disconnected.wait(), 2)
    rows = await _messages(store, started.thread_id)
    assert rows[1].status == MessageStatus.CANCELLED and rows[1].content == first.text


async def test_tool_calls_thinking_and_usage_are_stored(store: Store) -> None:
    events = openai_events(
        ["Let me check."],
        reasoning=["thinking ", "hard"],
        tool_calls=[
            ToolCallSpec("call_a", "get_weather", '{"city": "Paris"}'),
            ToolCallSpec("call_b", "get_time", '{"tz": "CET"}'),
        ],
        usage=(120, 33),
        finish_reason="tool_calls",
    )
    async with LlmServer(Reply(events)) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            seen = await _collect(svc.send("a", "weather?"))
    ended = seen[-1]
    assert isinstance(ended, TurnEnded)
    assert any(isinstance(e, ThinkingDelta) for e in seen)
    assert ended.finish_reason == "tool_calls"
    rows = await _messages(store, ended.thread_id)
    asst = rows[1]
    assert asst.tool_calls == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
        },
    ]
    assert asst.thinking == "thinking hard"
    assert asst.usage == {"input_tokens": 120, "output_tokens": 33}
    assert asst.content == "Let me check."


class _RecordingDispatcher:
    """A VirtualDispatcher that answers from memory (the real one is the virtual package's)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, InferenceRequest]] = []

    async def enqueue_infer_task(
        self, llm_id: int, request: InferenceRequest
    ) -> AsyncIterator[StreamEvent]:
        self.calls.append((llm_id, request))
        yield TextDelta("from ")
        yield TextDelta("provider")
        yield Usage(3, 2)
        yield Finish("stop")

    def refusal(self, row: LlmLiveness) -> StreamError | None:
        return None  # always live


async def test_virtual_llm_goes_through_dispatcher(store: Store) -> None:
    llm = (await add_llm(store, "v", type="openai", kind=LlmKind.VIRTUAL)).id
    await add_agent(store, "a", llm, system_prompt="S")
    disp = _RecordingDispatcher()
    async with ChatService(store, virtual=disp) as svc:
        ended = await svc.run_one_inference("a", "hi")
    assert ended.text == "from provider" and ended.status == MessageStatus.COMPLETE
    assert disp.calls[0][0] == llm
    assert disp.calls[0][1].system == "S"
    assert [m.content for m in disp.calls[0][1].messages] == ["hi"]


async def test_provider_error_event_after_text(store: Store) -> None:
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm, default_params={"echo_fail": "model overloaded"})
    async with ChatService(store) as svc:
        ended = await svc.run_one_inference("a", "hi")
    assert ended.status == MessageStatus.ERROR and ended.error == "model overloaded"
    rows = await _messages(store, ended.thread_id)
    assert rows[1].content.endswith("hi") and rows[1].error == "model overloaded"


async def test_unknown_personality_writes_nothing(store: Store) -> None:
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm)
    async with ChatService(store) as svc:
        with pytest.raises(UnknownPersonality):
            await svc.run_one_inference("a", "hi", personality="nope")
    async with store.session() as s:
        assert await list_threads(s, 1) == []


async def test_regenerate_answers_the_last_question_again_on_a_branch(store: Store) -> None:
    async with LlmServer(
        [openai_reply(["one"]), openai_reply(["two"]), openai_reply(["three"])]
    ) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            first = await svc.run_one_inference("a", "q1")
            await svc.run_one_inference("a", "q2", thread_id=first.thread_id)
            events = await _collect(svc.regenerate(first.thread_id))
        started = events[0]
        assert isinstance(started, TurnStarted) and started.user_message_id is None
        assert len(started.replaced_message_ids) == 1
        assert srv.requests[2].json["messages"][1:] == [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "q2"},
        ]
    rows = await _messages(store, first.thread_id)
    assert [(m.role, m.content) for m in rows] == [
        ("user", "q1"),
        ("assistant", "one"),
        ("user", "q2"),
        ("assistant", "three"),
    ]
    async with store.session() as s:  # the reply answered again is kept, off the path
        (old,) = [t for t in await every_turn(s, first.thread_id) if not t.on_path]
    assert (old.content, old.id) == ("two", started.replaced_message_ids[0])


async def test_save_overrides_into_agent_default_params(store: Store) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm, default_params={"temperature": 0.1, "top_p": 0.5})).id
    async with ChatService(store) as svc:
        saved = await svc.save_overrides(
            "a", ChatOverrides(system="ignored", params={"temperature": 0.9, "seed": 7})
        )
        assert saved == {"temperature": 0.9, "top_p": 0.5, "seed": 7}
        ctx = await svc.prepare("a")
    assert ctx.params["temperature"] == 0.9 and ctx.params["seed"] == 7
    async with store.session() as s:
        agent = await s.get(Agent, a)
        assert agent is not None and agent.default_params == saved


async def test_long_reply_of_tiny_deltas_is_exact(store: Store) -> None:
    """Thousands of one-character deltas (text is joined in blocks) come back exactly."""
    system = "".join(chr(0x41 + i % 26) + ("é" if i % 7 == 0 else "") for i in range(3000))
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm, system_prompt=system, default_params={"echo_chunk_chars": 1})
    async with ChatService(store) as svc:
        ended = await svc.run_one_inference("a", "q")
    assert ended.chunks == len(system + ECHO_SEPARATOR + "q")
    assert ended.text == system + ECHO_SEPARATOR + "q"
    rows = await _messages(store, ended.thread_id)
    assert rows[1].content == ended.text


async def test_resume_sends_tool_turns_and_tool_calls(store: Store) -> None:
    from tests.support.seed import add_thread

    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    async with LlmServer(openai_reply(["done"])) as srv:
        a = await _openai_agent(store, srv.url)
        t = (
            await add_thread(
                store,
                a,
                [
                    {"role": "user", "content": "use f"},
                    {"role": "assistant", "content": "", "tool_calls": [call]},
                    {"role": "tool", "content": '{"y": 2}', "tool_call_id": "call_1"},
                ],
            )
        ).id
        async with ChatService(store) as svc:
            ended = await svc.run_one_inference("a", "and now?", thread_id=t)
        assert ended.status == MessageStatus.COMPLETE
        assert srv.requests[0].json["messages"] == [
            {"role": "system", "content": "SYS"},
            {"role": "user", "content": "use f"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": '{"y": 2}', "tool_call_id": "call_1"},
            {"role": "user", "content": "and now?"},
        ]
    rows = await _messages(store, t)
    assert [m.turn_index for m in rows] == [0, 1, 2, 3, 4]


async def test_closing_right_after_turn_started_leaves_nothing_pending(store: Store) -> None:
    llm = (await add_llm(store)).id
    await add_agent(store, "a", llm)
    async with ChatService(store) as svc:
        gen = svc.send("a", "hi")
        started = await anext(gen)
        assert isinstance(started, TurnStarted)
        await gen.aclose()
    rows = await _messages(store, started.thread_id)
    assert [(m.role, m.status, m.content) for m in rows] == [
        ("user", MessageStatus.COMPLETE, "hi"),
        ("assistant", MessageStatus.CANCELLED, ""),
    ]


async def test_nul_and_lone_surrogates_from_a_provider_are_stored(store: Store) -> None:
    # JSON escapes (ensure_ascii), as a provider's JSON carries them: the text decodes to a
    # str holding U+0000 and a lone U+D800, which neither backend can store as is.
    pieces = ["ok \x00 ", "half \ud800 pair \U0001f600", " end"]
    chunks = [
        b"data: " + json.dumps(openai_chunk({"content": p})).encode() + b"\n\n" for p in pieces
    ]
    chunks.append(sse(openai_chunk({}, finish_reason="stop")) + b"data: [DONE]\n\n")
    async with LlmServer(Reply(chunks)) as srv:
        await _openai_agent(store, srv.url)
        async with ChatService(store) as svc:
            ended = await svc.run_one_inference("a", "user \x00 text")
    assert ended.status == MessageStatus.COMPLETE
    rows = await _messages(store, ended.thread_id)
    assert rows[0].content == "user \ufffd text"
    assert rows[1].content == "ok \ufffd half \ufffd pair \U0001f600 end"
