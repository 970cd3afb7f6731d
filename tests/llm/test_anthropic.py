"""The anthropic adapter against a real local server speaking the Messages event stream."""

from __future__ import annotations

import json

import pytest

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, ToolCallDelta, Usage
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.llm.transport import STREAM_CUT
from tests.support.llm_servers import (
    LlmServer,
    Reply,
    ToolUseSpec,
    anthropic_events,
    collect,
    error_reply,
    sse,
    text_of,
    thinking_of,
    with_chunking,
)

CHUNKINGS = [None, 1, 3, 16]
TEXT = ["Grüß ", "dich — ", "✓ 😀"]
KEY = "sk-ant-SECRET-abcdef123456"


async def run(reply: Reply, size: int | None = None, **kw: object) -> list[object]:
    async with LlmServer(with_chunking(reply, size)) as srv:
        return await collect("anthropic", srv.url, **kw)  # type: ignore[arg-type]


def assert_ends_with(events: list[object], last: object) -> None:
    assert events[-1] == last
    assert [e for e in events if isinstance(e, Finish | StreamError)] == [last]


@pytest.mark.parametrize("size", CHUNKINGS)
async def test_text_with_usage(size: int | None) -> None:
    events = await run(Reply(anthropic_events(TEXT, input_tokens=21, output_tokens=8)), size)
    assert text_of(events) == "".join(TEXT)
    assert [e for e in events if isinstance(e, Usage)] == [Usage(21, 8)]
    assert_ends_with(events, Finish("end_turn"))


@pytest.mark.parametrize("size", [None, 1])
async def test_thinking_then_text(size: int | None) -> None:
    events = await run(Reply(anthropic_events(["ans"], thinking=["hmm, ", "ok"])), size)
    assert thinking_of(events) == "hmm, ok"
    assert text_of(events) == "ans"


@pytest.mark.parametrize("size", [None, 1, 7])
async def test_tool_use_blocks_become_tool_call_deltas(size: int | None) -> None:
    uses = [
        ToolUseSpec("toolu_1", "get_weather", '{"city": "Zürich"}', pieces=3),
        ToolUseSpec("toolu_2", "get_time", '{"tz": "UTC"}', pieces=2),
    ]
    reply = Reply(anthropic_events(["Let me check."], tool_uses=uses, stop_reason="tool_use"))
    events = await run(reply, size)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0] == ToolCallDelta(0, id="toolu_1", name="get_weather", arguments="")
    acc = ToolCallAccumulator()
    for d in deltas:
        acc.add(d)
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in acc.result()] == [
        ("toolu_1", "get_weather", '{"city": "Zürich"}'),
        ("toolu_2", "get_time", '{"tz": "UTC"}'),
    ]
    assert text_of(events) == "Let me check."
    assert_ends_with(events, Finish("tool_use"))


@pytest.mark.parametrize("size", [None, 1])
async def test_crlf_and_unknown_events_are_handled(size: int | None) -> None:
    ev = anthropic_events(TEXT)
    unknown = sse({"type": "brand_new_event", "x": 1}, event="brand_new_event")
    raw = b"".join([ev[0], unknown, b": comment\n", *ev[1:]]).replace(b"\n", b"\r\n")
    events = await run(Reply([raw]), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("end_turn"))


async def test_error_event_mid_stream() -> None:
    ev = anthropic_events(TEXT)
    err = sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        event="error",
    )
    # message_start, content_block_start, first text delta, then the error
    events = await run(Reply([*ev[:4], err]))
    assert text_of(events) == TEXT[0]
    assert_ends_with(events, StreamError(ErrorKind.PROVIDER, "Overloaded (overloaded_error)"))


async def test_missing_message_stop_after_stop_reason_finishes() -> None:
    events = await run(Reply(anthropic_events(TEXT, stop=False)))
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("end_turn"))


@pytest.mark.parametrize("size", [None, 1])
async def test_stream_ending_mid_reply_is_a_cut(size: int | None) -> None:
    ev = anthropic_events(TEXT)
    events = await run(Reply(ev[:5]), size)  # through the second text delta
    assert text_of(events) == "".join(TEXT[:2])
    assert_ends_with(events, StreamError(ErrorKind.NETWORK, STREAM_CUT))


async def test_connection_reset_mid_reply() -> None:
    events = await run(Reply(anthropic_events(TEXT), cut_after=4))
    assert text_of(events) == TEXT[0]
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.NETWORK


async def test_malformed_json_is_a_protocol_error() -> None:
    ev = anthropic_events(TEXT)
    events = await run(Reply([*ev[:3], b"event: content_block_delta\ndata: {oops\n\n"]))
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ErrorKind.AUTH),
        (404, ErrorKind.NOT_FOUND),
        (429, ErrorKind.RATE_LIMIT),
        (500, ErrorKind.SERVER),
        (529, ErrorKind.SERVER),
    ],
)
@pytest.mark.parametrize("style", ["anthropic", "text"])
async def test_http_errors(status: int, kind: ErrorKind, style: str) -> None:
    events = await run(error_reply(status, "nope: details", style=style))  # type: ignore[arg-type]
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and (err.kind, err.status) == (kind, status)
    assert "nope: details" in err.message


async def test_request_shape_headers_and_history_conversion() -> None:
    history = [
        Message("user", "weather in Oslo and Rome?"),
        Message(
            "assistant",
            "Checking.",
            tool_calls=[
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "wx", "arguments": '{"c": "Oslo"}'},
                },
                {
                    "id": "t2",
                    "type": "function",
                    "function": {"name": "wx", "arguments": '{"c": "Rome"}'},
                },
            ],
        ),
        Message("tool", "3C", tool_call_id="t1"),
        Message("tool", "20C", tool_call_id="t2"),
        Message("assistant", ""),  # an errored empty turn: skipped, the API refuses it
        Message("user", "thanks"),
    ]
    tools = [
        {
            "type": "function",
            "function": {"name": "wx", "description": "weather", "parameters": {"type": "object"}},
        }
    ]
    params = {
        "temperature": 0.5,
        "top_k": 5,
        "top_p": 0.8,
        "seed": 3,
        "stop": "END",
        "metadata": {"user_id": "u"},
    }
    req = InferenceRequest("You are SYS.", history, params=params, tools=tools)
    async with LlmServer(Reply(anthropic_events(["ok"]))) as srv:
        events = await collect("anthropic", srv.url + "/", req, api_key=KEY, model="claude-x")
        sent = srv.requests[0]
    assert text_of(events) == "ok"
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    body = sent.json
    assert KEY not in json.dumps(body)
    assert body["model"] == "claude-x"
    assert body["system"] == "You are SYS."
    assert body["max_tokens"] == 4096
    assert body["stream"] is True
    assert body["temperature"] == 0.5 and body["top_k"] == 5 and body["top_p"] == 0.8
    assert body["stop_sequences"] == ["END"]
    assert "seed" not in body and "stop" not in body
    assert body["metadata"] == {"user_id": "u"}
    assert body["tools"] == [
        {"name": "wx", "description": "weather", "input_schema": {"type": "object"}}
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Oslo and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t1", "name": "wx", "input": {"c": "Oslo"}},
                {"type": "tool_use", "id": "t2", "name": "wx", "input": {"c": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "3C"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "20C"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert not any(m.get("role") == "system" for m in body["messages"])


async def test_max_tokens_param_and_v1_base() -> None:
    req = InferenceRequest("", [Message("user", "u")], params={"max_tokens": 77})
    async with LlmServer(Reply(anthropic_events(["ok"]))) as srv:
        await collect("anthropic", srv.url + "/v1", req)
        sent = srv.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.json["max_tokens"] == 77
    assert "system" not in sent.json
    assert "x-api-key" not in sent.headers


async def test_html_page_with_200_is_not_an_event_stream() -> None:
    events = await run(Reply([b"<html>hi</html>\n"], headers={"content-type": "text/html"}))
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.PROTOCOL
    assert "not an event stream" in err.message


async def test_key_echoed_in_an_error_is_redacted() -> None:
    async with LlmServer(error_reply(401, f"invalid x-api-key {KEY}", style="anthropic")) as srv:
        events = await collect("anthropic", srv.url, api_key=KEY)
    assert KEY not in repr(events)
    assert isinstance(events[0], StreamError) and events[0].kind is ErrorKind.AUTH
