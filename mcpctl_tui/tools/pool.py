"""The MCP sessions of a running app: started once, reused, closed when idle and at exit.

Rules kept here:

- One session per server as specified: the same spec (name, transport, command, env,
  cwd, url, headers) reuses the running session; a spec that changed (the row was edited)
  starts a new one and the old one is closed.
- Callers racing for the same server start it once (a lock per server).
- A session that failed (its server died, stopped answering) is dropped at once, so the
  next use starts the server again instead of failing forever.
- A session unused for ``idle`` seconds is closed; ``aclose`` closes every session (the
  app's exit): a stdio server never outlives the pool's owner.
- Tool names are offered to a model as ``server__tool`` (``offers``): a function name
  every wire format accepts (letters, digits, ``_``, ``-``; at most 64), mapped back to
  the server and the tool without guessing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcpctl_tui.tools.mcp_session import McpError, McpSession, ServerSpec, ToolInfo, ToolResult

DEFAULT_IDLE = 300.0  # seconds a session may sit unused before it is closed
_SEP = "__"
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64

SpecKey = tuple[Any, ...]


def spec_key(spec: ServerSpec) -> SpecKey:
    return (
        spec.name,
        spec.transport,
        tuple(spec.command),
        tuple(sorted(spec.env.items())),
        spec.cwd,
        spec.url,
        tuple(sorted(spec.headers.items())),
    )


@dataclass
class _Entry:
    key: SpecKey
    session: McpSession
    tools: list[ToolInfo] | None = None
    used: float = 0.0


class SessionPool:
    def __init__(self, *, idle: float = DEFAULT_IDLE, start_timeout: float = 10.0) -> None:
        self.idle = idle
        self.start_timeout = start_timeout
        self._entries: dict[str, _Entry] = {}  # by server name
        self._locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    async def _entry(self, spec: ServerSpec) -> _Entry:
        if self._closed:
            raise McpError(f"mcp server {spec.name}: the app is closing")
        lock = self._locks.setdefault(spec.name, asyncio.Lock())
        async with lock:
            key = spec_key(spec)
            entry = self._entries.get(spec.name)
            if entry is not None and entry.key != key:  # the server was re-specified
                await self._drop(spec.name)
                entry = None
            if entry is None:
                session = McpSession(spec, timeout=self.start_timeout)
                await session.__aenter__()
                entry = self._entries[spec.name] = _Entry(key, session)
                self._watch_idle()
            entry.used = time.monotonic()
            return entry

    async def tools(self, spec: ServerSpec) -> list[ToolInfo]:
        """The server's tools (listed once per session)."""
        entry = await self._entry(spec)
        if entry.tools is None:
            try:
                entry.tools = await entry.session.list_tools()
            except McpError:
                await self._drop(spec.name)
                raise
        return entry.tools

    async def call(
        self,
        spec: ServerSpec,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float = 60.0,  # noqa: ASYNC109 - the tool's own bound, said as McpError
    ) -> ToolResult:
        """Call ``tool``; a server that fails (``McpError``) is dropped, then the error raised."""
        entry = await self._entry(spec)
        try:
            return await entry.session.call_tool(tool, arguments, timeout=timeout)
        except McpError:
            await self._drop(spec.name)
            raise
        finally:
            entry.used = time.monotonic()

    async def _drop(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            with contextlib.suppress(Exception):  # closing a dead session says nothing new
                await entry.session.__aexit__(None, None, None)

    def _watch_idle(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), name="mcp idle sessions")

    async def _reap(self) -> None:
        while self._entries:
            now = time.monotonic()
            oldest = min(e.used for e in self._entries.values())
            await asyncio.sleep(max(0.05, oldest + self.idle - now))
            now = time.monotonic()
            for name, entry in list(self._entries.items()):
                lock = self._locks.get(name)
                if now - entry.used >= self.idle and not (lock and lock.locked()):
                    await self._drop(name)

    async def aclose(self) -> None:
        """Close every session (and stop their servers); the pool takes no more work."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*(self._drop(name) for name in list(self._entries)))


@dataclass(frozen=True, slots=True)
class ToolOffer:
    """A tool as a model is offered it: its function name and where it goes."""

    function: str
    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]

    def as_function(self) -> dict[str, Any]:
        """The OpenAI-shaped function the adapters send (Anthropic's converts it)."""
        return {
            "type": "function",
            "function": {
                "name": self.function,
                "description": self.description,
                "parameters": self.input_schema or {"type": "object", "properties": {}},
            },
        }


def offers(tools: Sequence[ToolInfo]) -> list[ToolOffer]:
    """Each tool with a function name unique among them (``server__tool``, cleaned)."""
    out: list[ToolOffer] = []
    taken: set[str] = set()
    for t in tools:
        base = _NOT_ALLOWED.sub("_", f"{t.server}{_SEP}{t.name}")[:_MAX_NAME]
        name, n = base, 1
        while name in taken:  # two names that clean to one: numbered, never merged
            n += 1
            suffix = f"_{n}"
            name = base[: _MAX_NAME - len(suffix)] + suffix
        taken.add(name)
        out.append(ToolOffer(name, t.server, t.name, t.description, dict(t.input_schema)))
    return out
