"""``apply``, ``get mcpservers`` and ``delete mcpserver`` from the shell."""

from __future__ import annotations

from pathlib import Path

from tests.store.test_manifest_mcpservers import SERVERS
from tests.support.cli_runs import run_cli


async def test_apply_get_and_delete_mcpservers(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(SERVERS)
    applied = await run_cli(db_url, "apply", "-f", str(path))
    assert applied.code == 0, applied.err
    listed = await run_cli(db_url, "get", "mcpservers")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split()[:5] == ["NAME", "PROJECT", "TRANSPORT", "COMMAND", "/"]
    assert [r.split()[:3] for r in rows] == [
        ["fs", "ops", "stdio"],
        ["search", "ops", "http"],
        ["fs", "web", "stdio"],
    ]
    one = await run_cli(db_url, "get", "mcp", "fs", "--project", "web", "-o", "yaml")
    assert (
        one.out
        == "---\nkind: mcpserver\nname: fs\nproject: web\ntransport: stdio\ncommand:\n- mcp-fs\n"
    )
    wrong = await run_cli(db_url, "get", "mcpservers", "--agent", "x")
    assert wrong.code == 2 and "--agent applies to prompts and personalities only" in wrong.err
    ambiguous = await run_cli(db_url, "delete", "mcpserver", "fs")
    assert ambiguous.code == 1 and "choose one with --project" in ambiguous.err
    gone = await run_cli(db_url, "delete", "mcpserver", "fs", "--project", "web")
    assert (gone.code, gone.out) == (0, "mcpserver/fs (project web) deleted\n")
    left = await run_cli(db_url, "get", "mcpservers", "-o", "yaml")
    assert left.out.count("kind: mcpserver") == 2
