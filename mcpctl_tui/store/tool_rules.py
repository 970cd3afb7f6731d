"""Which MCP tools an agent may use, and how a call is approved: ``extras.tools``.

The agent's manifest says it, as a list:

    extras:
      tools:
        - fs/read_file                           # ask (the default policy)
        - {tool: fs/*, policy: auto}             # every tool of server fs
        - {tool: search/delete, policy: deny}

Rules kept here (one parser, for ``apply`` and for the chat engine's tool loop):

- An entry names ``server/tool`` or ``server/*``; the server is one of the agent's
  project's MCP servers (an agent without a project has no MCP tools).
- The policy is ``ask`` (the operator approves each call), ``auto`` or ``deny``.
- The most specific entry wins: ``server/tool`` over ``server/*``; a tool no entry names
  is not allowed at all (its calls are refused, never run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Policy(StrEnum):
    ASK = "ask"
    AUTO = "auto"
    DENY = "deny"


ANY_TOOL = "*"
_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_ENTRY = re.compile(rf"({_PART})/({_PART}|\*)")


class BadToolRule(ValueError):
    """An entry of ``extras.tools`` that cannot be read; ``path`` is its place
    (``[2].policy``) under ``extras.tools``."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class ToolRule:
    server: str
    tool: str  # a tool name, or ANY_TOOL
    policy: Policy = Policy.ASK

    @property
    def name(self) -> str:
        return f"{self.server}/{self.tool}"


def tool_rules(extras: Mapping[str, Any] | None) -> list[ToolRule]:
    """The agent's rules, in order; ``BadToolRule`` for an entry that cannot be read."""
    raw = (extras or {}).get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadToolRule("must be a list of server/tool entries", "")
    rules: list[ToolRule] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        name, policy = entry, Policy.ASK
        if isinstance(entry, dict):
            unknown = set(entry) - {"tool", "policy"}
            if unknown:
                raise BadToolRule(f"[{i}] has unknown field {sorted(unknown)[0]!r}", f"[{i}]")
            name = entry.get("tool")
            try:
                policy = Policy(entry.get("policy", Policy.ASK))
            except ValueError:
                raise BadToolRule(f"[{i}].policy must be ask, auto or deny", f"[{i}]") from None
        if not isinstance(name, str) or not (m := _ENTRY.fullmatch(name)):
            raise BadToolRule(f"[{i}] must name server/tool or server/*", f"[{i}]")
        if name in seen:
            raise BadToolRule(f"[{i}] names {name} twice", f"[{i}]")
        seen.add(name)
        rules.append(ToolRule(m.group(1), m.group(2), policy))
    return rules


def policy_for(rules: Sequence[ToolRule], server: str, tool: str) -> Policy | None:
    """How a call of ``server``'s ``tool`` is approved; None: the tool is not allowed."""
    exact = next((r for r in rules if r.server == server and r.tool == tool), None)
    if exact is not None:
        return exact.policy
    wild = next((r for r in rules if r.server == server and r.tool == ANY_TOOL), None)
    return wild.policy if wild is not None else None
