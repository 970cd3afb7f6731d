"""``chat --thread ID --edit TURN -m`` and ``history --tree``: a branch from the shell,
the whole tree read back, and the refusals that leave the thread as it was."""

from __future__ import annotations

import json
import re

from mcpctl_tui.store.engine import Store
from tests.support.cli_runs import run_cli
from tests.support.seed import add_llm_agent


async def test_edit_a_question_from_the_shell_then_read_the_tree(store: Store, db_url: str) -> None:
    await add_llm_agent(store, agent="a")  # the echo LLM: it answers with what it was sent
    first = await run_cli(db_url, "chat", "a", "-m", "Q0")
    tid = re.match(r"thread (\d+) · ", first.err)
    assert first.code == 0 and tid is not None, first.err
    t = tid.group(1)
    assert (await run_cli(db_url, "chat", "a", "--thread", t, "-m", "Q2")).code == 0

    edited = await run_cli(db_url, "chat", "a", "--thread", t, "--edit", "2", "-m", "Q2 again")
    assert edited.code == 0, edited.err
    assert edited.out.rstrip("\n").endswith("Q2 again")  # the echo: the new question
    assert edited.err.startswith(f"thread {t} · ")

    path = (await run_cli(db_url, "history", t)).out.splitlines()
    headings = [line.split(" · ")[0] for line in path if re.match(r"\[\d+\] \w+ · ", line)]
    assert headings == ["[0] user", "[1] assistant", "[4] user", "[5] assistant"]
    assert path[path.index(next(x for x in path if x.startswith("[4] user"))) + 1] == "Q2 again"

    tree = (await run_cli(db_url, "history", t, "--tree")).out.splitlines()
    heads = [line.split(" · ")[0] for line in tree if "[" in line.split(" · ")[0]]
    assert heads == [
        "* [0] user",
        "* [1] assistant",
        "    [2] user",  # a branch point under turn 1: one indent; off the path: no '*'
        "    [3] assistant",
        "  * [4] user",
        "  * [5] assistant",
    ]
    assert tree[tree.index(next(x for x in tree if x.startswith("    [2]"))) + 1] == "      Q2"
    assert [line.endswith(" · branch 1/2") for line in tree if "[2] user" in line] == [True]

    docs = json.loads((await run_cli(db_url, "history", t, "--tree", "-o", "json")).out)
    assert [(d["turn"], d["parent"], d["onPath"]) for d in docs] == [
        (0, None, True),
        (1, 0, True),
        (2, 1, False),
        (3, 2, False),
        (4, 1, True),
        (5, 4, True),
    ]


async def test_edit_refusals_leave_the_thread_as_it_was(store: Store, db_url: str) -> None:
    await add_llm_agent(store, agent="a")
    first = await run_cli(db_url, "chat", "a", "-m", "Q0")
    t = first.err.split()[1]
    before = (await run_cli(db_url, "history", t, "--tree", "-o", "json")).out

    reply = await run_cli(db_url, "chat", "a", "--thread", t, "--edit", "1", "-m", "x")
    assert reply.code == 1
    assert reply.err == f"Error: turn 1 of thread {t} is an assistant turn, not a user one\n"
    gone = await run_cli(db_url, "chat", "a", "--thread", t, "--edit", "7", "-m", "x")
    assert gone.code == 1 and gone.err == f"Error: turn 7 of thread {t} not found\n"
    no_message = await run_cli(db_url, "chat", "a", "--thread", t, "--edit", "0")
    no_thread = await run_cli(db_url, "chat", "a", "--edit", "0", "-m", "x")
    for res in (no_message, no_thread):
        assert res.code == 2 and "--edit needs --thread and -m" in res.err
    both = await run_cli(db_url, "history", t, "--tree", "--last", "1")
    assert both.code == 2 and "--last and --tree do not go together" in both.err
    assert (await run_cli(db_url, "history", t, "--tree", "-o", "json")).out == before


async def test_chat_with_another_llm_than_the_agents(store: Store, db_url: str) -> None:
    await add_llm_agent(store, llm="first", agent="a")
    await add_llm_agent(store, llm="second", agent="b")
    first = await run_cli(db_url, "chat", "a", "-m", "Q")
    t = first.err.split()[1]
    tried = await run_cli(db_url, "chat", "a", "--thread", t, "--llm", "second", "-m", "again")
    assert tried.code == 0, tried.err
    docs = json.loads((await run_cli(db_url, "history", t, "-o", "json")).out)
    assert [d.get("llm") for d in docs] == [None, "first", None, "second"]
    missing = await run_cli(db_url, "chat", "a", "--thread", t, "--llm", "nosuch", "-m", "x")
    assert missing.code == 1 and missing.err == "Error: llm nosuch not found\n"
    assert len(json.loads((await run_cli(db_url, "history", t, "-o", "json")).out)) == 4
