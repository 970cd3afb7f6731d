"""Opening the TUI (``mcpctl-tui`` with no command) and ``mcpctl-tui demo``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from mcpctl_tui.cli import CliState, main, run
from mcpctl_tui.config import ConfigError
from mcpctl_tui.store.engine import Store, StoreError, open_store


async def _run_app(
    url: str, *, agent: str | None, personality: str | None, thread_id: int | None, seed: bool
) -> None:
    from mcpctl_tui.ui.app import McpctlApp, StartAt
    from mcpctl_tui.ui.engine import make_backend

    store: Store = await open_store(url)
    try:
        if seed:
            from mcpctl_tui.store.demo import seed_demo

            await seed_demo(store)
        app = McpctlApp(
            store,
            make_backend(store),
            start=StartAt(agent=agent, personality=personality, thread_id=thread_id),
        )
        await app.run_async()
    finally:
        await store.close()


def launch_tui(
    state: CliState,
    agent: str | None = None,
    personality: str | None = None,
    thread_id: int | None = None,
) -> None:
    """Open the full-screen app on the configured database."""
    run(
        _run_app(
            state.db_url(), agent=agent, personality=personality, thread_id=thread_id, seed=False
        )
    )


@main.command("demo")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to create the demo SQLite file (default: a fresh file in the data dir).",
)
@click.option("--no-open", is_flag=True, help="Only create the database, print its URL.")
def demo(path: Path | None, no_open: bool) -> None:
    """Open the app on a fresh demo database: an echo LLM, two agents, a few threads."""
    from mcpctl_tui.config import data_dir

    if path is None:
        base = data_dir()
        base.mkdir(parents=True, exist_ok=True)
        path = base / "demo.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    if no_open:

        async def seed_only() -> None:
            from mcpctl_tui.store.demo import seed_demo

            store = await open_store(url)
            try:
                await seed_demo(store)
            finally:
                await store.close()

        run(seed_only())
        click.echo(url)
        return
    try:
        asyncio.run(_run_app(url, agent=None, personality=None, thread_id=None, seed=True))
    except (StoreError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
