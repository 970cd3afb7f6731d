"""A stored MCP server (``mcp_server`` row) as a session can start it.

The row holds key references for ``env`` and ``headers``; they are resolved here, when a
session is about to start, under the operator's ``key_refs`` patterns (as an LLM's API
key is). A reference that is not allowed or does not resolve is a one-line ``McpError``
naming the server and the variable, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from mcpctl_tui.secrets import DEFAULT_KEY_REFS, KeyRefError, resolve_key_ref
from mcpctl_tui.store.models import McpServer
from mcpctl_tui.tools.mcp_session import McpError, ServerSpec


def _resolved(
    name: str, what: str, refs: Mapping[str, str], allowed: Sequence[str]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, ref in refs.items():
        try:
            value = resolve_key_ref(ref, allowed)
        except KeyRefError as exc:
            raise McpError(f"mcp server {name}: {what} {key}: {exc}") from None
        out[key] = value or ""
    return out


def server_spec(row: McpServer, allowed: Sequence[str] = DEFAULT_KEY_REFS) -> ServerSpec:
    """``row`` with its references resolved (``McpError`` when one cannot be)."""
    transport: Literal["stdio", "http"] = "http" if row.transport == "http" else "stdio"
    return ServerSpec(
        name=row.name,
        transport=transport,
        command=tuple(row.command or ()),
        env=_resolved(row.name, "env", row.env or {}, allowed),
        cwd=row.cwd,
        url=row.url,
        headers=_resolved(row.name, "header", row.headers or {}, allowed),
    )
