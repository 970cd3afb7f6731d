"""``mcpctl-tui gc``: one lifecycle sweep (or ``--watch`` to keep sweeping)."""

from __future__ import annotations

import asyncio
import signal

import click

from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.params import SECONDS
from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT, ConfigError, Settings, load_settings
from mcpctl_tui.store.engine import Store


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("gc")
@click.option(
    "--heartbeat-timeout",
    type=SECONDS,
    help="Seconds without heartbeat before a virtual row goes inactive"
    f" (config file, else {DEFAULT_HEARTBEAT_TIMEOUT:g}).",
)
@click.option(
    "--inactive-ttl",
    type=SECONDS,
    help="Seconds inactive before a virtual row is deleted (default: config file, else 4 h).",
)
@click.option(
    "--pending-ttl",
    type=SECONDS,
    help="Seconds a task may stay unclaimed (default: config file, else 1 h).",
)
@click.option(
    "--finished-ttl",
    type=SECONDS,
    help="Seconds a finished task is kept (default: config file, else 7 days).",
)
@click.option(
    "--watch",
    "interval",
    type=SECONDS,
    metavar="INTERVAL",
    help="Keep sweeping every INTERVAL seconds until interrupted.",
)
@click.pass_obj
def gc(
    state: CliState,
    heartbeat_timeout: float | None,
    inactive_ttl: float | None,
    pending_ttl: float | None,
    finished_ttl: float | None,
    interval: float | None,
) -> None:
    """Inactivate silent publishers, delete long-inactive ones, expire old tasks."""
    from mcpctl_tui.virtual.gc import GcBounds, SweepResult, sweep, sweep_forever

    bounds = GcBounds.from_settings(
        _settings(),
        heartbeat_timeout=heartbeat_timeout,
        inactive_ttl=inactive_ttl,
        pending_ttl=pending_ttl,
        finished_ttl=finished_ttl,
    )

    async def once(store: Store) -> SweepResult:
        return await sweep(store, bounds)

    async def forever(store: Store) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        assert interval is not None
        await sweep_forever(store, bounds, interval=interval, stop=stop)

    if interval is not None:
        run(with_store(state.db_url(), forever))
        return
    click.echo(run(with_store(state.db_url(), once)).summary())
