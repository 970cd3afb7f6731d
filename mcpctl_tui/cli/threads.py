"""``mcpctl-tui threads AGENT`` and ``history THREAD``: find a thread, read it back.

``history`` prints the thread's current path; ``--tree`` every branch, each turn under
the one it follows (indented where a turn has several), the current path marked ``*``.

``chat --thread ID`` resumes a thread; these are how an operator finds the ID (the one
``chat`` printed is long gone) and sees what the thread holds, error and cancelled turns
included. Stored text is untrusted (model output, provider errors): the text view passes
it through ``for_terminal``; ``-o json`` escapes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from mcpctl_tui.chat.sanitize import for_terminal, one_line
from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.params import ROW_ID
from mcpctl_tui.cli.tables import table
from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.messages import Turn, all_messages, every_turn, last_messages
from mcpctl_tui.store.threads import ThreadSummary, get_thread, list_threads
from mcpctl_tui.store.types import MessageStatus


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


@main.command("threads")
@click.argument("agent")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Newest N."
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def threads_cmd(state: CliState, agent: str, limit: int, output: str) -> None:
    """List AGENT's chat threads, newest first (IDs for 'chat --thread' and 'history')."""

    async def go(store: Store) -> list[ThreadSummary]:
        async with store.session() as s:
            row = await get_agent_by_name(s, agent)
            if row is None:
                raise NotFound("agent", agent)
            return await list_threads(s, row.id, limit=limit)

    found = run(with_store(state.db_url(existing=True, writes=False), go))
    if output == "json":
        docs = [
            {
                "id": t.id,
                "title": t.title,
                "turns": t.turn_count,
                "createdAt": t.created_at.isoformat(),
                "lastTurnAt": t.last_turn_at.isoformat(),
                "usage": t.usage.as_json(),
            }
            for t in found
        ]
        click.echo(json.dumps(docs, indent=2))
    elif not found:
        click.echo(f"No threads for agent {agent}.", err=True)
    else:
        rows = [
            [t.id, t.turn_count, _when(t.last_turn_at), t.usage.tokens_text() or "-",
             t.usage.cost_text() or "-", t.title]
            for t in found
        ]  # fmt: skip
        click.echo(table(["ID", "TURNS", "LAST TURN (UTC)", "TOKENS", "COST", "TITLE"], rows))


def _heading(m: Turn) -> str:
    parts = [f"[{m.turn_index}] {m.role}", _when(m.created_at)]
    if m.status != MessageStatus.COMPLETE:
        parts.append(m.status.value)
    if m.personality:
        parts.append(f"as {m.personality}")
    if m.tool_call_id:
        parts.append(f"for {m.tool_call_id}")
    if m.tool_calls:
        names = ", ".join(str((c.get("function") or {}).get("name", "?")) for c in m.tool_calls)
        parts.append(f"tool calls: {names}")
    heading = one_line(" · ".join(parts), 400)
    return heading + (f"\nerror: {one_line(m.error, 400)}" if m.error else "")


def render_history(messages: Sequence[Turn]) -> str:
    """Each turn as a heading line, then its text (control characters removed)."""
    blocks = [f"{_heading(m)}\n{for_terminal(m.content)}".rstrip("\n") for m in messages]
    return "\n\n".join(blocks)


def render_tree(turns: Sequence[Turn]) -> str:
    """Every turn under the one it follows, one line of text each: a new indent where a
    turn has several continuations (branches), ``*`` on the current path."""
    below: dict[int | None, list[Turn]] = {}
    for t in turns:
        below.setdefault(t.parent_index, []).append(t)

    def nested(parent: int | None, depth: int) -> list[tuple[Turn, int]]:
        kids = below.get(parent, [])
        return [(t, depth + (len(kids) > 1)) for t in reversed(kids)]

    lines: list[str] = []
    stack = nested(None, 0)  # depth-first, without recursion: a long thread is deep
    while stack:
        t, depth = stack.pop()
        pad = "  " * depth
        branch = f" · branch {t.branch}/{t.branches}" if t.branches > 1 else ""
        lines.append(f"{pad}{'*' if t.on_path else ' '} {one_line(_heading(t), 400)}{branch}")
        if t.content:
            lines.append(f"{pad}    {one_line(t.content, 100)}")
        stack.extend(nested(t.turn_index, depth))
    return "\n".join(lines)


def _message_doc(m: Turn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "turn": m.turn_index,
        "parent": m.parent_index,
        "onPath": m.on_path,
        "role": m.role,
        "status": m.status.value,
        "content": m.content,
        "createdAt": m.created_at.isoformat(),
    }
    optional = {
        "error": m.error,
        "thinking": m.thinking,
        "toolCalls": m.tool_calls,
        "toolCallId": m.tool_call_id,
        "personality": m.personality,
        "model": m.model,
        "llm": m.llm,
        "usage": m.usage,
    }
    doc.update({k: v for k, v in optional.items() if v})
    return doc


@main.command("history")
@click.argument("thread_id", type=ROW_ID, metavar="THREAD")
@click.option("--last", type=click.IntRange(1), metavar="N", help="Only the last N turns.")
@click.option("--tree", is_flag=True, help="Every branch, not only the current path (marked '*').")
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def history_cmd(state: CliState, thread_id: int, last: int | None, tree: bool, output: str) -> None:
    """Print a thread's current path in order (role, time, status, text); --tree: every
    branch (JSON: every turn with its parent and whether it is on the path)."""
    if tree and last is not None:
        raise click.UsageError("--last and --tree do not go together")

    async def go(store: Store) -> list[Turn]:
        async with store.session() as s:
            await get_thread(s, thread_id)  # NotFound for an unknown id
            if tree:
                return await every_turn(s, thread_id)
            if last is not None:
                return await last_messages(s, thread_id, last)
            return await all_messages(s, thread_id)

    messages = run(with_store(state.db_url(existing=True, writes=False), go))
    if output == "json":
        click.echo(json.dumps([_message_doc(m) for m in messages], indent=2))
    elif messages and tree:
        click.echo(render_tree(messages))
    elif messages:
        click.echo(render_history(messages))
    else:
        click.echo(f"Thread {thread_id} has no turns.", err=True)
