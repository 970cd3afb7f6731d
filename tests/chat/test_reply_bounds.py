"""A reply has a size it may reach (``max_reply_mib``, default 8 MiB): past it the stream
is not read further, the turn ends as an error with what came kept, and the upstream is
hung up on. A line that never ends stops at 32 MiB; replies are asked for uncompressed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.chat.turn import DEFAULT_MAX_REPLY
from mcpctl_tui.config import load_settings
from mcpctl_tui.llm.events import ErrorKind, StreamError
from mcpctl_tui.llm.sse import MAX_LINE
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.types import MessageStatus
from tests.support.llm_servers import LlmServer, Reply, collect, openai_events
from tests.support.seed import add_agent, add_llm

LIMIT = 64 * 1024
PIECE = "y" * 100


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_reply_past_its_size_ends_as_an_error_with_its_text(store: Store) -> None:
    endless = Reply(openai_events([PIECE] * 5_000), delay=0.002)  # 500 KB over 10 s
    async with LlmServer(endless) as srv:
        llm = await add_llm(store, "oa", type="openai", url=srv.url, model="m")
        await add_agent(store, "a", llm.id)
        async with ChatService(store, max_reply=LIMIT) as svc:
            events = [e async for e in svc.send("a", "go on forever")]
        await asyncio.wait_for(srv.requests[0].disconnected.wait(), 5)  # hung up on
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.status == MessageStatus.ERROR
    assert ended.error_kind == ErrorKind.TOO_LONG
    assert ended.error is not None and ended.error.startswith("the reply passed 0.0625 MiB")
    # Cut at a block of deltas past the limit: bounded, and every character kept is real.
    assert LIMIT < len(ended.text) <= LIMIT + 512 * len(PIECE)
    assert ended.text == PIECE * (len(ended.text) // len(PIECE))
    async with store.session() as s:
        rows = await all_messages(s, ended.thread_id)
    assert (rows[1].status, rows[1].content) == (MessageStatus.ERROR, ended.text)


def test_the_size_is_a_setting(tmp_path: Path) -> None:
    assert DEFAULT_MAX_REPLY == 8 * 2**20
    conf = tmp_path / "c.yaml"
    conf.write_text("max_reply_mib: 0.5\n")
    assert load_settings(conf).max_reply_mib == 0.5


async def test_a_line_that_never_ends_is_stopped_and_replies_come_uncompressed() -> None:
    block = b"data: {" + b"z" * (1024 * 1024)  # 1 MiB pieces of one line, never ended
    reply = Reply([block] * 40, headers={"content-type": "text/event-stream"})
    async with LlmServer(reply) as srv:
        events = await collect("openai", srv.url)
        assert srv.requests[0].headers["accept-encoding"] == "identity"
    end = events[-1]
    assert isinstance(end, StreamError) and end.kind == ErrorKind.PROTOCOL
    assert f"a line of the stream passed {MAX_LINE // 2**20} MiB" in end.message


async def test_a_gzip_bomb_is_stopped_at_the_line_bound_with_memory_to_match() -> None:
    """204 KB of gzip that unpacks to 200 MiB of one endless line (the probe's 1 MB bomb
    took chat to 4 GB): the stream ends at the 32 MiB line bound."""
    import resource
    import zlib

    # Compressed a MiB at a time: the test itself never holds the 200 MiB it unpacks to.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    parts = [packer.compress(b"data: ")]
    zeros = bytes(2**20)
    parts += [packer.compress(zeros) for _ in range(200)]
    bomb = b"".join([*parts, packer.flush()])
    pieces = [bomb[i : i + 16384] for i in range(0, len(bomb), 16384)]
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with LlmServer(Reply(pieces, headers=headers)) as srv:
        events = await collect("openai", srv.url)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    end = events[-1]
    assert isinstance(end, StreamError) and "a line of the stream passed 32 MiB" in end.message
    assert grown_mib < 200, grown_mib  # 69 MiB here; 422 MiB without the line bound
