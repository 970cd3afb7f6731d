"""``mcpctl-tui mcp tools NAME``: the tools an MCP server offers, by really asking it.

The server is started (or connected to) through the same session the chat engine uses
(``tools/mcp_session.py``) and stopped afterwards. Its tool names and descriptions are
untrusted text: the table passes them through ``one_line``. A server that cannot start,
exits or does not answer is one line on stderr and exit 1.
"""

from __future__ import annotations

import json

import click

from mcpctl_tui.chat.sanitize import one_line
from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.tables import table
from mcpctl_tui.store.catalog import find_mcpserver
from mcpctl_tui.store.engine import Store


@main.group("mcp")
def mcp_group() -> None:
    """MCP servers of projects (kind mcpserver: see 'get mcpservers')."""


@mcp_group.command("tools")
@click.argument("name")
@click.option(
    "--project", metavar="NAME", help="The server's project (when the name is in several)."
)
@click.option(
    "--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
    help="Seconds to wait for the server to start and answer.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def tools_cmd(state: CliState, name: str, project: str | None, timeout: float, output: str) -> None:
    """List the tools of MCP server NAME: name, description, arguments."""
    from mcpctl_tui.config import load_settings
    from mcpctl_tui.tools.mcp_session import McpError, ToolInfo, list_server_tools
    from mcpctl_tui.tools.servers import server_spec

    allowed = load_settings().key_refs

    async def go(store: Store) -> list[ToolInfo]:
        async with store.session() as s:
            row, _owner = await find_mcpserver(s, name, project)
            spec = server_spec(row, allowed)
        return await list_server_tools(spec, timeout=timeout)

    try:
        found = run(with_store(state.db_url(existing=True, writes=False), go))
    except McpError as exc:
        raise click.ClickException(str(exc)) from None
    if output == "json":
        docs = [
            {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
            for t in found
        ]
        click.echo(json.dumps(docs, indent=2))
        return
    if not found:
        click.echo(f"MCP server {name} offers no tools.", err=True)
        return
    rows = [[one_line(t.name, 80), one_line(t.description, 80), one_line(t.schema_summary(), 120)]
            for t in found]  # fmt: skip
    click.echo(table(["TOOL", "DESCRIPTION", "ARGUMENTS"], rows))
