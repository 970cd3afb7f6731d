"""Real MCP servers for the tests, written with the SDK (``MCPServer``), and their specs.

Over stdio or streamable HTTP (127.0.0.1, path ``/mcp``)::

    python -m tests.support.mcp_servers stdio
    python -m tests.support.mcp_servers http PORT

Tools:

- ``echo(text) -> text``; ``add(a, b) -> a + b``;
- ``fail(message)``: raises ``ToolError(message)`` (the message reaches the client);
- ``crash()``: raises a plain exception (the SDK hides its text: the client sees only
  "Error executing tool crash");
- ``sleep(seconds) -> "slept"``: a slow tool, for timeouts and cancellation;
- ``hostile() -> text`` with ANSI escapes, Rich markup and a NUL: untrusted text, which
  the client must hand over verbatim (the caller sanitises);
- ``exit_now(code)``: the server process exits at once (``os._exit``), mid-call;
- ``getenv(name) -> value`` (empty if unset): what environment the server was given;
- ``header(name) -> value`` (empty if absent): a header of the HTTP request (HTTP only).

For the tests: ``stdio_spec()`` is the ``ServerSpec`` that runs the stdio server, and
``async with http_server(headers=...) as spec`` runs the HTTP server as a subprocess on a
free port until the block ends (the spec sends ``headers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mcpctl_tui.tools.mcp_session import ServerSpec
from tests.support import REPO_ROOT

HOSTILE_TEXT = (
    "\x1b[31mred\x1b[0m [bold]bold[/bold] [link=http://x]x[/link] nul:\x00 end\x1b]0;t\x07"
)


def build_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("mcpctl-test", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(message: str) -> str:
        """Fail with the given message."""
        raise ToolError(message)

    @server.tool()
    def crash() -> str:
        """Raise an unexpected exception."""
        raise RuntimeError("secret internals")

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return "slept"

    @server.tool()
    def hostile() -> str:
        """Return untrusted text: terminal escapes, markup, a NUL."""
        return HOSTILE_TEXT

    @server.tool()
    def exit_now(code: int) -> str:
        """End the server process at once, without answering."""
        os._exit(code)

    @server.tool()
    def getenv(name: str) -> str:
        """The value of an environment variable of the server ("" if unset)."""
        return os.environ.get(name, "")

    @server.tool()
    def header(name: str, ctx: Context) -> str:
        """The value of a header of this HTTP request ("" if absent)."""
        return (ctx.headers or {}).get(name.lower(), "")

    return server


def stdio_spec(name: str = "fs") -> ServerSpec:
    """The stdio test server as a spec (run from the repository root)."""
    return ServerSpec(
        name=name,
        transport="stdio",
        command=(sys.executable, "-m", "tests.support.mcp_servers", "stdio"),
        env={"PYTHONPATH": str(REPO_ROOT)},
        cwd=str(REPO_ROOT),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_listening(port: int, proc: asyncio.subprocess.Process, limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"mcp test server exited with {proc.returncode} before listening")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mcp test server not listening on {port} after {limit} s"
                ) from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def http_server(
    name: str = "web", *, headers: Mapping[str, str] | None = None, limit: float = 30.0
) -> AsyncIterator[ServerSpec]:
    """The HTTP test server as a subprocess on a free port; killed when the block ends."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.mcp_servers",
        "http",
        str(port),
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_listening(port, proc, limit)
        url = f"http://127.0.0.1:{port}/mcp"
        yield ServerSpec(name=name, transport="http", url=url, headers=dict(headers or {}))
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def main(argv: list[str]) -> None:
    server = build_server()
    if argv[:1] == ["stdio"]:
        server.run("stdio")
    elif len(argv) == 2 and argv[0] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(argv[1]))
    else:
        sys.exit("usage: python -m tests.support.mcp_servers stdio | http PORT")


if __name__ == "__main__":
    main(sys.argv[1:])
