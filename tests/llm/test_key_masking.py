"""No piece of the key in any message: upstreams that echo it whole, halved, base64'd, in
JSON error bodies, in malformed JSON mid-stream, in an HTML page and in a header, for
every wire format over a real server; and through the chat engine, the stored error
turn. ``secrets.mask`` is the one rule: the key, every 8-character piece of it, and the
same of its base64 forms."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import StreamError
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.secrets import MIN_PIECE, mask
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import InferenceChunk, InferenceTask, Llm
from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService
from tests.support.llm_servers import LlmServer, Reply, collect, sse
from tests.support.providers import ProviderProc, write_provider_file
from tests.support.seed import add_agent, add_llm

KEY = "sk-test-0123456789abcdefghijklmnop"
B64 = base64.b64encode(KEY.encode()).decode()
HALF = KEY[len(KEY) // 2 :]
RELAY_OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=20.0, status_interval=0.1)


def pieces(secret: str) -> list[str]:
    return [secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1)]


ALL_PIECES = pieces(KEY) + pieces(B64.rstrip("="))


def leaks(text: str) -> list[str]:
    return [p for p in ALL_PIECES if p in text]


def test_the_rule_takes_out_the_key_its_pieces_and_its_base64() -> None:
    for text in (
        f"bad key {KEY}!",
        f"key ends {HALF} here",
        f"Basic {B64}",
        f"two {KEY[:9]} and {KEY[-9:]}",
    ):
        masked = mask(text, KEY)
        assert leaks(masked) == [] and "***" in masked, masked
    # Words that merely share short runs with the key are left alone.
    assert mask("sk-test is a prefix; 01234 too", KEY) == "sk-test is a prefix; 01234 too"


def _status(status: int, body: bytes, ctype: str = "application/json", **headers: str) -> Reply:
    return Reply(
        [body], status=status, headers={"content-type": ctype, **headers}, framing="length"
    )


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


SSE = {"content-type": "text/event-stream"}
CASES: list[tuple[str, Reply]] = [
    ("whole key, openai JSON error", _status(401, _json({"error": {"message": f"bad {KEY}"}}))),
    ("half the key, 403", _status(403, _json({"error": {"message": f"key …{HALF} denied"}}))),
    (
        "base64 in an HTML page",
        _status(500, f"<html><title>Basic {B64} refused</title></html>".encode(), "text/html"),
    ),
    ("in a header", _status(429, b"{}", **{"retry-after": f"{KEY}"})),
    (
        "malformed JSON mid-stream",
        Reply([sse({"choices": []}), f"data: {{broken Bearer {KEY}\n\n".encode()], headers=SSE),
    ),
]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
@pytest.mark.parametrize(("case", "reply"), CASES, ids=[c for c, _ in CASES])
async def test_no_adapter_error_holds_a_piece_of_the_key(
    kind: str, case: str, reply: Reply
) -> None:
    async with LlmServer(reply) as srv:
        events = await collect(kind, srv.url, api_key=KEY)
    end = events[-1]
    assert isinstance(end, StreamError)
    assert leaks(end.message) == [], (case, end.message)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_stored_error_turn_holds_no_piece_of_the_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCTL_KEY_MASK_TEST", KEY)
    reply = Reply(
        [
            sse({"choices": [{"index": 0, "delta": {"content": "ok "}}]}),
            f"data: {{oops {KEY}\n\n".encode(),
        ],
        headers=SSE,
    )
    async with LlmServer(reply) as srv:
        llm = await add_llm(
            store,
            "o",
            type="openai",
            url=srv.url,
            model="m",
            api_key_ref="env:MCPCTL_KEY_MASK_TEST",
        )
        await add_agent(store, "a", llm.id)
        async with ChatService(store) as svc:
            events = [e async for e in svc.send("a", "hi")]
        assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.error is not None
    assert leaks(ended.error) == [] and "***" in ended.error
    async with store.session() as s:
        rows = await all_messages(s, ended.thread_id)
    assert leaks(rows[1].error or "") == [] and rows[1].content == "ok "


async def test_through_the_relay_no_piece_of_the_provider_s_key_reaches_the_caller(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's own adapter masks with the provider's key (a reference in its own
    file): the caller, the relayed chunks and the task row see none of it."""
    monkeypatch.setenv("UPSTREAM_KEY", KEY)
    page = _status(401, _json({"error": {"message": f"bad key {KEY[:20]}… ({B64})"}}))
    async with LlmServer(page) as srv:
        upstream = {"type": "openai", "url": srv.url, "model": "m", "apiKeyRef": "env:UPSTREAM_KEY"}
        pf = write_provider_file(
            tmp_path / "p.yaml",
            [{"name": "relay", "upstream": upstream}],
            state_file=tmp_path / "s",
        )
        async with ProviderProc(db_url, pf), VirtualLlmService(store, RELAY_OPTS) as virt:
            async with store.session() as s:
                llm = (await s.execute(select(Llm.id).where(Llm.name == "relay"))).scalar_one()
            request = InferenceRequest(system="", messages=[Message("user", "hi")])
            events = [e async for e in virt.enqueue_infer_task(llm, request)]
        assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"
    end = events[-1]
    assert isinstance(end, StreamError) and "***" in end.message
    assert leaks(end.message) == []
    async with store.session() as s:
        stored = [
            json.dumps(p) for p in (await s.execute(select(InferenceChunk.payload))).scalars()
        ] + [e or "" for e in (await s.execute(select(InferenceTask.error))).scalars()]
    assert stored and all(leaks(text) == [] for text in stored)
