"""The ``mcpserver`` kind on both backends: apply, get (re-applies unchanged), the
refusals (transport rules, references only, never echoing a value), delete by name and
project, and a project's delete taking its servers with it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.manifest import Kind, ManifestError, apply_manifest, dump_yaml, get_objects
from mcpctl_tui.store.manifest.delete import delete_named
from mcpctl_tui.store.models import McpServer
from mcpctl_tui.store.tool_rules import Policy, policy_for, tool_rules

SERVERS = """\
kind: project
name: ops
---
kind: project
name: web
---
kind: mcpserver
name: fs
project: ops
transport: stdio
command: [npx, -y, "@modelcontextprotocol/server-filesystem", /srv]
env: {FS_TOKEN: "env:FS_TOKEN"}
cwd: /srv
description: files of the fleet
---
kind: mcpserver
name: search
project: ops
transport: http
url: https://mcp.example.com/mcp
headers: {Authorization: "env:SEARCH_BEARER"}
---
kind: mcpserver
name: fs
project: web
transport: stdio
command: [mcp-fs]
"""


async def _apply(store: Store, text: str) -> list[str]:
    return [str(r) for r in await apply_manifest(store, [(None, text)])]


async def test_apply_get_and_reapply_unchanged(store: Store) -> None:
    assert await _apply(store, SERVERS) == [
        "project/ops created",
        "project/web created",
        "mcpserver/fs (project ops) created",
        "mcpserver/search (project ops) created",
        "mcpserver/fs (project web) created",
    ]
    async with store.session() as s:
        items = await get_objects(s, Kind.MCPSERVER)
        ops_only = await get_objects(s, Kind.MCPSERVER, project="ops")
    assert [(e.doc.name, e.doc.project) for e in items] == [
        ("fs", "ops"),
        ("search", "ops"),
        ("fs", "web"),
    ]
    assert [e.label for e in ops_only] == [
        "mcpserver/fs (project ops)",
        "mcpserver/search (project ops)",
    ]
    text = dump_yaml(items)
    assert "FS_TOKEN: env:FS_TOKEN" in text and "Authorization: env:SEARCH_BEARER" in text
    assert items[0].facts["where"].startswith("npx -y")
    assert items[1].facts["where"] == "https://mcp.example.com/mcp"
    again = await _apply(store, text)
    assert again == [
        "mcpserver/fs (project ops) unchanged",
        "mcpserver/search (project ops) unchanged",
        "mcpserver/fs (project web) unchanged",
    ]
    # A field changed in place; one left out goes back to its default.
    changed = text.replace("- /srv", "- /data").replace("description: files of the fleet\n", "")
    assert "mcpserver/fs (project ops) configured" in await _apply(store, changed)
    async with store.session() as s:
        row = (await s.execute(select(McpServer).where(McpServer.cwd == "/srv"))).scalar_one()
    assert (row.command[-1], row.description) == ("/data", "")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("transport: ftp\ncommand: [x]", "transport must be stdio or http"),
        ("transport: stdio", "a stdio server needs its command"),
        ("transport: stdio\ncommand: []", "a stdio server needs its command"),
        ("transport: stdio\ncommand: [x]\nurl: http://h/mcp", "url is for transport http"),
        ("transport: http\nurl: ftp://h", "an http server needs its url"),
        ("transport: http", "an http server needs its url"),
        ("transport: http\nurl: http://h/mcp\ncommand: [x]", "command is for transport stdio"),
        ("transport: stdio\ncommand: x", "command must be a list of strings"),
        ("transport: stdio\ncommand: [x]\nenv: {TOKEN: sk-live-abc123}", "env.TOKEN"),
        ("transport: stdio\ncommand: [x]\nenv: {1BAD: env:X}", "not an environment variable name"),
        (
            "transport: http\nurl: http://h/mcp\nheaders: {Authorization: Bearer sk-live-abc123}",
            "must be a key reference",
        ),
        (
            "transport: http\nurl: http://h/mcp\nheaders: {'bad header': env:X}",
            "not an HTTP header name",
        ),
        ("command: [x]", "missing field 'transport'"),
    ],
)
async def test_refusals_name_the_field_and_never_the_value(
    store: Store, body: str, reason: str
) -> None:
    text = f"kind: project\nname: ops\n---\nkind: mcpserver\nname: fs\nproject: ops\n{body}\n"
    with pytest.raises(ManifestError) as caught:
        await _apply(store, text)
    assert reason in str(caught.value)
    assert "sk-live" not in str(caught.value)
    async with store.session() as s:
        assert (await s.execute(select(func.count()).select_from(McpServer))).scalar() == 0


async def test_an_unknown_project_writes_nothing(store: Store) -> None:
    text = "kind: mcpserver\nname: fs\nproject: nowhere\ntransport: stdio\ncommand: [x]\n"
    with pytest.raises(ManifestError, match="project 'nowhere' not found"):
        await _apply(store, text)


async def test_delete_by_name_and_project_and_with_the_project(store: Store) -> None:
    await _apply(store, SERVERS)
    async with store.transaction() as s:
        with pytest.raises(Invalid, match="exists in projects ops, web; choose one with --project"):
            await delete_named(s, Kind.MCPSERVER, "fs")
    async with store.transaction() as s:
        done = await delete_named(s, Kind.MCPSERVER, "fs", project="web")
        assert str(done) == "mcpserver/fs (project web) deleted"
    async with store.transaction() as s:
        with pytest.raises(NotFound, match="mcpserver fs of project web not found"):
            await delete_named(s, Kind.MCPSERVER, "fs", project="web")
    async with store.transaction() as s:
        gone = await delete_named(s, Kind.PROJECT, "ops")
    assert str(gone) == "project/ops deleted (0 prompts, 2 MCP servers, 0 agents detached)"
    async with store.session() as s:
        assert (await s.execute(select(func.count()).select_from(McpServer))).scalar() == 0


AGENT = """\
kind: llm
name: echo
type: echo
---
kind: agent
name: helper
llm: echo
project: ops
extras:
  tools: {tools}
"""


async def test_an_agents_tools_name_servers_of_its_project(store: Store) -> None:
    await _apply(store, SERVERS)
    good = '[fs/read_file, {tool: "search/*", policy: auto}, {tool: fs/rm, policy: deny}]'
    assert "agent/helper created" in await _apply(store, AGENT.format(tools=good))
    async with store.session() as s:
        (agent,) = await get_objects(s, Kind.AGENT, "helper")
    assert agent.doc.extras["tools"][1] == {"tool": "search/*", "policy": "auto"}
    for tools, reason in [
        ("fs", "extras.tools must be a list of server/tool entries"),
        ("[fs]", "extras.tools[0] must name server/tool or server/*"),
        ("[{tool: fs/x, policy: sometimes}]", "extras.tools[0].policy must be ask, auto or deny"),
        ("[fs/x, fs/x]", "extras.tools[1] names fs/x twice"),
        ("[web/x]", "extras.tools[0]: project 'ops' has no MCP server 'web'"),
        ("[{tool: fs/x, when: never}]", "extras.tools[0] has unknown field 'when'"),
    ]:
        with pytest.raises(ManifestError) as caught:
            await _apply(store, AGENT.format(tools=tools))
        assert reason in str(caught.value), tools
    homeless = AGENT.format(tools="[fs/x]").replace("project: ops\n", "")
    with pytest.raises(ManifestError, match="an agent without a project has no MCP tools"):
        await _apply(store, homeless)


def test_the_most_specific_rule_decides() -> None:
    rules = tool_rules({"tools": ["fs/*", {"tool": "fs/rm", "policy": "deny"}, "web/get"]})
    assert [r.name for r in rules] == ["fs/*", "fs/rm", "web/get"]
    assert policy_for(rules, "fs", "read") is Policy.ASK
    assert policy_for(rules, "fs", "rm") is Policy.DENY
    assert policy_for(rules, "web", "get") is Policy.ASK
    assert policy_for(rules, "web", "post") is None  # not on the list: not allowed
    assert policy_for(rules, "other", "get") is None
    assert tool_rules({}) == [] and tool_rules(None) == []
