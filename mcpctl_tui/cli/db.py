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
    from mcpctl_tui.store.migrate import current_revision, head_revision, upgrade_to_head

    async def go() -> tuple[str | None, str | None]:
        store = await open_store(state.db_url(), migrate=False)
        try:
            before = await current_revision(store.engine)
            await upgrade_to_head(store.engine)
            return before, await current_revision(store.engine)
        finally:
            await store.close()

    before, after = run(go())
    if before == after:
        click.echo(f"database is at the newest revision ({after})")
    else:
        click.echo(
            f"database upgraded from {before or 'empty'} to {after} (head {head_revision()})"
        )


@db_group.command("current")
@click.pass_obj
def current(state: CliState) -> None:
    """Show the database's schema revision and whether it is the newest (does not migrate)."""
    from mcpctl_tui.store.engine import open_store
    from mcpctl_tui.store.migrate import current_revision, head_revision

    async def go() -> str | None:
        store = await open_store(state.db_url(), migrate=False)
        try:
            return await current_revision(store.engine)
        finally:
            await store.close()

    revision = run(go())
    head = head_revision()
    if revision is None:
        click.echo(f"none (empty database; head is {head}; run `mcpctl-tui db upgrade`)")
    elif revision == head:
        click.echo(f"{revision} (head)")
    else:
        from mcpctl_tui.store.migrate import SchemaTooNew, is_known_revision

        if is_known_revision(revision):
            click.echo(f"{revision} (not head: head is {head}; run `mcpctl-tui db upgrade`)")
        else:
            raise click.ClickException(str(SchemaTooNew(revision, head)))
