"""The openai adapter against a real local server speaking OpenAI's SSE byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import httpx
import pytest

from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.openai import chat_completions_url, openai_body
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.llm.transport import STREAM_CUT
from tests.support.llm_servers import (
    LlmServer,
    Reply,
    ToolCallSpec,
    collect,
    error_reply,
    openai_chunk,
    openai_events,
    rechunk,
    sse,
    text_of,
    thinking_of,
    with_chunking,
)

CHUNKINGS = [None, 1, 2, 3, 7, 64]
TEXT = ["Hé", "llo, wö", "rld ✓ ", "😀 done"]
KEY = "sk-test-SECRET-1234567890"


async def run(reply: Reply, size: int | None = None, **kw: object) -> list[object]:
    async with LlmServer(with_chunking(reply, size)) as srv:
        return await collect("openai", srv.url, **kw)  # type: ignore[arg-type]


def assert_ends_with(events: list[object], last: object) -> None:
    assert events[-1] == last
    ends = [e for e in events if isinstance(e, Finish | StreamError)]
    assert ends == [last], "exactly one Finish or StreamError, at the end"


# ----------------------------------------------------------------- recorded shapes


@pytest.mark.parametrize("size", CHUNKINGS)
async def test_plain_text_with_usage_chunk(size: int | None) -> None:
    events = await run(Reply(openai_events(TEXT, usage=(11, 7))), size)
    assert text_of(events) == "".join(TEXT)
    assert Usage(11, 7) in events
    assert_ends_with(events, Finish("stop"))
    # the usage chunk (choices: []) comes after finish_reason; Finish still ends the stream
    assert events.index(Usage(11, 7)) == len(events) - 2


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("size", [None, 1, 5])
async def test_reasoning_deltas(field: str, size: int | None) -> None:
    reply = Reply(openai_events(["42"], reasoning=["Let me ", "thínk…"], reasoning_field=field))
    events = await run(reply, size)
    assert thinking_of(events) == "Let me thínk…"
    assert text_of(events) == "42"
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, TextDelta) for e in events[:first_text])


@pytest.mark.parametrize("size", [None, 1, 9])
async def test_parallel_tool_calls_merge_by_index(size: int | None) -> None:
    calls = [
        ToolCallSpec("call_a", "get_weather", '{"city": "Zürich", "unit": "c"}', pieces=4),
        ToolCallSpec("call_b", "get_time", '{"tz": "Europe/Paris"}', pieces=3),
    ]
    reply = Reply(openai_events([], tool_calls=calls, finish_reason="tool_calls"))
    events = await run(reply, size)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {d.index for d in deltas} == {0, 1}
    assert deltas[0] == ToolCallDelta(0, id="call_a", name="get_weather", arguments="")
    acc = ToolCallAccumulator()
    for d in deltas:
        acc.add(d)
    assert acc.result() == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": calls[0].arguments},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": calls[1].arguments},
        },
    ]
    assert_ends_with(events, Finish("tool_calls"))


async def test_usage_on_every_chunk_last_one_wins() -> None:
    u1 = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    u2 = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    chunks = [
        sse(openai_chunk({"content": "a"}, usage=u1)),
        sse(openai_chunk({"content": "b"}, finish_reason="length", usage=u2)),
        b"data: [DONE]\n\n",
    ]
    events = await run(Reply(chunks))
    assert [e for e in events if isinstance(e, Usage)] == [Usage(3, 1), Usage(3, 2)]
    assert_ends_with(events, Finish("length"))


async def test_null_usage_empty_content_and_empty_data_are_ignored() -> None:
    chunks = [
        b"data: \n\n",
        b"data:\r\n\r\n",
        sse({**openai_chunk({"content": None}), "usage": None}),
        sse(openai_chunk({"content": "x"})),
        b"data: [DONE]\n\n",
    ]
    events = await run(Reply(chunks))
    assert events == [TextDelta("x"), Finish(None)]


# ----------------------------------------------------------------- SSE edge cases


def stream_bytes(**kw: object) -> bytes:
    return b"".join(openai_events(TEXT, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", CHUNKINGS)
@pytest.mark.parametrize("eol", [b"\r\n", b"\r"])
async def test_crlf_and_cr_line_ends(size: int | None, eol: bytes) -> None:
    events = await run(Reply([stream_bytes().replace(b"\n", eol)]), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", CHUNKINGS)
async def test_comments_ids_retry_unknown_fields_and_no_space(size: int | None) -> None:
    ev = openai_events(TEXT)
    raw = (
        b": OPENROUTER PROCESSING\n\n"
        + ev[0]
        + b"retry: 3000\n\n"
        + b"id: 1\n\n"
        + ev[1].replace(b"data: ", b"data:")
        + b":ping\n"
        + b"x-unknown: 1\n"
        + ev[2]
        + b"event: message\n"
        + b"".join(ev[3:])
    )
    events = await run(Reply([raw]), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", CHUNKINGS)
async def test_multiline_data_json(size: int | None) -> None:
    body = json.dumps(openai_chunk({"content": "multi"}), indent=1)
    raw = sse(body) + b"data: [DONE]\n\n"
    assert raw.count(b"data:") > 3
    events = await run(Reply([raw]), size)
    assert events == [TextDelta("multi"), Finish(None)]


@pytest.mark.parametrize("size", CHUNKINGS)
@pytest.mark.parametrize("tail", [b"data: [DONE]", b"data: [DONE]\n"])
async def test_final_event_without_blank_line(size: int | None, tail: bytes) -> None:
    raw = stream_bytes(done=False) + tail
    events = await run(Reply([raw]), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", [None, 1, 4])
async def test_no_done_after_finish_reason_still_finishes(size: int | None) -> None:
    events = await run(Reply(openai_events(TEXT, done=False)), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, Finish("stop"))


@pytest.mark.parametrize("size", [None, 1, 4])
async def test_no_done_and_no_finish_is_a_cut(size: int | None) -> None:
    events = await run(Reply(openai_events(TEXT, done=False, finish_reason=None, usage=None)), size)
    assert text_of(events) == "".join(TEXT)
    assert_ends_with(events, StreamError(ErrorKind.NETWORK, STREAM_CUT))


@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_connection_cut_mid_reply_keeps_the_text(framing: str) -> None:
    ev = openai_events(TEXT)
    # 1 role chunk + 2 text chunks arrive, then the connection drops
    reply = Reply(ev, cut_after=3, framing=framing)  # type: ignore[arg-type]
    events = await run(reply)
    assert text_of(events) == "".join(TEXT[:2])
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.NETWORK
    assert last.message.startswith(STREAM_CUT)


@pytest.mark.parametrize("size", [None, 1])
async def test_error_object_mid_stream(size: int | None) -> None:
    ev = openai_events(TEXT)
    err = sse({"error": {"message": "The server is overloaded", "type": "server_error"}})
    events = await run(Reply([*ev[:3], err, *ev[3:]]), size)
    assert text_of(events) == "".join(TEXT[:2])
    assert_ends_with(
        events, StreamError(ErrorKind.PROVIDER, "The server is overloaded (server_error)")
    )


async def test_event_error_type_mid_stream() -> None:
    raw = [sse(openai_chunk({"content": "a"})), b'event: error\ndata: {"message": "boom"}\n\n']
    events = await run(Reply(raw))
    assert events == [TextDelta("a"), StreamError(ErrorKind.PROVIDER, "boom")]


@pytest.mark.parametrize("size", [None, 1, 3])
async def test_cut_inside_an_event_at_any_chunking(size: int | None) -> None:
    ev = openai_events(TEXT)
    sent = rechunk([*ev[:3], ev[3][: len(ev[3]) // 2]], size or 10**9)
    events = await run(Reply([*sent, *ev[3:]], cut_after=len(sent)))
    assert text_of(events) == "".join(TEXT[:2])  # the half event is dropped, not misread
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.NETWORK


@pytest.mark.parametrize("size", [None, 1, 3])
@pytest.mark.parametrize("bad", [b"data: {not json\n\n", b"data: [1, 2]\n\n", b"data: 42\n\n"])
async def test_malformed_json_is_a_protocol_error(bad: bytes, size: int | None) -> None:
    chunks = [sse(openai_chunk({"content": "ok"})), bad, b"data: [DONE]\n\n"]
    events = await run(Reply(chunks), size)
    assert events[0] == TextDelta("ok")
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.PROTOCOL
    assert "malformed JSON" in last.message
    assert len(events) == 2


async def test_non_streaming_json_answer_is_read() -> None:
    body = {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "whole"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1},
    }
    reply = Reply([json.dumps(body).encode()], headers={"content-type": "application/json"})
    events = await run(reply, 1)
    assert events == [TextDelta("whole"), Usage(2, 1), Finish("stop")]


# ----------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.BAD_REQUEST),
        (401, ErrorKind.AUTH),
        (403, ErrorKind.AUTH),
        (404, ErrorKind.NOT_FOUND),
        (429, ErrorKind.RATE_LIMIT),
        (500, ErrorKind.SERVER),
        (503, ErrorKind.SERVER),
    ],
)
@pytest.mark.parametrize("style", ["openai", "text"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_http_error_before_any_chunk(
    status: int, kind: ErrorKind, style: str, framing: str
) -> None:
    reply = error_reply(status, f"provider says no ({status})", style=style)  # type: ignore[arg-type]
    if framing == "chunked":  # the error body itself split into 1-byte chunks
        reply = with_chunking(reply, 1)
        reply.framing = "chunked"
    events = await run(reply)
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError)
    assert (err.kind, err.status) == (kind, status)
    assert f"HTTP {status}" in err.message
    assert f"provider says no ({status})" in err.message
    assert "\n" not in err.message


async def test_long_error_body_is_truncated_to_one_line() -> None:
    events = await run(error_reply(500, "line\n\x1b[31mred\x1b[0m " + "x" * 5000, style="text"))
    err = events[0]
    assert isinstance(err, StreamError)
    assert len(err.message) < 400 and "\n" not in err.message and "\x1b" not in err.message
    assert err.message.endswith("…")


async def test_key_is_sent_only_in_authorization_and_never_shown() -> None:
    # The provider echoes the key in its error body; it must not reach our message.
    async with LlmServer(error_reply(401, f"Incorrect API key provided: {KEY}")) as srv:
        events = await collect("openai", srv.url, api_key=KEY)
        req = srv.requests[0]
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in json.dumps(req.json)
    assert KEY not in repr(events)
    assert isinstance(events[0], StreamError) and "***" in events[0].message


async def test_no_authorization_header_without_a_key() -> None:
    async with LlmServer(Reply(openai_events(["x"]))) as srv:
        await collect("openai", srv.url)
        assert "authorization" not in srv.requests[0].headers


async def test_connect_failure_names_the_host() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    events = await collect("openai", f"http://127.0.0.1:{port}/v1")
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.NETWORK
    assert f"127.0.0.1:{port}" in err.message


async def test_invalid_url_is_a_config_error() -> None:
    events = await collect("openai", "not a url")
    assert isinstance(events[0], StreamError) and events[0].kind is ErrorKind.CONFIG


async def test_read_timeout_between_chunks() -> None:
    reply = Reply(openai_events(TEXT)[1:], delay=1.0)  # text first, then a long pause
    timeout = httpx.Timeout(connect=5, read=0.2, write=5, pool=5)
    async with LlmServer(reply) as srv, make_client(timeout=timeout) as client:
        events = await collect("openai", srv.url, client=client)
    assert text_of(events) == TEXT[0]
    last = events[-1]
    assert isinstance(last, StreamError) and last.kind is ErrorKind.TIMEOUT
    assert "sent nothing for 0.2 s" in last.message


# ----------------------------------------------------------------- the request


def test_url_forms() -> None:
    want = "http://h:8000/v1/chat/completions"
    for base in ["http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"]:
        assert chat_completions_url(base) == want
    assert chat_completions_url(want) == want
    assert (
        chat_completions_url("https://openrouter.ai/api/v1")
        == "https://openrouter.ai/api/v1/chat/completions"
    )
    assert (
        chat_completions_url("https://g.example/v1beta/openai/")
        == "https://g.example/v1beta/openai/chat/completions"
    )


@pytest.mark.parametrize("base", ["", "/", "/v1", "/v1/"])
async def test_request_body_and_path(base: str) -> None:
    history = [
        Message("user", "weather?"),
        Message(
            "assistant",
            "",
            tool_calls=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "wx", "arguments": '{"c": "Oslo"}'},
                }
            ],
        ),
        Message("tool", '{"t": 3}', tool_call_id="call_1"),
        Message("assistant", "3 degrees"),
        Message("user", "thanks"),
    ]
    tools = [{"type": "function", "function": {"name": "wx", "parameters": {"type": "object"}}}]
    params = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "seed": 7,
        "stop": ["END"],
        "top_k": 40,
        "repetition_penalty": 1.1,
        "min_p": None,
    }
    req = InferenceRequest(system="SYS", messages=history, params=params, tools=tools)
    async with LlmServer(Reply(openai_events(["ok"]))) as srv:
        events = await collect("vllm", srv.url + base, req, model="qwen")
        sent = srv.requests[0]
    assert text_of(events) == "ok"
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    body = sent.json
    assert body["model"] == "qwen"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": history[1].tool_calls},
        {"role": "tool", "content": '{"t": 3}', "tool_call_id": "call_1"},
        {"role": "assistant", "content": "3 degrees"},
        {"role": "user", "content": "thanks"},
    ]
    for k in ("temperature", "top_p", "max_tokens", "seed", "stop", "top_k", "repetition_penalty"):
        assert body[k] == params[k]
    assert "min_p" not in body
    assert body["tools"] == tools


async def test_empty_system_sends_no_system_message() -> None:
    req = InferenceRequest(system="", messages=[Message("user", "u")])
    async with LlmServer(Reply(openai_events(["ok"]))) as srv:
        await collect("openai", srv.url, req)
        assert srv.requests[0].json["messages"] == [{"role": "user", "content": "u"}]


async def test_injected_client_is_reused_and_left_open() -> None:
    async with LlmServer(Reply(openai_events(["a"]))) as srv, make_client() as client:
        for _ in range(3):
            assert text_of(await collect("openai", srv.url, client=client)) == "a"
        assert not client.is_closed
        assert len(srv.requests) == 3


# ----------------------------------------------------------------- cancellation


async def test_cancel_closes_the_connection_promptly() -> None:
    reply = Reply(openai_events([f"w{i} " for i in range(200)]), delay=0.05)
    got_text = asyncio.Event()

    async with LlmServer(reply) as srv, make_client() as client:
        endpoint = Endpoint("openai", srv.url, "m", api_key=KEY)
        req = InferenceRequest("s", [Message("user", "u")])

        async def consume() -> None:
            async for ev in get_adapter("openai").stream(endpoint, req, client=client):
                if isinstance(ev, TextDelta):
                    got_text.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_text.wait(), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.wait_for(srv.requests[0].disconnected.wait(), 1.0)
        assert not srv.requests[0].completed


async def test_closing_the_generator_early_closes_the_connection() -> None:
    reply = Reply(openai_events([f"w{i} " for i in range(200)]), delay=0.05)
    async with LlmServer(reply) as srv, make_client() as client:
        endpoint = Endpoint("openai", srv.url, "m")
        stream = get_adapter("openai").stream(endpoint, InferenceRequest("", []), client=client)
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for ev in stream:
                if isinstance(ev, TextDelta):
                    break
        await asyncio.wait_for(srv.requests[0].disconnected.wait(), 1.0)


async def test_cancel_while_the_consumer_awaits_elsewhere_with_aclosing() -> None:
    # The cancel lands in the consumer's own await (not inside the generator); aclosing
    # is what closes the stream then. Consumers must use it.
    reply = Reply(openai_events([f"w{i} " for i in range(200)]), delay=0.01)
    seen = asyncio.Event()
    async with LlmServer(reply) as srv, make_client() as client:
        endpoint = Endpoint("openai", srv.url, "m")

        async def consume() -> None:
            stream = get_adapter("openai").stream(endpoint, InferenceRequest("", []), client=client)
            async with contextlib.aclosing(stream):  # type: ignore[type-var]
                async for _ev in stream:
                    seen.set()
                    await asyncio.sleep(10)  # e.g. a slow database write

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.wait_for(srv.requests[0].disconnected.wait(), 1.0)


# ----------------------------------------------------------------- wrong URL / server kind


async def test_redirect_is_a_config_error_naming_the_target() -> None:
    reply = Reply(
        [], status=301, headers={"location": "https://elsewhere.example/v1"}, framing="length"
    )
    events = await run(reply)
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.CONFIG and err.status == 301
    assert "https://elsewhere.example/v1" in err.message


async def test_html_page_with_200_is_not_an_event_stream() -> None:
    page = b"<!DOCTYPE html>\n<html><body>Welcome to nginx!</body></html>\n"
    events = await run(Reply([page], headers={"content-type": "text/html"}))
    assert len(events) == 1
    err = events[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.PROTOCOL
    assert "not an event stream" in err.message and "text/html" in err.message


async def test_empty_event_stream_is_a_cut() -> None:
    events = await run(Reply([]))
    assert events == [StreamError(ErrorKind.NETWORK, STREAM_CUT)]


async def test_content_parts_list_is_read_as_text() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    chunks = [sse(openai_chunk({"content": parts})), b"data: [DONE]\n\n"]
    events = await run(Reply(chunks))
    assert events == [TextDelta("ab"), Finish(None)]


def test_max_tokens_becomes_max_completion_tokens_only_for_openai_itself() -> None:
    req = InferenceRequest("", [Message("user", "u")], params={"max_tokens": 9})
    hosted = openai_body(Endpoint("openai", "https://api.openai.com/v1", "o3"), req)
    assert hosted["max_completion_tokens"] == 9 and "max_tokens" not in hosted
    local = openai_body(Endpoint("vllm", "http://127.0.0.1:8000", "q"), req)
    assert local["max_tokens"] == 9 and "max_completion_tokens" not in local


async def test_an_html_error_page_is_shown_as_its_title() -> None:
    page = (
        b"<html><head><title>Gateway &amp; proxy: upstream down</title>"
        b"<style>body{color:red}</style></head><body><center><h1>502 Bad Gateway</h1>"
        b"</center><hr><center>nginx/1.25.3</center></body></html>\n"
    )
    reply = Reply([page], status=502, headers={"content-type": "text/html"}, framing="length")
    err = (await run(reply))[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.SERVER
    assert err.message.startswith("HTTP 502 Bad Gateway from ")
    assert err.message.endswith(": Gateway & proxy: upstream down")


async def test_an_html_page_that_only_repeats_the_status_adds_nothing() -> None:
    page = b"<html><head><title>500 Internal Server Error</title></head><body>x</body></html>"
    reply = Reply([page], status=500, headers={"content-type": "text/html"}, framing="length")
    err = (await run(reply))[0]
    assert isinstance(err, StreamError)
    assert err.message.startswith("HTTP 500 Internal Server Error from ")
    assert err.message.count("Internal Server Error") == 1


@pytest.mark.parametrize(
    ("header", "shown"),
    [("20", "(retry after 20 s)"), ("Wed, 21 Oct 2037 07:28:00 GMT", "07:28:00 GMT)")],
)
async def test_retry_after_is_said(header: str, shown: str) -> None:
    reply = error_reply(429, "slow down")
    reply.headers = {**reply.headers, "retry-after": header}
    err = (await run(reply))[0]
    assert isinstance(err, StreamError) and err.kind is ErrorKind.RATE_LIMIT
    assert "slow down" in err.message and err.message.endswith(shown)
