"""``mcpctl-tui search QUERY``: find stored turns by their text (store/search.py).

The query is the backend's own full-text syntax (FTS5 on SQLite, ``to_tsquery`` /
``websearch_to_tsquery`` on PostgreSQL); text that is not valid syntax is searched as
plain words. The table marks each match as «match»; ``-o json`` gives the snippet and
the matched spans. Snippets are stored text, untrusted: the table passes them through
``for_terminal``, JSON escapes them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click

from mcpctl_tui.chat.sanitize import for_terminal
from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.params import AGE
from mcpctl_tui.cli.tables import table
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.search import Hit, SearchFilter, search_turns
from mcpctl_tui.store.types import utcnow

SNIPPET_WIDTH = 80


def marked(hit: Hit) -> str:
    """The snippet for the terminal, each match between « and »."""
    parts, at = [], 0
    for start, end in hit.marks:
        parts += [hit.snippet[at:start], "«", hit.snippet[start:end], "»"]
        at = end
    parts.append(hit.snippet[at:])
    return for_terminal("".join(parts))


@main.command("search")
@click.argument("query")
@click.option("--agent", metavar="NAME", help="Only this agent's threads.")
@click.option("--llm", metavar="NAME", help="Only threads of agents using this LLM.")
@click.option("--since", type=AGE, metavar="AGE", help="Only turns newer than this: 12h, 7d, 2w.")
@click.option("--role", type=click.Choice(["user", "assistant", "tool"]), help="Only these turns.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Newest N hits."
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def search_cmd(
    state: CliState,
    query: str,
    agent: str | None,
    llm: str | None,
    since: float | None,
    role: str | None,
    limit: int,
    output: str,
) -> None:
    """Find stored turns by their text, newest first: thread, turn, agent, when, and a
    snippet with each match marked. Phrases ("disk full") and prefixes (SQLite: deploy*,
    PostgreSQL: deploy:*) in the backend's syntax; other text is searched as words."""
    where = SearchFilter(
        agent=agent,
        llm=llm,
        role=role,
        since=utcnow() - timedelta(seconds=since) if since is not None else None,
    )

    async def go(store: Store) -> list[Hit]:
        async with store.session() as s:
            return await search_turns(s, query, where, limit=limit)

    hits = run(with_store(state.db_url(existing=True, writes=False), go))
    if output == "json":
        docs = [
            {
                "thread": h.thread_id,
                "turn": h.turn_index,
                "role": h.role,
                "agent": h.agent,
                "threadTitle": h.thread_title,
                "createdAt": h.created_at.isoformat(),
                "snippet": h.snippet,
                "marks": [list(m) for m in h.marks],
            }
            for h in hits
        ]
        click.echo(json.dumps(docs, indent=2))
    elif not hits:
        click.echo(f"No turns match {for_terminal(query)!r}.", err=True)
    else:
        rows = [
            [h.thread_id, h.turn_index, h.role, h.agent, h.created_at.strftime("%Y-%m-%d %H:%M"),
             _cut(marked(h))]
            for h in hits
        ]  # fmt: skip
        click.echo(table(["THREAD", "TURN", "ROLE", "AGENT", "WHEN (UTC)", "SNIPPET"], rows))


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_WIDTH else text[: SNIPPET_WIDTH - 1] + "…"
