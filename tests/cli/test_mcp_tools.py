"""``mcp tools NAME``: a stored server really started (stdio) or reached (HTTP) and its
tools listed; what cannot start, resolve or answer is one line and exit 1.

On SQLite only: the store's part (``find_mcpserver``, the manifest kind) is tested on
both backends in tests/store; here the processes are what costs (seconds per backend)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from tests.support.cli_runs import run_cli
from tests.support.mcp_servers import http_server

STDIO = f"""\
kind: project
name: ops
---
kind: mcpserver
name: fs
project: ops
transport: stdio
command: [{sys.executable}, -m, tests.support.mcp_servers, stdio]
cwd: {REPO_ROOT}
env: {{TEST_TOKEN: env:MCPCTL_KEY_TEST_TOKEN}}
---
kind: mcpserver
name: broken
project: ops
transport: stdio
command: [nosuch-mcp-command]
"""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'mcp.db'}"


async def _applied(db_url: str, tmp_path: Path, text: str) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(text)
    res = await run_cli(db_url, "apply", "-f", str(path))
    assert res.code == 0, res.err


async def test_list_a_stdio_servers_tools(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path, STDIO)
    token = {"MCPCTL_KEY_TEST_TOKEN": "t0ken-value"}
    res = await run_cli(db_url, "mcp", "tools", "fs", env=token)
    assert res.code == 0, res.err
    header, *rows = res.out.splitlines()
    assert header.split() == ["TOOL", "DESCRIPTION", "ARGUMENTS"]
    by_name = {r.split()[0]: r for r in rows}
    assert {"echo", "add", "fail", "sleep", "hostile"} <= set(by_name)
    assert "a: integer (required), b: integer (required)" in by_name["add"]
    docs = json.loads((await run_cli(db_url, "mcp", "tools", "fs", "-o", "json", env=token)).out)
    add = next(d for d in docs if d["name"] == "add")
    assert add["inputSchema"]["required"] == ["a", "b"]
    assert "t0ken-value" not in res.out + res.err

    unset = await run_cli(db_url, "mcp", "tools", "fs")
    assert unset.code == 1
    assert unset.err.startswith("Error: mcp server fs: env TEST_TOKEN: ")
    assert "MCPCTL_KEY_TEST_TOKEN is not set" in unset.err and unset.err.count("\n") == 1
    broken = await run_cli(db_url, "mcp", "tools", "broken")
    assert broken.code == 1
    assert broken.err == (
        "Error: mcp server broken: cannot start 'nosuch-mcp-command' (No such file or directory)\n"
    )
    missing = await run_cli(db_url, "mcp", "tools", "nosuch")
    assert (missing.code, missing.err) == (1, "Error: mcpserver nosuch not found\n")


async def test_list_an_http_servers_tools(db_url: str, tmp_path: Path) -> None:
    async with http_server("web") as spec:
        text = "kind: project\nname: ops\n---\nkind: mcpserver\nname: web\nproject: ops\n"
        text += f"transport: http\nurl: {spec.url}\n"
        await _applied(db_url, tmp_path, text)
        res = await run_cli(db_url, "mcp", "tools", "web", "--project", "ops")
    assert res.code == 0, res.err
    assert any(line.startswith("echo ") for line in res.out.splitlines())
    gone = await run_cli(db_url, "mcp", "tools", "web", "--timeout", "3")
    assert gone.code == 1 and gone.err.startswith("Error: mcp server web: ")
    assert gone.err.count("\n") == 1
