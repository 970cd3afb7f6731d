"""Model output crossing the relay is untrusted text: NUL, invalid UTF-8, lone surrogates,
control sequences and very long lines arrive intact or with the documented replacement
(U+FFFD), and neither the provider nor the dispatcher breaks on them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from mcpctl_tui.chat.events import TurnEnded
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import Finish, StreamEvent, TextDelta, ToolCallDelta
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import Llm
from mcpctl_tui.store.types import LlmKind, MessageStatus
from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService
from tests.support.llm_servers import Reply, ServerProcess, openai_chunk
from tests.support.providers import ProviderProc, write_provider_file
from tests.support.seed import add_agent, add_llm

OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=30.0, status_interval=0.1)
BIG = 2 * 1024 * 1024  # one 2 MiB line, no newline

# Raw bytes a command upstream writes, one write each.
PIECES = [
    b"nul:\x00:",  # NUL
    b"bad:\xff\xfe:",  # not UTF-8 at all
    b"cesu:\xed\xa0\x80:",  # an encoded lone surrogate (invalid in UTF-8)
    b"split:\xc3",  # "é" split across two writes
    b"\xa9:",
    b"esc:\x1b[31mred\x1b]0;title\x07:",  # terminal control: text here, removed at display
    b"trunc:\xe2\x82",  # a truncated sequence at a write boundary ...
    b"ok:",  # ... followed by ASCII
]


def expected_command_text() -> str:
    # The provider decodes the command's stdout incrementally with errors="replace":
    # whatever is not UTF-8 becomes U+FFFD, exactly as a one-shot decode would.
    return (b"".join(PIECES) + b"x" * BIG).decode("utf-8", "replace")


async def llm_id(store: Store, name: str) -> int:
    async with store.session() as s:
        return (await s.execute(select(Llm.id).where(Llm.name == name))).scalar_one()


async def relay(store: Store, llm: int, **params: object) -> list[StreamEvent]:
    request = InferenceRequest(system="", messages=[Message("user", "go")], params=params)
    async with VirtualLlmService(store, OPTS) as svc:
        return [e async for e in svc.enqueue_infer_task(llm, request)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_command_output_bytes_cross_the_relay(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "s")
    async with ProviderProc(db_url, pf) as prov:
        llm = await llm_id(store, "cmd-llm")
        hexes = [p.hex() for p in PIECES]
        events = await relay(store, llm, cmd_hex=hexes, cmd_big=BIG)
        assert isinstance(events[-1], Finish), events[-1]
        got = text_of(events)
        want = expected_command_text()
        assert got == want
        assert "nul:\x00:" in got  # NUL crosses the relay intact
        assert "bad:\ufffd\ufffd:" in got and "split:é:" in got and "trunc:\ufffdok:" in got
        # A chat turn stores the same text, NUL as U+FFFD (the store's documented rule).
        await add_agent(store, "ops", llm, default_params={"cmd_hex": hexes, "cmd_big": 10})
        async with (
            VirtualLlmService(store, OPTS) as virt,
            ChatService(store, virtual=virt) as chat,
        ):
            ended = await chat.run_one_inference("ops", "go")
        assert isinstance(ended, TurnEnded) and ended.status == MessageStatus.COMPLETE
        async with store.session() as s:
            stored = (await all_messages(s, ended.thread_id))[-1]
        short = (b"".join(PIECES) + b"x" * 10).decode("utf-8", "replace")
        assert stored.content == short.replace("\x00", "\ufffd")
        # The provider served on: one more ordinary task.
        again = await relay(store, llm)
        assert text_of(again) == "go" and isinstance(again[-1], Finish)
        assert prov.proc is not None and prov.proc.returncode is None
    assert "Traceback" not in prov.stderr


def _raw_sse(obj: object) -> bytes:
    # ensure_ascii: the wire carries \\ud800 and \\u0000 as JSON escapes, as a real
    # server that emits them would (they are valid JSON, not valid Unicode text).
    return b"data: " + json.dumps(obj, ensure_ascii=True).encode() + b"\n\n"


async def test_http_upstream_escapes_cross_the_relay(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    pieces = ["lone:\ud800:", "low:\udc00:", "nul:\x00:", "pair:\U0001f600:", "y" * BIG]
    chunks = [_raw_sse(openai_chunk({"role": "assistant", "content": ""}))]
    chunks += [_raw_sse(openai_chunk({"content": p})) for p in pieces]
    chunks += [_raw_sse(openai_chunk({}, finish_reason="stop")), b"data: [DONE]\n\n"]
    async with ServerProcess([Reply(chunks)], workdir=tmp_path) as up:
        llms = [{"name": "relay", "upstream": {"type": "openai", "url": up.url, "model": "m"}}]
        pf = write_provider_file(tmp_path / "p.yaml", llms, state_file=tmp_path / "s")
        async with ProviderProc(db_url, pf) as prov:
            events = await relay(store, await llm_id(store, "relay"))
            assert isinstance(events[-1], Finish), events[-1]
            got = text_of(events)
            # Lone surrogates cannot be stored or encoded as UTF-8: each becomes U+FFFD.
            # A proper pair, NUL and the long line arrive as sent.
            assert got == "lone:\ufffd:low:\ufffd:nul:\x00:pair:\U0001f600:" + "y" * BIG
            # The reply is stored by a chat turn without a hitch (NUL as U+FFFD there).
            await add_agent(store, "ops", await llm_id(store, "relay"))
            async with (
                VirtualLlmService(store, OPTS) as virt,
                ChatService(store, virtual=virt) as chat,
            ):
                ended = await chat.run_one_inference("ops", "go")
            assert ended.status == MessageStatus.COMPLETE
            async with store.session() as s:
                stored = (await all_messages(s, ended.thread_id))[-1]
            assert stored.content == got.replace("\x00", "\ufffd")
            assert prov.proc is not None and prov.proc.returncode is None
        assert "Traceback" not in prov.stderr


async def test_raw_surrogates_in_a_chunk_row_do_not_break_the_dispatcher(store: Store) -> None:
    """A provider that skipped the codec's cleaning (or a hand-written row) still yields
    valid text to the caller."""
    from sqlalchemy import insert

    from mcpctl_tui.store.models import InferenceChunk, InferenceTask, TaskStatus
    from mcpctl_tui.virtual.codec import decode_event, encode_event

    async with store.transaction() as s:
        llm = await add_llm(
            s,
            "v",
            type="command",
            kind=LlmKind.VIRTUAL,
            provider_session_id="p",
            last_heartbeat_at=None,
        )
        q = insert(InferenceTask).values(llm_id=llm.id, status=TaskStatus.RUNNING, request={})
        task = (await s.execute(q.returning(InferenceTask.id))).scalar_one()
        payload = [["t", "a\ud800b"], ["c", 0, "id\udfff", "f", "{\udc00}"], ["f", "stop"]]
        await s.execute(insert(InferenceChunk).values(task_id=task, seq=1, payload=payload))
    async with store.session() as s:
        raw = (await s.execute(select(InferenceChunk.payload))).scalar_one()
    events = [decode_event(e) for e in raw]
    assert events[0] == TextDelta("a\ufffdb")
    assert events[1] == ToolCallDelta(0, "id\ufffd", "f", "{\ufffd}")
    assert events[2] == Finish("stop")
    assert encode_event(TextDelta("\ud83d\ude00\x00")) == ["t", "\U0001f600\x00"]
