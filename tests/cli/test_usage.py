"""``mcpctl-tui usage`` and an LLM's ``prices`` through the CLI, on both backends: prices
applied from a manifest price the replies ``chat`` stores, per agent, LLM and day, and
an LLM without prices gives "?" (unpriced), never $0."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import ChatMessage
from mcpctl_tui.store.types import utcnow
from tests.support.cli_runs import run_cli

MANIFEST = """\
kind: llm
name: priced
type: echo
prices: {input: 2000, output: 4000, currency: usd}
---
kind: llm
name: unpriced
type: echo
---
kind: agent
name: a
llm: priced
---
kind: agent
name: b
llm: unpriced
"""


async def test_usage_by_agent_llm_and_day(store: Store, db_url: str, tmp_path: object) -> None:
    empty = await run_cli(db_url, "usage")
    assert (empty.code, empty.out, empty.err) == (0, "", "No replies stored.\n")
    applied = await run_cli(db_url, "apply", "-f", "-", stdin=MANIFEST)
    assert applied.code == 0, applied.err
    shown = await run_cli(db_url, "get", "llm", "priced", "-o", "yaml")
    assert shown.out.endswith("prices:\n  input: 2000.0\n  output: 4000.0\n")  # USD: the default
    for agent, text in (("a", "one two three"), ("a", "four"), ("b", "five six")):
        assert (await run_cli(db_url, "chat", agent, "-m", text)).code == 0
    doc = json.loads((await run_cli(db_url, "usage", "--by", "llm", "-o", "json")).out)
    rows = {r["llm"]: r for r in doc["rows"]}
    priced, unpriced = rows["priced"], rows["unpriced"]
    assert priced["replies"] == 2 and priced["unknownReplies"] == 0
    expected = (priced["inputTokens"] * 2000 + priced["outputTokens"] * 4000) / 1e6
    assert priced["cost"]["USD"] == expected > 0
    assert unpriced["replies"] == 1 and unpriced["unpricedReplies"] == 1
    assert unpriced["cost"] == {}
    assert doc["total"]["replies"] == 3 and doc["total"]["unpricedReplies"] == 1

    table = (await run_cli(db_url, "usage")).out.splitlines()
    assert table[0].split() == [
        "AGENT", "REPLIES", "INPUT", "OUTPUT", "UNKNOWN", "UNPRICED", "COST"
    ]  # fmt: skip
    a, b, total = (line.split() for line in table[1:])
    assert a[:2] == ["a", "2"] and a[-1] == f"${expected:.4f}"
    assert b[:2] == ["b", "1"] and b[-1] == "?"  # unpriced: not free
    assert total[0] == "TOTAL" and total[-1] == f"${expected:.4f}+?"
    by_day = json.loads((await run_cli(db_url, "usage", "--by", "day", "-o", "json")).out)
    assert [r["replies"] for r in by_day["rows"]] == [3]
    assert (
        json.loads((await run_cli(db_url, "usage", "--since", "30d", "-o", "json")).out)["total"]
        == doc["total"]
    )
    async with store.transaction() as s:  # all of it 40 days ago
        await s.execute(update(ChatMessage).values(created_at=utcnow() - timedelta(days=40)))
    later = await run_cli(db_url, "usage", "--since", "30d")
    assert (later.code, later.err) == (0, "No replies stored in that time.\n")
    bad = await run_cli(db_url, "usage", "--by", "week")
    assert bad.code == 2 and "'week' is not one of 'agent', 'llm', 'day'" in bad.err
