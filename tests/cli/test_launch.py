"""``mcpctl-tui demo`` and opening the TUI from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from mcpctl_tui.cli import main
from mcpctl_tui.store.agents import list_agent_rows
from mcpctl_tui.store.demo import ECHO_LLM
from mcpctl_tui.store.engine import open_store


def test_demo_keeps_its_database_until_reset(tmp_path: Path) -> None:
    """A second ``demo`` opens the same database (what was chatted there stays); with
    ``--reset`` it is thrown away and seeded anew."""
    db = tmp_path / "demo.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    runner = CliRunner()

    def demo(*extra: str) -> None:
        result = runner.invoke(main, ["demo", "--path", str(db), "--no-open", *extra])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == url

    async def agents() -> list[str]:
        store = await open_store(url)
        try:
            async with store.session() as s:
                return [r.name for r in await list_agent_rows(s)]
        finally:
            await store.close()

    demo()
    assert asyncio.run(agents()) == ["ops", "writer"]
    added = runner.invoke(
        main, ["--db", url, "apply", "-f", "-"], input=f"kind: agent\nname: mine\nllm: {ECHO_LLM}\n"
    )
    assert added.exit_code == 0, added.output
    demo()  # kept
    assert asyncio.run(agents()) == ["mine", "ops", "writer"]
    demo("--reset")  # fresh, and seeding does not trip over the old rows
    assert asyncio.run(agents()) == ["ops", "writer"]


def test_tui_on_an_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/nothing"
    result = CliRunner().invoke(main, ["--db", url])
    assert result.exit_code != 0
    assert "cannot open database" in result.output
    assert "Traceback" not in result.output
