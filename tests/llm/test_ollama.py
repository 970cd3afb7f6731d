"""The native ollama adapter against a real local server speaking /api/chat NDJSON."""

from __future__ import annotations

import pytest

from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, ToolCallDelta, Usage
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.llm.transport import STREAM_CUT
from tests.support.llm_servers import (
    NDJSON_HEADERS,
    LlmServer,
    Reply,
    collect,
    error_reply,
    ollama_lines,
    ollama_reply,
    text_of,
    thinking_of,
    with_chunking,
)

CHUNKINGS = [None, 1, 2, 5, 33]
TEXT = ["Bonjour ", "à ", "toi ✓ 😀"]


async def run(reply: Reply, size: int | None = None, **kw: object) -> list[object]:
    async with LlmServer(with_chunking(reply, size)) as srv:
        return await collect("ollama", srv.url, **kw)  # type: ignore[arg-type]


def assert_ends_with(events: list[object], last: object) -> None:
    assert events[-1] == last
    assert [e for e in events if isinstance(e, Finish | StreamError)] == [last]


@pytest.mark.parametrize("size", CHUNKINGS)
async def test_text_and_done_counts(size: int | None) -> None:
    events = await run(ollama_reply(TEXT, prompt_eval_count=17, eval_count=5), size)
    assert text_of(events) == "".join(TEXT)
    assert events[-2] == Usage(17, 5)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", [None, 1])
async def test_crlf_lines_and_blank_lines(size: int | None) -> None:
    raw = b"\n".join(ollama_lines(TEXT)).replace(b"\n", b"\r\n")
    events = await run(Reply([raw], headers=dict(NDJSON_HEADERS)), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", [None, 1])
async def test_done_line_without_final_newline(size: int | None) -> None:
    raw = b"".join(ollama_lines(TEXT)).rstrip(b"\n")
    events = await run(Reply([raw], headers=dict(NDJSON_HEADERS)), size)
    assert_ends_with(events, Finish("stop"))


async def test_thinking_and_tool_calls() -> None:
    calls = [
        {"function": {"name": "wx", "arguments": {"city": "Zürich"}}},
        {"function": {"name": "clock", "arguments": {}}},
    ]
    reply = ollama_reply(["x"], thinking=["hm", "m"], tool_calls=calls)
    events = await run(reply, 3)
    assert thinking_of(events) == "hmm"
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == [
        ToolCallDelta(0, id="call_0", name="wx", arguments='{"city": "Z\\u00fcrich"}'),
        ToolCallDelta(1, id="call_1", name="clock", arguments="{}"),
    ]
    acc = ToolCallAccumulator()
    for d in deltas:
        acc.add(d)
    assert [c["id"] for c in acc.result()] == ["call_0", "call_1"]


@pytest.mark.parametrize("size", [None, 1])
async def test_error_line_mid_stream(size: int | None) -> None:
    lines = ollama_lines(TEXT)
    raw = [*lines[:2], b'{"error":"model runner has unexpectedly stopped"}\n', *lines[2:]]
    events = await run(Reply(raw, headers=dict(NDJSON_HEADERS)), size)
    assert text_of(events) == "".join(TEXT[:2])
    assert_ends_with(
        events, StreamError(ErrorKind.PROVIDER, "model runner has unexpectedly stopped")
    )


@pytest.mark.parametrize("size", [None, 1])
async def test_stream_without_done_is_a_cut(size: int | None) -> None:
    events = await run(ollama_reply(TEXT, done=False), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, StreamError(ErrorKind.NETWORK, STREAM_CUT))


async def test_connection_reset_mid_reply() -> None:
    events = await run(Reply(ollama_lines(TEXT), cut_after=2, headers=dict(NDJSON_HEADERS)))
    assert text_of(events) == "".join(TEXT[:2])
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.NETWORK


async def test_malformed_line_is_a_protocol_error() -> None:
    raw = [ollama_lines(["a"])[0], b"{half a line\n"]
    events = await run(Reply(raw, headers=dict(NDJSON_HEADERS)))
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize(
    ("status", "kind"), [(404, ErrorKind.NOT_FOUND), (500, ErrorKind.SERVER), (401, ErrorKind.AUTH)]
)
@pytest.mark.parametrize("style", ["ollama", "text"])
async def test_http_errors(status: int, kind: ErrorKind, style: str) -> None:
    msg = 'model "llama9" not found, try pulling it first'
    events = await run(error_reply(status, msg, style=style))  # type: ignore[arg-type]
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and (err.kind, err.status) == (kind, status)
    assert msg in err.message


@pytest.mark.parametrize("base", ["", "/", "/api", "/api/"])
async def test_request_shape(base: str) -> None:
    history = [
        Message("user", "wx?"),
        Message(
            "assistant",
            "",
            tool_calls=[
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "wx", "arguments": '{"c": 1}'},
                }
            ],
        ),
        Message("tool", "cold", tool_call_id="c1"),
    ]
    params = {
        "temperature": 0.1,
        "max_tokens": 64,
        "seed": 9,
        "stop": ["x"],
        "num_ctx": 8192,
        "keep_alive": "5m",
        "think": True,
        "top_k": None,
    }
    req = InferenceRequest("SYS", history, params=params)
    async with LlmServer(ollama_reply(["ok"])) as srv:
        await collect("ollama", srv.url + base, req, model="llama3")
        sent = srv.requests[0]
    assert sent.path == "/api/chat"
    body = sent.json
    assert body["model"] == "llama3" and body["stream"] is True
    assert body["keep_alive"] == "5m" and body["think"] is True
    assert body["options"] == {
        "temperature": 0.1,
        "num_predict": 64,
        "seed": 9,
        "stop": ["x"],
        "num_ctx": 8192,
    }
    assert body["messages"] == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "wx?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "wx", "arguments": {"c": 1}}}],
        },
        {"role": "tool", "content": "cold", "tool_name": "wx"},
    ]
    assert "authorization" not in sent.headers


async def test_html_page_with_200_is_not_ndjson() -> None:
    events = await run(Reply([b"<html>hi</html>\n"], headers={"content-type": "text/html"}))
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.PROTOCOL
    assert "not NDJSON" in err.message


async def test_key_goes_as_bearer_when_given() -> None:
    async with LlmServer(ollama_reply(["ok"])) as srv:
        events = await collect("ollama", srv.url, api_key="proxy-key-123456")
        assert srv.requests[0].headers["authorization"] == "Bearer proxy-key-123456"
    assert "proxy-key-123456" not in repr(events)
