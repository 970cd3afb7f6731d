"""``mcpctl-tui provider serve -f provider.yaml`` and ``mcpctl-tui provider status``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.params import SECONDS
from mcpctl_tui.config import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    ConfigError,
    Settings,
    load_settings,
)
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.group("provider")
def provider_group() -> None:
    """Publish local models as virtual LLMs, and see who publishes what."""


@provider_group.command("serve")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The provider file (LLMs to publish, their upstreams, agents).",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the session id is kept (default: per provider file, in the user data dir).",
)
@click.option(
    "--heartbeat-interval",
    type=SECONDS,
    help="Seconds between heartbeats (default: the provider file, the config file,"
    f" else {DEFAULT_HEARTBEAT_INTERVAL:g}).",
)
@click.option(
    "--heartbeat-timeout",
    type=SECONDS,
    help="A foreign row silent this long may be adopted"
    f" (default: the config file, else {DEFAULT_HEARTBEAT_TIMEOUT:g}).",
)
@click.option("--poll-interval", type=SECONDS, help="SQLite: seconds between looks for work.")
@click.option(
    "--gc-interval",
    type=float,
    help="Seconds between lifecycle sweeps this process runs (0: none; config file, else 60).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each task.")
@click.pass_obj
def serve(
    state: CliState,
    path: Path,
    state_file: Path | None,
    heartbeat_interval: float | None,
    heartbeat_timeout: float | None,
    poll_interval: float | None,
    gc_interval: float | None,
    verbose: bool,
) -> None:
    """Serve the LLMs of a provider file until SIGINT/SIGTERM."""
    from dataclasses import replace

    from mcpctl_tui.virtual.gc import GcBounds
    from mcpctl_tui.virtual.provider import ProviderOptions, ProviderSession
    from mcpctl_tui.virtual.provider_config import ProviderConfigError, load_provider_config
    from mcpctl_tui.virtual.registration import load_or_create_session_id
    from mcpctl_tui.virtual.state_lock import lock_state_file

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    # -v: this program's own story (tasks claimed, done, stopped), not its libraries'.
    logging.getLogger("mcpctl_tui").setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        config = load_provider_config(path)
    except ProviderConfigError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings()
    if state_file is not None:
        config = replace(config, state_file=state_file)
    # --heartbeat-interval > the provider file > the config file (> the default).
    config = replace(
        config,
        heartbeat_interval=heartbeat_interval
        or config.heartbeat_interval
        or settings.heartbeat_interval,
    )
    timeout = heartbeat_timeout or settings.heartbeat_timeout
    options = ProviderOptions(
        heartbeat_timeout=timeout,
        gc_interval=max(0.0, settings.gc_interval if gc_interval is None else gc_interval),
        gc_bounds=GcBounds.from_settings(settings, heartbeat_timeout=timeout),
    )
    if poll_interval is not None:
        options = replace(options, poll_interval=poll_interval)
    try:
        # Held until this process ends: a second process on the same state file refuses.
        lock = lock_state_file(config.state_path())
        session_id = load_or_create_session_id(config.state_path())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None

    async def go(store: Store) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        session = ProviderSession(store, config, session_id, options)
        reg = await session.start()
        names = ", ".join(sorted([*reg.llm_ids, *reg.agent_ids]))
        click.echo(f"provider session {session_id} serving: {names}", err=True)
        for label, rows in (("adopted", reg.adopted), ("retired", reg.retired)):
            if rows:
                click.echo(f"  {label}: {', '.join(rows)}", err=True)
        click.echo("READY", err=True)
        await session.serve(stop)
        click.echo(f"provider session {session_id} offline", err=True)

    try:
        run(with_store(state.db_url(), go))
    finally:
        lock.release()


@provider_group.command("status")
@click.option(
    "--heartbeat-timeout", type=SECONDS, help="Seconds of silence that make a session stale."
)
@click.pass_obj
def status(state: CliState, heartbeat_timeout: float | None) -> None:
    """List provider sessions, their LLMs and agents, last heartbeat and state."""
    from mcpctl_tui.virtual.registration import SessionStatus, list_sessions

    timeout = heartbeat_timeout or _settings().heartbeat_timeout

    async def go(store: Store) -> list[SessionStatus]:
        return await list_sessions(store, heartbeat_timeout=timeout)

    sessions = run(with_store(state.db_url(), go))
    if not sessions:
        click.echo("no provider sessions")
        return
    for sess in sessions:
        seen = (
            sess.last_heartbeat_at.isoformat(timespec="seconds")
            if sess.last_heartbeat_at
            else "never"
        )
        click.echo(f"session {sess.session_id}  {sess.state}  last heartbeat {seen}")
        for row in sess.rows:
            extra = ""
            if row.inactive_since is not None:
                extra = f"  inactive since {row.inactive_since.isoformat(timespec='seconds')}"
            click.echo(f"  {row.kind:<5} {row.name}  {row.status}{extra}")
