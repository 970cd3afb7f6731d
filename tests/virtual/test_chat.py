"""ChatService through virtual LLMs: a provider subprocess relays to a real HTTP upstream."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from sqlalchemy import select

from mcpctl_tui.chat.events import TurnEnded, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.events import TextDelta, Waiting, first_byte_from
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import ChatMessage, InferenceTask, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, MessageStatus
from mcpctl_tui.virtual import task_rows
from mcpctl_tui.virtual.dispatch import CLAIM_WAIT, DispatchOptions, VirtualLlmService
from tests.support.llm_servers import ServerProcess, openai_reply
from tests.support.providers import ProviderProc, eventually, write_provider_file
from tests.support.seed import add_agent

# Generous liveness for tests about other things (a loaded CI box may stall a heartbeat);
# the kill -9 test uses a short one on purpose.
OPTS = DispatchOptions(heartbeat_timeout=10.0, claim_timeout=20.0, status_interval=0.1)
KILL_OPTS = DispatchOptions(heartbeat_timeout=2.0, claim_timeout=20.0, status_interval=0.1)


def openai_llm(name: str, url: str) -> dict[str, object]:
    return {"name": name, "upstream": {"type": "openai", "url": url, "model": "up-model"}}


async def llm_id(store: Store, name: str) -> int:
    async with store.session() as s:
        return (await s.execute(select(Llm.id).where(Llm.name == name))).scalar_one()


async def test_chat_streams_through_a_virtual_llm(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    async with ServerProcess(mode="openai-echo", workdir=tmp_path) as up:
        pf = write_provider_file(
            tmp_path / "p.yaml", [openai_llm("relay", up.url + "/v1")], state_file=tmp_path / "s"
        )
        async with ProviderProc(db_url, pf):
            await add_agent(store, "ops", await llm_id(store, "relay"), system_prompt="Be terse.")
            async with (
                VirtualLlmService(store, OPTS) as virt,
                ChatService(store, virtual=virt) as chat,
            ):
                events = [e async for e in chat.send("ops", "the quick brown fox")]
                started = events[0]
                assert isinstance(started, TurnStarted) and started.llm_kind == LlmKind.VIRTUAL
                deltas = [e.text for e in events if isinstance(e, TextDelta)]
                assert len(deltas) >= 4  # streamed word by word, not in one piece
                ended = events[-1]
                assert isinstance(ended, TurnEnded), ended
                assert ended.status == MessageStatus.COMPLETE
                assert ended.text == "the quick brown fox" == "".join(deltas)
                assert ended.ttft_ms is not None
                # A second turn in the same thread carries the history to the upstream.
                again = await chat.run_one_inference("ops", "jumps over", thread_id=ended.thread_id)
                assert again.text == "jumps over"
        sent = up.requests()
    assert len(sent) == 2
    body = sent[1]["json"]
    assert body["model"] == "up-model"
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert [m["content"] for m in body["messages"][1:]] == [
        "the quick brown fox",
        "the quick brown fox",
        "jumps over",
    ]
    async with store.session() as s:
        stored = await all_messages(s, ended.thread_id)
    assert [(m.role, m.content, m.status) for m in stored][-1] == (
        "assistant",
        "jumps over",
        MessageStatus.COMPLETE,
    )


async def test_chat_with_a_virtual_agent_not_streaming(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    async with ServerProcess(mode="openai-echo", workdir=tmp_path) as up:
        agent = {
            "name": "lab-helper",
            "llm": "relay",
            "systemPrompt": "You help in the lab.",
            "defaultParams": {"temperature": 0.25},
        }
        pf = write_provider_file(
            tmp_path / "p.yaml",
            [openai_llm("relay", up.url + "/v1")],
            [agent],
            state_file=tmp_path / "s",
        )
        async with (
            ProviderProc(db_url, pf),
            VirtualLlmService(store, OPTS) as virt,
            ChatService(store, virtual=virt) as chat,
        ):
            ended = await chat.run_one_inference("lab-helper", "hello there")
        sent = up.requests()
    assert ended.status == MessageStatus.COMPLETE and ended.text == "hello there"
    body = sent[0]["json"]
    assert body["messages"][0] == {"role": "system", "content": "You help in the lab."}
    assert body["temperature"] == 0.25


async def test_chat_cli_through_a_virtual_llm(store: Store, db_url: str, tmp_path: Path) -> None:
    async with ServerProcess(mode="openai-echo", workdir=tmp_path) as up:
        pf = write_provider_file(
            tmp_path / "p.yaml", [openai_llm("relay", up.url + "/v1")], state_file=tmp_path / "s"
        )
        async with ProviderProc(db_url, pf):
            await add_agent(store, "ops", await llm_id(store, "relay"))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mcpctl_tui", "--db", db_url, "chat", "ops", "-m",
                "over the wire",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "over the wire" in out.decode()


async def test_kill_9_mid_reply_stores_the_partial_text_as_error(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    words = [f"w{i} " for i in range(400)]
    slow = openai_reply(words)  # one word every 20 ms
    slow.delay = 0.02
    async with ServerProcess([slow], workdir=tmp_path) as up:
        pf = write_provider_file(
            tmp_path / "p.yaml", [openai_llm("relay", up.url + "/v1")], state_file=tmp_path / "s"
        )
        prov = await ProviderProc(db_url, pf, heartbeat_interval=0.3).start()
        try:
            await add_agent(store, "ops", await llm_id(store, "relay"))
            async with (
                VirtualLlmService(store, KILL_OPTS) as virt,
                ChatService(store, virtual=virt) as chat,
            ):
                got = 0
                ended = None
                async with asyncio.timeout(20):
                    async for ev in chat.send("ops", "go"):
                        if isinstance(ev, TextDelta):
                            got += 1
                            if got == 5:
                                await prov.kill()
                        elif isinstance(ev, TurnEnded):
                            ended = ev
        finally:
            await prov.stop()
    assert ended is not None and ended.status == MessageStatus.ERROR
    assert ended.text.startswith("w0 w1 w2 w3 w4") and len(ended.text) < len("".join(words))
    assert ended.error is not None and "stopped responding" in ended.error
    async with store.session() as s:
        msg = await s.get(ChatMessage, ended.assistant_message_id)
    assert msg is not None and msg.status == MessageStatus.ERROR and msg.content == ended.text


async def test_cancel_both_ways(store: Store, db_url: str, tmp_path: Path) -> None:
    """The caller closing the turn stops the upstream request; a task cancelled in the
    store (by anyone) ends the caller's stream and the provider's upstream."""
    slow = openai_reply([f"w{i} " for i in range(1000)])
    slow.delay = 0.02
    async with ServerProcess([slow], workdir=tmp_path) as up:
        pf = write_provider_file(
            tmp_path / "p.yaml", [openai_llm("relay", up.url + "/v1")], state_file=tmp_path / "s"
        )
        async with ProviderProc(db_url, pf):
            await add_agent(store, "ops", await llm_id(store, "relay"))
            async with (
                VirtualLlmService(store, OPTS) as virt,
                ChatService(store, virtual=virt) as chat,
            ):
                # 1. The caller stops listening after a few words.
                turn = chat.send("ops", "go")
                async with contextlib.aclosing(turn):
                    n = 0
                    async for ev in turn:
                        if isinstance(ev, TextDelta):
                            n += 1
                            if n == 3:
                                break
                await eventually(lambda: _disconnects(up) >= 1, within=10)

                # 2. Someone cancels the task in the store while it streams.
                stream = virt.enqueue_infer_task(
                    await llm_id(store, "relay"),
                    (await chat.prepare("ops")).with_message(Message("user", "again")).request(),
                )
                # What it waits for: a provider's claim, then (relayed by the provider
                # that took it) the first byte from its upstream's host.
                waits = [await anext(stream), await anext(stream)]
                host = up.url.split("//")[1]
                assert [w.label for w in waits if isinstance(w, Waiting)] == [
                    "claim by a provider",
                    f"first byte from {host}",
                ]
                first = await anext(stream)
                assert isinstance(first, TextDelta)
                async with store.session() as s:
                    tid = (
                        await s.execute(
                            select(InferenceTask.id).order_by(InferenceTask.id.desc()).limit(1)
                        )
                    ).scalar_one()
                assert await task_rows.finish_task(
                    store, tid, TaskStatus.CANCELLED, "cancelled by an operator"
                )
                rest = [e async for e in stream]
                assert "cancelled by an operator" in getattr(rest[-1], "message", "")
                await eventually(lambda: _disconnects(up) >= 2, within=10)
    async with store.session() as s:
        statuses = (
            (await s.execute(select(InferenceTask.status).order_by(InferenceTask.id)))
            .scalars()
            .all()
        )
    assert statuses == [TaskStatus.CANCELLED, TaskStatus.CANCELLED]


def _disconnects(up: ServerProcess) -> int:
    return sum(1 for e in up.events() if e.get("event") == "disconnect")


async def test_relay_yields_the_same_events_as_the_adapter(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """Thinking, text, parallel tool-call fragments, usage and finish, split across
    chunks: the relay hands the caller exactly what the adapter gave the provider."""
    from tests.support.llm_servers import ToolCallSpec, collect

    reply = openai_reply(
        ["Hel", "lo ", "wörld"],
        reasoning=["let me ", "think"],
        tool_calls=[
            ToolCallSpec("call_a", "search", '{"q": "relay"}', pieces=3),
            ToolCallSpec("call_b", "fetch", '{"url": "x"}', pieces=2),
        ],
        finish_reason="tool_calls",
        usage=(21, 9),
    )
    async with ServerProcess([reply], workdir=tmp_path) as up:
        direct = await collect("openai", up.url)
        pf = write_provider_file(
            tmp_path / "p.yaml", [openai_llm("relay", up.url)], state_file=tmp_path / "s"
        )
        async with ProviderProc(db_url, pf), VirtualLlmService(store, OPTS) as virt:
            # The same request collect() sends by default.
            request = InferenceRequest(system="be brief", messages=[Message("user", "hi")])
            target = await llm_id(store, "relay")
            relayed = [e async for e in virt.enqueue_infer_task(target, request)]
    assert len(direct) > 10
    # The relay adds what the caller waits for, in the order it waits: a claim, then
    # the upstream's first byte; after that the adapter's events pass unchanged.
    assert relayed[:2] == [CLAIM_WAIT, first_byte_from(up.url)]
    assert relayed[2:] == direct


async def test_kill_9_fails_the_turn_after_three_missed_beats(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """A provider beating every 5 s is killed mid-reply: the caller's turn fails within
    three missed beats (15 s), not the 90 s heartbeat timeout, and the reply so far stays
    in the thread."""
    pf = write_provider_file(tmp_path / "p.yaml", ["cmd-llm"], state_file=tmp_path / "sid")
    prov = await ProviderProc(db_url, pf, heartbeat_interval=5.0, heartbeat_timeout=90.0).start()
    try:
        await add_agent(
            store,
            "ops",
            await llm_id(store, "cmd-llm"),
            default_params={"cmd_chunks": 100_000, "cmd_delay": 0.05},
        )
        opts = DispatchOptions(heartbeat_timeout=90.0, claim_timeout=20.0, status_interval=0.2)
        loop = asyncio.get_running_loop()
        killed_at = 0.0
        deltas = 0
        async with (
            VirtualLlmService(store, opts) as virt,
            ChatService(store, virtual=virt) as chat,
        ):
            events = []
            async with asyncio.timeout(40):
                async for ev in chat.send("ops", "part"):
                    events.append(ev)
                    if isinstance(ev, TextDelta):
                        deltas += 1
                        if deltas == 5:
                            await prov.kill()
                            killed_at = loop.time()
            elapsed = loop.time() - killed_at
    finally:
        await prov.stop()
    ended = events[-1]
    assert isinstance(ended, TurnEnded), ended
    assert ended.status == MessageStatus.ERROR and "stopped responding" in (ended.error or "")
    assert elapsed <= 15.0 + 1.0, elapsed  # three beats of 5 s, a status check, slack
    async with store.session() as s:
        msgs = await all_messages(s, ended.thread_id)
    assert msgs[-1].status == MessageStatus.ERROR
    assert msgs[-1].content.startswith("part" * 5)  # what came before the kill is kept
