"""A field of the wrong type from an upstream ends the stream with one line naming the
field and what came (``message.content: expected text, got 12345``), for every wire
format, over a real server; through the chat engine the turn ends as an error (never
left pending) and the text that came before is kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import ErrorKind, StreamError
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.types import MessageStatus
from tests.support.llm_servers import LlmServer, Reply, collect, sse, text_of
from tests.support.seed import add_agent, add_llm

SSE = {"content-type": "text/event-stream"}
NDJSON = {"content-type": "application/x-ndjson"}


def _openai(*deltas: Any, usage: Any = None) -> Reply:
    chunks = [sse({"choices": [{"index": 0, "delta": d}]}) for d in deltas]
    if usage is not None:
        chunks.append(sse({"choices": [], "usage": usage}))
    return Reply([*chunks, sse("[DONE]")], headers=SSE)


def _anthropic(*events: dict[str, Any]) -> Reply:
    return Reply([sse(e, event=str(e.get("type"))) for e in events], headers=SSE)


def _ollama(*objs: dict[str, Any]) -> Reply:
    return Reply([(json.dumps(o) + "\n").encode() for o in objs], headers=NDJSON)


START = {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}
TEXT_BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}


def _text(piece: Any) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": piece},
    }


CASES = [
    ("openai", _openai({"content": "ok "}, {"content": 42}), "choices[0].delta.content", "42"),
    (
        "openai",
        _openai({"content": "ok "}, {"tool_calls": [{"index": 0, "function": {"name": {}}}]}),
        "choices[0].delta.tool_calls[0].function.name",
        "{}",
    ),
    (
        "openai",
        _openai({"content": "ok "}, usage={"prompt_tokens": "3"}),
        "usage.prompt_tokens",
        "'3'",
    ),
    ("anthropic", _anthropic(START, TEXT_BLOCK, _text("ok "), _text(42)), "delta.text", "42"),
    (
        "anthropic",
        _anthropic(
            START,
            TEXT_BLOCK,
            _text("ok "),
            {"type": "message_delta", "delta": {}, "usage": {"output_tokens": "7"}},
        ),
        "usage.output_tokens",
        "'7'",
    ),
    (
        "ollama",
        _ollama({"message": {"content": "ok "}}, {"message": {"content": 12345}}),
        "message.content",
        "12345",
    ),
    (
        "ollama",
        _ollama(
            {"message": {"content": "ok "}},
            {"message": {"tool_calls": [{"function": {"name": ["x"]}}]}},
        ),
        "message.tool_calls[0].function.name",
        "['x']",
    ),
]


@pytest.mark.parametrize(("kind", "reply", "field", "got"), CASES)
async def test_a_wrong_type_ends_the_stream_naming_the_field(
    kind: str, reply: Reply, field: str, got: str
) -> None:
    async with LlmServer(reply) as srv:
        events = await collect(kind, srv.url)
    end = events[-1]
    assert isinstance(end, StreamError) and end.kind == ErrorKind.PROTOCOL
    expected = "a count" if field.endswith("_tokens") else "text"
    assert (
        end.message == f"unexpected reply from the server: {field}: expected {expected}, got {got}"
    )
    assert text_of(events) == "ok "


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_turn_ends_as_an_error_with_what_came(store: Store) -> None:
    """The probe's turn stayed pending forever (a TypeError in the engine)."""
    async with LlmServer(
        _ollama({"message": {"content": "ok "}}, {"message": {"content": 1}})
    ) as srv:
        llm = await add_llm(store, "o", type="ollama", url=srv.url, model="m")
        await add_agent(store, "a", llm.id)
        async with ChatService(store) as svc:
            events = [e async for e in svc.send("a", "hi")]
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.status == MessageStatus.ERROR
    assert ended.error is not None and "message.content: expected text, got 1" in ended.error
    async with store.session() as s:
        rows = await all_messages(s, ended.thread_id)
    assert (rows[1].status, rows[1].content) == (MessageStatus.ERROR, "ok ")
