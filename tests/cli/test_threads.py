"""``threads AGENT`` and ``history THREAD``: the IDs ``chat --thread`` needs, and the turns."""

from __future__ import annotations

import json

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.types import MessageStatus
from tests.support.cli_runs import run_cli
from tests.support.seed import add_llm_agent, add_thread


async def test_threads_lists_newest_first_with_ids_to_resume(store: Store, db_url: str) -> None:
    await add_llm_agent(store, agent="a")
    first = await run_cli(db_url, "chat", "a", "-m", "first question\nsecond line")
    second = await run_cli(db_url, "chat", "a", "-m", "another \x1b[31mone")
    assert first.code == 0 and second.code == 0
    res = await run_cli(db_url, "threads", "a")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].split() == ["ID", "TURNS", "LAST", "TURN", "(UTC)", "TOKENS", "COST", "TITLE"]
    newest, older = (line.split() for line in lines[1:])
    assert newest[5] == "?"  # the echo LLM counts tokens but has no prices: cost unknown
    assert newest[1] == "2" and newest[-2:] == ["another", "[31mone"]  # no ESC in a cell
    assert older[1] == "2" and older[-2:] == ["first", "question"]
    assert int(newest[0]) > int(older[0])
    (top, _) = json.loads((await run_cli(db_url, "threads", "a", "-o", "json")).out)
    assert int(newest[4]) == top["usage"]["inputTokens"] + top["usage"]["outputTokens"] > 0
    # the id resumes the thread
    again = await run_cli(db_url, "chat", "a", "-m", "more", "--thread", older[0])
    assert again.code == 0 and again.err.startswith(f"thread {older[0]} · ")
    docs = json.loads((await run_cli(db_url, "threads", "a", "-o", "json", "--limit", "1")).out)
    assert [(d["id"], d["turns"], d["title"]) for d in docs] == [
        (int(older[0]), 4, "first question")
    ]
    usage = docs[0]["usage"]
    assert (usage["replies"], usage["unknownReplies"], usage["unpricedReplies"]) == (2, 0, 2)
    assert usage["cost"] == {} and usage["outputTokens"] > 0
    # an agent without threads, an unknown agent
    await add_llm_agent(store, llm="l2", agent="quiet")
    empty = await run_cli(db_url, "threads", "quiet")
    assert empty.code == 0 and empty.out == "" and empty.err == "No threads for agent quiet.\n"
    missing = await run_cli(db_url, "threads", "nobody")
    assert missing.code == 1 and missing.err == "Error: agent nobody not found\n"


async def test_history_shows_every_turn_safely(store: Store, db_url: str) -> None:
    a = (await add_llm_agent(store, agent="a")).id
    tid = (
        await add_thread(
            store,
            a,
            [
                {"role": "user", "content": "what is up"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "c1", "function": {"name": "lookup", "arguments": "{}"}}],
                },
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
                {
                    "role": "assistant",
                    "content": "Half \x1b]0;title\x07way",
                    "status": MessageStatus.ERROR,
                    "error": "HTTP 500\nfrom upstream",
                    "personality": "pirate",
                },
            ],
        )
    ).id
    res = await run_cli(db_url, "history", str(tid))
    assert res.code == 0, res.err
    blocks = res.out.rstrip("\n").split("\n\n")
    assert [b.splitlines()[0].split(" · ")[0] for b in blocks] == [
        "[0] user",
        "[1] assistant",
        "[2] tool",
        "[3] assistant",
    ]
    assert blocks[0].endswith("\nwhat is up")
    assert blocks[1].splitlines()[0].endswith(" · tool calls: lookup")
    assert blocks[2].splitlines()[0].endswith(" · for c1") and blocks[2].endswith("\n42")
    heading, error, text = blocks[3].splitlines()
    assert heading.endswith(" · error · as pirate")
    assert error == "error: HTTP 500 from upstream"
    assert text == "Half ]0;titleway"  # ESC and BEL gone
    assert "\x1b" not in res.out and "\x07" not in res.out

    last = json.loads((await run_cli(db_url, "history", str(tid), "--last", "1", "-o", "json")).out)
    assert len(last) == 1
    assert last[0]["content"] == "Half \x1b]0;title\x07way"  # exact in JSON
    assert last[0]["status"] == "error" and last[0]["personality"] == "pirate"

    missing = await run_cli(db_url, "history", "999999")
    assert missing.code == 1 and missing.err == "Error: thread 999999 not found\n"
