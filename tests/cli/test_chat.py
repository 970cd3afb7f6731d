"""``mcpctl-tui chat`` end to end: real subprocesses, the echo LLM and a local OpenAI server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from mcpctl_tui.llm.echo import ECHO_SEPARATOR
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.messages import all_messages
from mcpctl_tui.store.models import Agent
from mcpctl_tui.store.types import MessageStatus
from tests.support.cli_runs import run_cli, spawn_cli
from tests.support.llm_servers import LlmServer, Reply, openai_reply
from tests.support.seed import add_agent, add_llm, add_personality, add_prompt, bind_prompt
from tests.support.store_rows import threads_of


async def test_one_shot_stdout_is_only_the_reply(store: Store, db_url: str) -> None:
    llm = (await add_llm(store, model="echo-1")).id
    a = (await add_agent(store, "a", llm, system_prompt="Be brief.\x1b[31m red \x07bell\r")).id
    res = await run_cli(db_url, "chat", "a", "-m", "hello\tworld", "--system-append", "APPENDED")
    assert res.code == 0, res.err
    # exact reply, control characters neutralised (ESC, BEL, CR gone; tab kept), no footer
    assert res.out == "Be brief.[31m red bell\n\nAPPENDED" + ECHO_SEPARATOR + "hello\tworld"
    lines = res.err.strip().splitlines()
    assert len(lines) == 1
    (thread,) = await threads_of(store, a)
    assert lines[0].startswith(f"thread {thread.id} · ")
    assert " out · ttft " in lines[0] and "tok/s" in lines[0]
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    # the stored reply is the model's text as given (sanitising is for the terminal only)
    assert "\x1b[31m" in rows[1].content and rows[1].status == MessageStatus.COMPLETE


async def test_options_reach_the_provider_and_errors_exit_nonzero(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    sysfile = tmp_path / "sys.txt"
    sysfile.write_text("FROM FILE", encoding="utf-8")
    fail = Reply(
        [b'{"error": {"message": "boom"}}'],
        status=500,
        headers={"content-type": "application/json"},
        framing="length",
    )
    async with LlmServer([openai_reply(["fine"]), fail]) as srv:
        llm = (await add_llm(store, "oa", type="openai", url=srv.url, model="gpt-x")).id
        a = (await add_agent(store, "a", llm, system_prompt="AGENT SYS")).id
        ok = await run_cli(
            db_url,
            "chat",
            "a",
            "-m",
            "hi",
            "--system-file",
            str(sysfile),
            "--temperature",
            "0.25",
            "--top-p",
            "0.5",
            "--top-k",
            "7",
            "--max-tokens",
            "64",
            "--seed",
            "42",
            "--stop",
            "END",
            "--stop",
            "STOP",
            "--extra",
            'response_format={"type": "json_object"}',
            "--extra",
            "user=ops",
            "--no-stream",
        )
        assert ok.code == 0, ok.err
        assert ok.out == "fine"
        body = srv.requests[0].json
        assert body["messages"][0] == {"role": "system", "content": "FROM FILE"}
        assert (body["temperature"], body["top_p"], body["top_k"], body["max_tokens"]) == (
            0.25,
            0.5,
            7,
            64,
        )
        assert (body["seed"], body["stop"], body["user"]) == (42, ["END", "STOP"], "ops")
        assert body["response_format"] == {"type": "json_object"}

        (thread,) = await threads_of(store, a)
        bad = await run_cli(db_url, "chat", "a", "-m", "again", "--thread", str(thread.id))
        assert bad.code == 1
        assert bad.out == ""
        err_lines = bad.err.strip().splitlines()
        assert err_lines[0].startswith("error: ") and "boom" in err_lines[0]
        assert err_lines[1].startswith(f"thread {thread.id} · ")
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    assert [(m.role, m.status) for m in rows] == [
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.COMPLETE),
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.ERROR),
    ]


async def test_bad_input_is_one_line(store: Store, db_url: str, tmp_path: Path) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm)).id
    await add_personality(store, a, "pirate")
    res = await run_cli(db_url, "chat", "a", "-m", "x", "--personality", "ninja")
    assert res.code == 1 and res.out == ""
    assert res.err == "Error: agent a has no personality 'ninja' (personalities: pirate)\n"
    res = await run_cli(db_url, "chat", "nobody", "-m", "x")
    assert res.code == 1 and res.err == "Error: agent nobody not found\n"
    res = await run_cli(db_url, "chat", "a", "-m", "x", "--extra", "novalue")
    assert res.code == 2 and "expected KEY=VALUE" in res.err
    assert await threads_of(store, a) == []  # nothing was written


async def test_missing_api_key_is_one_line_and_leaves_no_thread(store: Store, db_url: str) -> None:
    llm = (
        await add_llm(
            store,
            "oa",
            type="openai",
            url="http://127.0.0.1:9",
            api_key_ref="env:MCPCTL_KEY_NOT_HERE",
        )
    ).id
    a = (await add_agent(store, "a", llm)).id
    env = {k: v for k, v in os.environ.items() if k != "MCPCTL_KEY_NOT_HERE"}
    os.environ.pop("MCPCTL_KEY_NOT_HERE", None)
    res = await run_cli(db_url, "chat", "a", "-m", "x", env=env)
    assert res.code == 1 and res.out == ""
    assert res.err == (
        "Error: LLM oa: API key reference env:MCPCTL_KEY_NOT_HERE: "
        "environment variable MCPCTL_KEY_NOT_HERE is not set\n"
    )
    assert await threads_of(store, a) == []  # refused before anything was written


async def test_repl_slash_commands(store: Store, db_url: str) -> None:
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm, system_prompt="ORIG", default_params={"top_p": 0.5})).id
    pirate = (await add_personality(store, a, "pirate")).id
    await bind_prompt(store, pirate, (await add_prompt(store, "arr", "ARR", agent_id=a)).id)
    script = "\n".join(
        [
            "/help",
            "/set temperature 0.3",
            "/set echo_chunk_chars 2",
            "/system REPLACED",
            "first",
            "/personality ninja",
            "/personality pirate",
            "second",
            "/save",
            "/clear",
            "/system",
            "third",
            "/bogus",
            "/quit",
            "never sent",
        ]
    )
    res = await run_cli(db_url, "chat", "a", stdin=script + "\n")
    assert res.code == 0, res.err
    replies = res.out
    assert "REPLACED" + ECHO_SEPARATOR + "first" in replies
    assert "REPLACED\n\nARR" + ECHO_SEPARATOR + "second" in replies
    assert "ORIG\n\nARR" + ECHO_SEPARATOR + "third" in replies
    assert "never sent" not in replies
    assert "has no personality 'ninja'" in res.err
    assert "unknown command /bogus" in res.err
    assert "/set KEY [VALUE]" in res.err  # /help
    threads = await threads_of(store, a)
    assert len(threads) == 2  # /clear started a new one
    assert sorted(t.turn_count for t in threads) == [2, 4]
    async with store.session() as s:
        agent = await s.get(Agent, a)
        assert agent is not None
        assert agent.default_params == {"top_p": 0.5, "temperature": 0.3, "echo_chunk_chars": 2}
        newest = await all_messages(s, threads[0].id)
    assert newest[1].personality == "pirate"


async def test_offline_publisher_is_refused_and_leaves_no_thread(store: Store, db_url: str) -> None:
    from mcpctl_tui.store.types import LlmKind

    # A publisher never heard from: the engine refuses before it writes anything.
    llm = await add_llm(store, "v", type="openai", kind=LlmKind.VIRTUAL, last_heartbeat_at=None)
    a = (await add_agent(store, "a", llm.id)).id
    res = await run_cli(db_url, "chat", "a", "-m", "x")
    assert res.code == 1 and res.out == ""
    assert res.err.startswith("Error: publisher offline: virtual LLM v (provider session ")
    assert len(res.err.splitlines()) == 1
    assert await threads_of(store, a) == []


async def test_open_store_is_used(db_url: str) -> None:
    # The subprocess migrates an empty database itself (open_store), then reports the agent.
    res = await run_cli(db_url, "chat", "a", "-m", "x")
    assert res.code == 1 and res.err == "Error: agent a not found\n"
    s = await open_store(db_url)
    await s.close()


async def test_ctrl_c_cancels_the_reply_and_keeps_it(store: Store, db_url: str) -> None:
    llm = (await add_llm(store)).id
    a = (
        await add_agent(
            store, "a", llm, system_prompt="x" * 400, default_params={"echo_delay": 0.02}
        )
    ).id
    # one-shot: SIGINT mid-reply -> partial reply stored as cancelled, exit 130
    proc = await spawn_cli(db_url, "chat", "a", "-m", "hi")
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.read(8), 30)
    assert first
    proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130, err
    assert b"reply cancelled" in err
    (thread,) = await threads_of(store, a)
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    assert rows[1].status == MessageStatus.CANCELLED
    assert rows[1].content.encode() == first + rest
    assert 0 < len(rows[1].content) < 400

    # REPL: SIGINT cancels only the reply; the session goes on
    proc = await spawn_cli(db_url, "chat", "a")
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"hello\n")
    await proc.stdin.drain()
    assert await asyncio.wait_for(proc.stdout.read(8), 30)
    proc.send_signal(signal.SIGINT)
    proc.stdin.write(b"/set echo_delay 0\nagain\n/quit\n")
    await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err
    assert b"reply cancelled" in err
    assert out.endswith(ECHO_SEPARATOR.encode() + b"again\n")  # REPL replies end their line
    threads = await threads_of(store, a)
    newest = max(threads, key=lambda t: t.id)
    async with store.session() as s:
        rows = await all_messages(s, newest.id)
    assert [(m.role, m.status) for m in rows] == [
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.CANCELLED),
        ("user", MessageStatus.COMPLETE),
        ("assistant", MessageStatus.COMPLETE),
    ]


async def test_closed_pipe_stores_the_turn_quietly(store: Store, db_url: str) -> None:
    llm = (await add_llm(store)).id
    a = (
        await add_agent(
            store, "a", llm, system_prompt="y" * 400, default_params={"echo_delay": 0.01}
        )
    ).id
    cmd = (
        f"{sys.executable} -m mcpctl_tui --db '{db_url}' chat a -m hi | head -c 5; "
        'echo " rc=${PIPESTATUS[0]}"'
    )
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert out == b"yyyyy rc=141\n"
    assert b"Traceback" not in err and b"Exception ignored" not in err
    (thread,) = await threads_of(store, a)
    async with store.session() as s:
        rows = await all_messages(s, thread.id)
    assert rows[1].status == MessageStatus.CANCELLED and rows[1].content.startswith("yyyyy")


async def test_message_from_stdin_is_exact_and_bounded(store: Store, db_url: str) -> None:
    """``-m -`` sends stdin as the message (lines and all); more than 1 MiB is refused in
    one line with nothing written."""
    llm = (await add_llm(store)).id
    a = (await add_agent(store, "a", llm, system_prompt="S")).id
    res = await run_cli(db_url, "chat", "a", "-m", "-", stdin="line one\nline two\n")
    assert res.code == 0, res.err
    assert res.out == "S" + ECHO_SEPARATOR + "line one\nline two\n"  # a pipe: exact bytes
    (thread,) = await threads_of(store, a)
    res = await run_cli(db_url, "chat", "a", "-m", "-", stdin="x" * (1024 * 1024 + 1))
    assert res.code == 2 and res.out == ""
    assert res.err.splitlines()[-1] == "Error: -m -: the message on stdin: over 1 MiB; refused"
    res = await run_cli(db_url, "chat", "a", "-m", "-", stdin="  \n")
    assert res.code == 2 and "-m/--message is empty" in res.err
    assert [t.id for t in await threads_of(store, a)] == [thread.id]
