"""``mcpctl-tui demo`` and opening the TUI from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from mcpctl_tui.cli import main
from mcpctl_tui.store.agents import list_agent_rows
from mcpctl_tui.store.engine import open_store


def test_demo_creates_a_fresh_demo_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    runner = CliRunner()
    for _ in range(2):  # a second run starts fresh instead of failing on existing rows
        result = runner.invoke(main, ["demo", "--path", str(db), "--no-open"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"sqlite+aiosqlite:///{db}"

    async def agents() -> list[str]:
        store = await open_store(f"sqlite+aiosqlite:///{db}")
        try:
            async with store.session() as s:
                return [r.name for r in await list_agent_rows(s)]
        finally:
            await store.close()

    assert asyncio.run(agents()) == ["ops", "writer"]


def test_tui_on_an_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/nothing"
    result = CliRunner().invoke(main, ["--db", url])
    assert result.exit_code != 0
    assert "cannot open database" in result.output
    assert "Traceback" not in result.output
