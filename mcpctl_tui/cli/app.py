"""Opening the TUI (``mcpctl-tui`` with no command) and ``mcpctl-tui demo``."""

from __future__ import annotations

from pathlib import Path

import click

from mcpctl_tui.cli import CliState, main, run
from mcpctl_tui.store.engine import Store, open_store


async def _check_store(url: str) -> None:
    """Open (and migrate) once before the screen takes over, so a bad URL is a one-line
    CLI error instead of a crash inside the full-screen app."""
    store: Store = await open_store(url)
    await store.close()


async def _seed_demo(url: str) -> None:
    from mcpctl_tui.store.demo import seed_demo

    store = await open_store(url)
    try:
        await seed_demo(store)
    finally:
        await store.close()


def _open_app(
    url: str,
    agent: str | None = None,
    personality: str | None = None,
    thread_id: int | None = None,
    *,
    readonly: bool = False,
) -> None:
    # Textual is imported only when the screen opens: the other verbs stay quick.
    from mcpctl_tui.ui.app import McpctlApp
    from mcpctl_tui.ui.state import StartAt

    start = StartAt(agent=agent, personality=personality, thread_id=thread_id)
    McpctlApp(url, start=start, readonly=readonly).run()


def launch_tui(
    state: CliState,
    agent: str | None = None,
    personality: str | None = None,
    thread_id: int | None = None,
    *,
    readonly: bool = False,
) -> None:
    """Open the full-screen app on the configured database; ``readonly`` (or the config
    file's ``readonly: true``): every write is off."""
    from mcpctl_tui.config import ConfigError, load_settings

    try:
        readonly = readonly or load_settings().readonly
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    url = state.db_url(writes=not readonly)
    run(_check_store(url))
    _open_app(url, agent, personality, thread_id, readonly=readonly)


@main.command("demo")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The demo SQLite file (default: demo.sqlite3 in the data dir).",
)
@click.option("--reset", is_flag=True, help="Throw the demo database away and seed a new one.")
@click.option("--no-open", is_flag=True, help="Only create the database, print its URL.")
def demo(path: Path | None, reset: bool, no_open: bool) -> None:
    """Open the app on the demo database (an echo LLM, two agents, a few threads), seeded
    on first use; what you chat there stays until --reset."""
    from mcpctl_tui.config import data_dir, sqlite_not_writable

    if path is None:
        base = data_dir()
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(
                f"cannot create the data directory {base}: {exc.strerror}"
            ) from None
        path = base / "demo.sqlite3"
    why = sqlite_not_writable(path)
    if why is not None:
        raise click.ClickException(f"{why}: {CliState.READ_ONLY_HINT}")
    url = f"sqlite+aiosqlite:///{path}"
    if reset or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        run(_seed_demo(url))
    if no_open:
        click.echo(url)
        return
    _open_app(url)
