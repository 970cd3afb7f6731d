"""``mcpctl-tui db upgrade|current``."""

from __future__ import annotations

import click

from mcpctl_tui.cli import CliState, main, run


@main.group("db")
def db_group() -> None:
    """Database schema: upgrade, show the current revision."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade(state: CliState) -> None:
    """Migrate the database to the newest schema."""
    from mcpctl_tui.store.engine import open_store

    async def go() -> None:
        store = await open_store(state.db_url(), migrate=True)
        await store.close()

    run(go())
    click.echo("database is at the newest revision")
