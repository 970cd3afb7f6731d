"""The test HTTP servers themselves: exact chunking, recording, cuts, hang-up detection."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.support.llm_servers import (
    LlmServer,
    Reply,
    ServerProcess,
    bench_openai_reply,
    error_reply,
    openai_reply,
    rechunk,
)


async def test_each_chunk_arrives_as_its_own_read() -> None:
    chunks = [b"ab", b"c", b"\xc3", b"\xa9", b"def\n"]
    async with LlmServer(Reply(chunks)) as srv, httpx.AsyncClient() as client:
        async with client.stream("POST", srv.url + "/x", json={"a": 1}) as resp:
            got = [c async for c in resp.aiter_bytes()]
        assert got == chunks
        req = srv.requests[0]
        assert (req.method, req.path, req.json) == ("POST", "/x", {"a": 1})
        assert req.headers["content-type"] == "application/json"
        assert req.completed


async def test_replies_are_used_in_order_and_the_last_repeats() -> None:
    replies = [error_reply(429, "slow down"), openai_reply(["hi"])]
    async with LlmServer(replies) as srv, httpx.AsyncClient() as client:
        statuses = [(await client.post(srv.url + "/v1/chat")).status_code for _ in range(3)]
        assert statuses == [429, 200, 200]
        assert len(srv.requests) == 3


async def test_cut_after_breaks_the_chunked_body() -> None:
    async with LlmServer(Reply([b"one", b"two", b"three"], cut_after=2)) as srv:
        async with httpx.AsyncClient() as client, client.stream("GET", srv.url) as resp:
            got = []
            with pytest.raises(httpx.RemoteProtocolError):
                async for c in resp.aiter_bytes():
                    got.append(c)
        assert got == [b"one", b"two"]


async def test_server_notices_when_the_client_hangs_up() -> None:
    reply = Reply([b"x"] * 100, delay=0.2)
    async with LlmServer(reply) as srv, httpx.AsyncClient() as client:
        async with client.stream("GET", srv.url) as resp:
            async for _ in resp.aiter_bytes():
                break
        await asyncio.wait_for(srv.requests[0].disconnected.wait(), 2)
        assert not srv.requests[0].completed


def test_rechunk_keeps_the_bytes() -> None:
    data = [b"hello ", b"w\xc3\xb6rld"]
    assert rechunk(data, 1) == [bytes([b]) for b in b"hello w\xc3\xb6rld"]
    assert b"".join(rechunk(data, 3)) == b"".join(data)


async def test_bench_reply_streams_many_chunks() -> None:
    async with LlmServer(bench_openai_reply(1000)) as srv, httpx.AsyncClient() as client:
        async with client.stream("POST", srv.url) as resp:
            n = len([c async for c in resp.aiter_bytes()])
        assert n >= 1000


async def test_server_runs_as_a_subprocess_and_records_requests() -> None:
    async with ServerProcess([openai_reply(["a", "b"])]) as srv, httpx.AsyncClient() as c:
        resp = await c.post(srv.url + "/v1/chat/completions", json={"messages": []})
        assert resp.status_code == 200
        assert b"data: [DONE]" in resp.content
        await asyncio.sleep(0.05)
        reqs = srv.requests()
        assert reqs[0]["path"] == "/v1/chat/completions"
        assert reqs[0]["json"] == {"messages": []}


async def test_subprocess_openai_echo_mode() -> None:
    async with ServerProcess(mode="openai-echo") as srv, httpx.AsyncClient() as c:
        body = {"messages": [{"role": "user", "content": "hello there"}]}
        resp = await c.post(srv.url + "/v1/chat/completions", json=body)
        datas = [ln[6:] for ln in resp.text.splitlines() if ln.startswith("data: {")]
        text = "".join(
            ch["delta"].get("content") or "" for d in datas for ch in json.loads(d)["choices"]
        )
        assert text == "hello there"


async def test_subprocess_records_a_hang_up() -> None:
    async with ServerProcess([Reply([b"x"] * 50, delay=0.1)]) as srv, httpx.AsyncClient() as c:
        async with c.stream("GET", srv.url + "/slow") as resp:
            async for _ in resp.aiter_bytes():
                break
        for _ in range(100):
            if any(e["event"] == "disconnect" for e in srv.events()):
                break
            await asyncio.sleep(0.02)
        kinds = [e["event"] for e in srv.events()]
        assert kinds == ["request", "disconnect"]
