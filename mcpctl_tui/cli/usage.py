"""``mcpctl-tui usage``: what the replies used and cost, by agent, LLM or day.

A reply is priced with the current prices of the LLM that answered it (an LLM
manifest's ``prices``); figures follow ``store/usage.py``'s rules: a reply without
usage from its provider is *unknown*, one whose LLM has no prices is *unpriced*, and
neither is ever counted as zero: the table says how many there are, the totals end in
``+?`` while any remain, and currencies are never added together.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import cast

import click

from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.params import AGE
from mcpctl_tui.cli.tables import table
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.types import utcnow
from mcpctl_tui.store.usage import BY_CHOICES, By, UsageRow, total, usage_rows


@main.command("usage")
@click.option(
    "--since",
    type=AGE,
    metavar="AGE",
    help="Only replies of the last 30d, 2w … (whole UTC days: from the start of that day).",
)
@click.option(
    "--by", "by", type=click.Choice(BY_CHOICES), default="agent", show_default=True,
    help="One line per agent, per LLM that answered, or per day (UTC).",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def usage_cmd(state: CliState, since: float | None, by: str, output: str) -> None:
    """Tokens and cost of the stored replies, by agent, LLM or day, with a total.
    Replies without usage from their provider and replies of an LLM without prices are
    counted apart, never as zero."""
    after = utcnow() - timedelta(seconds=since) if since is not None else None

    async def go(store: Store) -> list[UsageRow]:
        async with store.session() as s:
            return await usage_rows(s, cast(By, by), after)

    rows = run(with_store(state.db_url(existing=True, writes=False), go))
    everything = total(r.tally for r in rows)
    if output == "json":
        doc = {
            "by": by,
            "since": after.isoformat() if after is not None else None,
            "rows": [{by: r.key} | r.tally.as_json() for r in rows],
            "total": everything.as_json(),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if not rows:
        click.echo("No replies stored" + (" in that time." if after else "."), err=True)
        return
    lines = [_line(r.key, r) for r in rows]
    lines.append(_line("TOTAL", UsageRow("TOTAL", everything)))
    headers = [by.upper(), "REPLIES", "INPUT", "OUTPUT", "UNKNOWN", "UNPRICED", "COST"]
    click.echo(table(headers, lines))


def _line(key: str, row: UsageRow) -> list[object]:
    t = row.tally
    known = t.replies - t.unknown
    return [
        key,
        t.replies,
        t.input_tokens if known else "?",
        t.output_tokens if known else "?",
        t.unknown,
        t.unpriced,
        t.cost_text(),
    ]
