"""A thread as Markdown or JSON (what the UI's export writes).

Markdown is for reading: the current path. JSON is for keeping: every turn of every
branch, each with the turn it follows (``parent``) and whether it is on the current path
(``onPath``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcpctl_tui.store.messages import Turn as TurnRow


def thread_to_json(title: str, thread_id: int, rows: Sequence[TurnRow]) -> str:
    """The thread's ``rows`` (every turn, see ``messages.every_turn``) as JSON."""
    turns: list[dict[str, Any]] = []
    for r in rows:
        turn: dict[str, Any] = {
            "turn": r.turn_index,
            "parent": r.parent_index,
            "onPath": r.on_path,
            "role": r.role,
            "content": r.content,
        }
        if r.status != "complete":
            turn["status"] = r.status.value
        for key in ("tool_calls", "tool_call_id", "error", "personality", "model", "usage"):
            value = getattr(r, key)
            if value:
                turn[key] = value
        if r.created_at is not None:
            turn["at"] = r.created_at.isoformat()
        turns.append(turn)
    return json.dumps({"id": thread_id, "title": title, "turns": turns}, indent=2) + "\n"


def thread_to_markdown(title: str, rows: Sequence[TurnRow]) -> str:
    out = [f"# {title or 'Untitled thread'}", ""]
    for r in rows:
        head = f"## {r.role}"
        if r.status != "complete":
            head += f" ({r.status.value})"
        out += [head, ""]
        if r.content:
            out += [r.content, ""]
        for call in r.tool_calls or []:
            fn = call.get("function") or {}
            out += [
                f"Tool call `{fn.get('name', '?')}`:",
                "",
                "```json",
                str(fn.get("arguments", "")),
                "```",
                "",
            ]
        if r.error:
            out += [f"> error: {r.error}", ""]
    return "\n".join(out)
