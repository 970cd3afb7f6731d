"""``mcpctl-tui search``, on both backends: the table marks each match, ``-o json`` gives
the spans, filters narrow, bad query syntax is searched as words, stored control
characters never reach the terminal."""

from __future__ import annotations

import asyncio
import json

from click.testing import Result

from mcpctl_tui.store.engine import Store
from tests.support.cli_runs import invoke_cli
from tests.support.seed import add_agent, add_llm, add_thread


async def cli(url: str, *args: str) -> Result:
    return await asyncio.to_thread(invoke_cli, url, *args)  # its own event loop


async def _seed(store: Store) -> None:
    ops = await add_agent(store, "ops", (await add_llm(store, "llm-a")).id)
    writer = await add_agent(store, "writer", (await add_llm(store, "llm-b")).id)
    await add_thread(
        store,
        ops.id,
        [
            {"role": "user", "content": "why is the disk full?"},
            {"role": "assistant", "content": "The disk \x1b[31mfills\x1b[0m with logs."},
        ],
        title="disk",
    )
    await add_thread(store, writer.id, [{"role": "user", "content": "a full moon"}], title="moon")


async def test_search_table_and_json(store: Store) -> None:
    await _seed(store)
    res = await cli(store.url, "search", "disk")
    assert res.exit_code == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["THREAD", "TURN", "ROLE", "AGENT", "WHEN", "(UTC)", "SNIPPET"]
    assert [r.split()[:4] for r in rows] == [
        ["1", "1", "assistant", "ops"],
        ["1", "0", "user", "ops"],
    ]
    assert rows[0].endswith("The «disk» [31mfills[0m with logs.") and "\x1b" not in res.stdout
    res = await cli(store.url, "search", "full", "--llm", "llm-b", "-o", "json")
    (doc,) = json.loads(res.stdout)
    assert (doc["agent"], doc["threadTitle"], doc["turn"], doc["role"]) == (
        "writer",
        "moon",
        0,
        "user",
    )
    assert doc["snippet"][slice(*doc["marks"][0])] == "full"
    res = await cli(store.url, "search", "full", "--role", "assistant", "--since", "1h")
    assert res.exit_code == 0 and res.stdout == "" and "No turns match 'full'." in res.stderr
    res = await cli(store.url, "search", '"disk (full', "-o", "json")  # not valid syntax
    assert res.exit_code == 0 and [d["turn"] for d in json.loads(res.stdout)] == [0]


async def test_search_refuses_a_bad_age(store: Store) -> None:
    res = await cli(store.url, "search", "x", "--since", "soon")
    assert res.exit_code == 2 and "is not an age like 30m, 12h, 7d or 2w" in res.stderr
