"""The command line: launch the TUI, and kubectl-like verbs over the store.

Each verb lives in its own module and registers itself on ``main``; this module holds
only the group, the shared ``--db`` option and the helpers the verbs share.

Start-up is paid on every command, so verb modules are imported only when their verb
runs (``_VERBS``; ``--help`` imports them all to list them), and this module imports no
SQLAlchemy, httpx or Textual: ``--version`` takes about the interpreter's own start, and
``get agents`` does not import the chat engine (``bench/cli_start.py`` measures it,
``tests/cli/test_startup.py`` keeps it).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mcpctl_tui.chat.sanitize import for_terminal
from mcpctl_tui.cli.params import ROW_ID
from mcpctl_tui.config import ConfigError, resolve_db_url, sqlite_not_writable, sqlite_path
from mcpctl_tui.store.errors import StoreError, is_outage

if TYPE_CHECKING:
    import asyncio

    from mcpctl_tui.store.engine import Store

T = TypeVar("T")

# Each verb and the module (mcpctl_tui.cli.NAME) that registers it on the group.
_VERBS = {
    "apply": "manifest",
    "get": "manifest",
    "delete": "manifest",
    "chat": "chat",
    "threads": "threads",
    "history": "threads",
    "search": "search",
    "usage": "usage",
    "mcp": "mcp",
    "provider": "provider",
    "gc": "gc",
    "db": "db",
    "demo": "app",
}


class CliState:
    def __init__(self, db: str | None) -> None:
        self.db_option = db

    def db_url(self, *, existing: bool = False, writes: bool = True) -> str:
        """The database URL; ``existing`` (verbs that only read or delete) refuses a SQLite
        file that is not there, which opening would create (directories and all) only to
        report "No agents found." for a mistyped path. A verb that ``writes`` is refused
        at start a SQLite file it could not write, before anything is typed or sent."""
        try:
            url = resolve_db_url(self.db_option)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        path = sqlite_path(url)
        if path is None:
            return url
        if existing and not path.exists():
            raise click.ClickException(
                f"no database at {path}; 'mcpctl-tui apply' or 'mcpctl-tui db upgrade' creates one"
            )
        why = sqlite_not_writable(path, reads_only=not writes)
        if why is not None:
            raise click.ClickException(f"{why}: {self.READ_ONLY_HINT}")
        return url

    READ_ONLY_HINT = "fix its permissions (get, threads, history and --readonly only read)"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; store and config errors become one-line CLI errors."""
    import asyncio  # not at import: ``--version`` need not pay for it

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    except (StoreError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        if not is_outage(exc):
            raise
        raise click.ClickException(f"store unavailable: {_first_line(exc)}") from None
    finally:
        _end(loop)


LEFTOVER_GRACE = 0.3  # seconds the tasks still running at the end get to wind down


def _end(loop: asyncio.AbstractEventLoop) -> None:
    """``asyncio.run``'s teardown, bounded: a write stuck on a database that stopped
    answering is cancelled and given a moment, not waited for (the process is ending;
    its sockets go with it), so Ctrl-C always ends the program promptly."""
    import asyncio

    # What is cut short here (a transaction's generator, a pending write) would report
    # its interruption as a traceback after the command's own one-line message.
    loop.set_exception_handler(lambda _loop, _context: None)
    leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        loop.run_until_complete(asyncio.wait(leftover, timeout=LEFTOVER_GRACE))
    with contextlib.suppress(TimeoutError):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), LEFTOVER_GRACE))
    loop.close()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


async def with_store(url: str, fn: Callable[[Store], Awaitable[T]]) -> T:
    import asyncio

    from mcpctl_tui.store.engine import open_store  # SQLAlchemy: only for a verb that uses it

    store = await open_store(url)
    try:
        return await fn(store)
    finally:
        # A database that stopped answering would hold a graceful close (and the exit)
        # for ever; the process ends anyway, and its sockets with it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(store.close(), CLOSE_GRACE)


CLOSE_GRACE = 0.5  # seconds the store's connections get to close as the command ends


@contextlib.contextmanager
def _printable_errors() -> Iterator[None]:
    """Every error message the CLI prints may quote argv or a stored name: its terminal
    controls (ESC, BEL, C1, bidi overrides) are taken out before it reaches the screen."""
    try:
        yield
    except click.ClickException as exc:
        vars(exc)["message"] = for_terminal(exc.message)  # Final in the stubs, not at runtime
        raise


def _writable_output() -> None:
    """The one output rule of every text front end (the REPL, ``chat -m``, ``history``,
    exports to stdout): whatever a model sent is written without raising. A lone
    surrogate or a character the terminal's encoding lacks becomes a replacement mark
    (the REPL died on a reply with ``\\ud800`` in it); terminal controls are taken out
    before, where the text is made (``chat/sanitize.py``)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


class _Main(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Python keeps argv bytes that are not UTF-8 as lone surrogates, which no database
        # driver or provider takes: refuse them here, before a query fails with a traceback.
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError as exc:
                shown = arg[: exc.start].encode("utf-8", "replace").decode()
                raise click.UsageError(
                    f"argument {shown + '…'!r} is not UTF-8 text (at character {exc.start + 1})"
                ) from None
        return super().parse_args(ctx, args)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _printable_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _printable_errors():
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_VERBS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _VERBS.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            try:  # registers the verb (and its siblings) on the group
                importlib.import_module(f"mcpctl_tui.cli.{module}")
            except ModuleNotFoundError as exc:  # a verb not built yet is simply absent
                if exc.name != f"mcpctl_tui.cli.{module}":
                    raise
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_Main,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db", "db", metavar="URL", help="Database URL (overrides $MCPCTL_TUI_DB and the config file)."
)
@click.option("--agent", metavar="NAME", help="Open the TUI on this agent.")
@click.option("--personality", metavar="NAME", help="Open the TUI with this personality selected.")
@click.option(
    "--thread", "thread_id", type=ROW_ID, metavar="ID", help="Open the TUI on this thread."
)
@click.option(
    "--readonly",
    is_flag=True,
    help="Open the TUI read-only: no send, edit, delete or apply (also 'readonly: true' in "
    "the config file).",
)
@click.version_option(package_name="mcpctl-tui")
@click.pass_context
def main(
    ctx: click.Context,
    db: str | None,
    agent: str | None,
    personality: str | None,
    thread_id: int | None,
    readonly: bool,
) -> None:
    """mcpctl-tui: browse agents, personalities and threads; chat with public and virtual LLMs.

    With no command it opens the terminal UI.
    """
    ctx.obj = CliState(db)
    _writable_output()
    if ctx.invoked_subcommand is None:
        try:
            from mcpctl_tui.cli.app import launch_tui
        except ModuleNotFoundError as exc:  # a build without the UI verb: say so, no traceback
            if exc.name != "mcpctl_tui.cli.app":
                raise
            raise click.ClickException(
                "this build has no terminal UI; see 'mcpctl-tui --help' for its commands"
            ) from None
        launch_tui(
            ctx.obj, agent=agent, personality=personality, thread_id=thread_id, readonly=readonly
        )
