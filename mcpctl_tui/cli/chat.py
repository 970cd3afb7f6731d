"""``mcpctl-tui chat AGENT``: one message (-m) or a line REPL, after the original platform.

With -m the reply goes to stdout as it arrives and nothing else does (so it pipes); the
thread id and a stats footer go to stderr. A provider failure is one line on stderr and a
non-zero exit (the partial reply stays stored in the thread). Model text is untrusted: it
passes through ``chat.sanitize.for_terminal`` before it reaches the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from mcpctl_tui.chat import commands
from mcpctl_tui.chat.context import ChatOverrides, check_params
from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.events import TurnEnded, TurnStarted
from mcpctl_tui.chat.inspect import inspect_context, report_text
from mcpctl_tui.chat.sanitize import for_terminal, one_line
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.cli import CliState, main, run, with_store
from mcpctl_tui.cli.inputs import TEXT_LIMIT, read_text
from mcpctl_tui.cli.params import ROW_ID

if TYPE_CHECKING:
    from mcpctl_tui.cli.repl import TerminalReader
from mcpctl_tui.llm.events import TextDelta
from mcpctl_tui.store.catalog import personality_names
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.types import MessageStatus

T = TypeVar("T")

EXIT_PROVIDER_ERROR = 1
EXIT_CANCELLED = 130


@dataclass
class Session:
    """What one ``chat`` invocation carries from turn to turn."""

    agent: str
    thread_id: int | None = None
    edit_turn: int | None = None  # the next message is asked in this question's place
    settings: commands.SessionSettings = field(default_factory=commands.SessionSettings)
    stream: bool = True


@dataclass
class TurnOutcome:
    ended: TurnEnded | None
    cancelled: bool = False


async def run_turn(
    svc: ChatService,
    sess: Session,
    text: str,
    out: TextIO,
    err: TextIO,
    *,
    own_line: bool = False,
) -> TurnOutcome:
    """Send one message; the reply to ``out``, the footer or the error to ``err``.

    ``own_line`` (the REPL) ends every reply with a newline even into a pipe, so that
    successive replies do not run together; a one-shot reply into a pipe stays exact.
    """
    ended: TurnEnded | None = None
    wrote_newline = True
    thread_id: int | None = sess.thread_id
    events = svc.send(
        sess.agent,
        text,
        thread_id=sess.thread_id,
        personality=sess.settings.personality,
        overrides=sess.settings.overrides,
        edit_turn=sess.edit_turn,
    )
    sess.edit_turn = None  # once: what follows continues the new branch
    try:
        # aclosing: if writing fails (a closed pipe), the turn is still stored, now.
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TurnStarted):
                    thread_id = sess.thread_id = event.thread_id
                elif isinstance(event, TextDelta):
                    if sess.stream and event.text:
                        out.write(for_terminal(event.text))
                        out.flush()
                        wrote_newline = event.text.endswith("\n")
                elif isinstance(event, TurnEnded):
                    ended = event
    except asyncio.CancelledError as exc:
        if not wrote_newline and (own_line or _isatty(out)):
            out.write("\n")
            out.flush()
        # The engine says when the store did not take the reply in time (chat/turn.py).
        kept = f"{exc.args[0]}" if exc.args else "partial reply kept"
        err.write(f"reply cancelled ({kept}) · thread {thread_id}\n")
        err.flush()
        return TurnOutcome(None, cancelled=True)
    assert ended is not None
    if not sess.stream and ended.text:
        out.write(for_terminal(ended.text))
        wrote_newline = ended.text.endswith("\n")
    # A terminal gets the prompt back on a line of its own; a pipe gets the reply exactly.
    if not wrote_newline and (own_line or _isatty(out)):
        out.write("\n")
    out.flush()
    if ended.tool_calls:
        names = ", ".join(
            one_line(str(c.get("function", {}).get("name", "?")), 60) for c in ended.tool_calls
        )
        err.write(f"tool calls requested: {names}\n")
    if ended.status == MessageStatus.ERROR:
        err.write(f"error: {one_line(ended.error or 'unknown error')}\n")
    err.write(f"thread {ended.thread_id} · {ended.footer()}\n")
    err.flush()
    return TurnOutcome(ended)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# SIGTERM and SIGHUP (a closed terminal, ``timeout``) end a reply as Ctrl-C does (stored
# as cancelled with its partial text, a virtual task cancelled), then the program.
_ENDING = (signal.SIGTERM, signal.SIGHUP)


@dataclass(slots=True)
class _Ending:
    signum: int | None = None  # set by SIGTERM / SIGHUP: finish up and exit 128 + signum

    @property
    def code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum


ENDING = _Ending()


async def _cancellable(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` so that Ctrl-C, SIGTERM or SIGHUP cancel it (a reply: stored as
    cancelled), not the program; ``coro`` turns its CancelledError into a result. After
    SIGTERM or SIGHUP, ``ENDING.code`` says the program is to end."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if signum in _ENDING:
            ENDING.signum = signum
        task.cancel()

    signals = (signal.SIGINT, *_ENDING)
    try:
        for signum in signals:
            loop.add_signal_handler(signum, on_signal, signum)
    except (NotImplementedError, RuntimeError):  # not the main thread / platform
        return await task
    try:
        return await task
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


class _Interrupted:
    """Ctrl-C came while waiting for a line."""


class LineReader:
    """The REPL's input lines, read in a thread; Ctrl-C at the prompt gives a new prompt.

    A thread's ``readline`` cannot be interrupted, so the pending read is kept (shielded)
    across Ctrl-C and the next line typed still arrives through it: nothing is lost and
    nothing hangs.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: asyncio.Future[bytes] | None = None

    async def _wait(self, pending: asyncio.Future[bytes]) -> bytes | _Interrupted:
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            return _Interrupted()

    async def read(self, prompt: str, err: TextIO) -> str | None:
        """The next line, or None at end of input."""
        while True:
            if _isatty(self.stream):  # a script fed on stdin gets no prompts in its stderr
                err.write(prompt)
                err.flush()
            if self._pending is None:
                readline = self.stream.buffer.readline
                self._pending = asyncio.ensure_future(asyncio.to_thread(readline))
            got = await _cancellable(self._wait(self._pending))
            if isinstance(got, _Interrupted):
                err.write("\n")
                if ENDING.code is not None:
                    return None
                continue
            self._pending = None
            if not got:
                return None
            try:  # bytes, decoded here: a bad line is reported, not a crash at the store
                line = got.decode("utf-8")
                # a CRLF script (as text mode would have read it)
                return line[:-2] + "\n" if line.endswith("\r\n") else line
            except UnicodeDecodeError as exc:
                err.write(f"error: that line is not UTF-8 text (byte {exc.start + 1}); not sent\n")


def _terminal_editor_usable(stdin: TextIO, err: TextIO) -> bool:
    """Line editing and history (``cli/repl.py``) when stdin and stderr are terminals;
    a pipe keeps the plain reader above."""
    return _isatty(stdin) and _isatty(err)


async def repl(svc: ChatService, sess: Session, out: TextIO, err: TextIO) -> int:
    ctx = await svc.prepare(
        sess.agent, sess.thread_id, sess.settings.personality, sess.settings.overrides
    )
    err.write(
        f"chatting with {ctx.agent.name} ({ctx.llm.name}, {ctx.llm_kind})"
        f"{f' as {ctx.personality}' if ctx.personality else ''}"
        f"{f' in thread {sess.thread_id}' if sess.thread_id else ''}; /help for commands\n"
    )
    reader: LineReader | TerminalReader
    if _terminal_editor_usable(sys.stdin, err):
        from mcpctl_tui.cli.repl import TerminalReader  # prompt_toolkit: only now

        reader = TerminalReader()
    else:
        reader = LineReader(sys.stdin)
    while True:
        line = await reader.read("> ", err)
        if line is None:
            if _isatty(sys.stdin) and ENDING.code is None:
                err.write("\n")
            return ENDING.code or 0
        if not await handle_line(svc, sess, line.rstrip("\n"), out, err):
            return 0
        if ENDING.code is not None:  # SIGTERM / SIGHUP during the reply: it is stored
            return ENDING.code


async def handle_line(svc: ChatService, sess: Session, line: str, out: TextIO, err: TextIO) -> bool:
    """One line of the REPL: a message to send or a slash command; False: quit."""
    if not line.strip():
        return True
    try:
        command = commands.parse(line)
        if isinstance(command, commands.Quit):
            return False
        if isinstance(command, commands.SendText):
            await _cancellable(run_turn(svc, sess, command.text, out, err, own_line=True))
        else:
            err.write(await slash_command(svc, sess, command) + "\n")
    except (ChatError, StoreError) as exc:
        err.write(f"error: {exc}\n")
    return True


class _ReplFront:
    """The REPL's session as the slash commands work on it."""

    def __init__(self, svc: ChatService, sess: Session) -> None:
        self.svc = svc
        self.sess = sess

    @property
    def settings(self) -> commands.SessionSettings:
        return self.sess.settings

    @settings.setter
    def settings(self, value: commands.SessionSettings) -> None:
        self.sess.settings = value

    @property
    def thread_id(self) -> int | None:
        return self.sess.thread_id

    @property
    def save_target(self) -> ChatService:
        return self.svc

    async def agent(self) -> commands.AgentRef:
        ctx = await self.svc.prepare(self.sess.agent, None, self.sess.settings.personality)
        async with self.svc.store.session() as s:
            names = await personality_names(s, ctx.agent.id)
        label = ctx.personality or commands.NONE_NAME
        return commands.AgentRef(self.sess.agent, ctx.agent.name, label, names)

    async def new_thread(self) -> None:
        self.sess.thread_id = None

    async def thread_renamed(self, title: str) -> None:
        pass  # nothing shows it


async def slash_command(svc: ChatService, sess: Session, command: commands.Command) -> str:
    """Run one slash command (``chat.commands`` parsed it); what to tell the operator."""
    if isinstance(command, commands.ShowHelp):
        return commands.help_text()
    if isinstance(command, commands.ShowContext):
        settings = sess.settings
        ctx = await svc.prepare(
            sess.agent, sess.thread_id, settings.personality, settings.overrides
        )
        return report_text(inspect_context(ctx))
    return (await commands.run(command, _ReplFront(svc, sess))).text


def build_overrides(
    system: str | None,
    system_file: Path | None,
    system_append: str | None,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    max_tokens: int | None,
    seed: int | None,
    stop: tuple[str, ...],
    extra: tuple[str, ...],
    llm: str | None = None,
) -> ChatOverrides:
    if system is not None and system_file is not None:
        raise click.UsageError("--system and --system-file cannot be used together")
    if system_file is not None:
        what = f"--system-file {system_file}"
        system = read_text(str(system_file), TEXT_LIMIT, what, error=click.UsageError)
    params: dict[str, Any] = {}
    for key, value in (
        ("temperature", temperature),
        ("top_p", top_p),
        ("top_k", top_k),
        ("max_tokens", max_tokens),
        ("seed", seed),
    ):
        if value is not None:
            params[key] = value
    if stop:
        params["stop"] = list(stop)
    for item in extra:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--extra {item!r}: expected KEY=VALUE")
        params[commands.param_key(key)] = commands.parse_value(text)
    try:
        check_params(params)
    except ChatError as exc:
        raise click.UsageError(str(exc)) from None
    return ChatOverrides(system=system, system_append=system_append, params=params, llm=llm)


@main.command("chat")
@click.argument("agent")
@click.option(
    "-m",
    "--message",
    help="Send this message, print the reply, exit; '-' reads the message from stdin (1 MiB at most).",
)
@click.option("--thread", "thread_id", type=ROW_ID, metavar="ID", help="Continue this thread.")
@click.option(
    "--edit",
    "edit_turn",
    type=click.IntRange(0),
    metavar="TURN",
    help="With --thread and -m: ask the message in place of question TURN, on a new branch"
    " (the old one is kept; 'history --tree' shows both).",
)
@click.option("--personality", metavar="NAME", help="Use this personality of the agent.")
@click.option(
    "--llm",
    metavar="NAME",
    help="Ask this LLM instead of the agent's (to try it before re-pinning the agent).",
)
@click.option("--system", metavar="TEXT", help="Replace the agent's system prompt for this call.")
@click.option(
    "--system-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Replace the system prompt with this file's text.",
)
@click.option("--system-append", metavar="TEXT", help="Append this to the system block.")
@click.option("--temperature", type=float)
@click.option("--top-p", type=float)
@click.option("--top-k", type=int)
@click.option("--max-tokens", type=int)
@click.option("--seed", type=int)
@click.option("--stop", multiple=True, metavar="S", help="A stop sequence (repeatable).")
@click.option(
    "--extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="A provider parameter (repeatable; VALUE is JSON or text).",
)
@click.option("--no-stream", is_flag=True, help="Print the reply once it is complete.")
@click.pass_obj
def chat_command(
    state: CliState,
    agent: str,
    message: str | None,
    thread_id: int | None,
    edit_turn: int | None,
    personality: str | None,
    llm: str | None,
    system: str | None,
    system_file: Path | None,
    system_append: str | None,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    max_tokens: int | None,
    seed: int | None,
    stop: tuple[str, ...],
    extra: tuple[str, ...],
    no_stream: bool,
) -> None:
    """Chat with AGENT: one message with -m (-m - reads it from stdin), else a line REPL
    (/help inside)."""
    if message == "-":
        message = read_text("-", TEXT_LIMIT, "-m -: the message on stdin", error=click.UsageError)
    if message is not None and not message.strip():
        # The REPL skips blank lines; a blank -m is a slip, and providers refuse it (400).
        raise click.UsageError("-m/--message is empty")
    if edit_turn is not None and (thread_id is None or message is None):
        raise click.UsageError("--edit needs --thread and -m (the thread and the new question)")
    overrides = build_overrides(
        system, system_file, system_append, temperature, top_p, top_k, max_tokens, seed, stop, extra,
        llm,
    )  # fmt: skip
    sess = Session(
        agent=agent,
        thread_id=thread_id,
        edit_turn=edit_turn,
        settings=commands.SessionSettings(personality=personality, overrides=overrides),
        stream=not no_stream,
    )
    out, err = sys.stdout, sys.stderr

    async def go(store: Store) -> int:
        async with ChatService.wired(store) as svc:
            try:
                if message is None:
                    return await repl(svc, sess, out, err)
                outcome = await _cancellable(run_turn(svc, sess, message, out, err))
            except ChatError as exc:
                raise click.ClickException(str(exc)) from None
            if outcome.cancelled:
                return ENDING.code or EXIT_CANCELLED
            assert outcome.ended is not None
            return EXIT_PROVIDER_ERROR if outcome.ended.status == MessageStatus.ERROR else 0

    code = _run_with_store(state.db_url(), go)
    if code:
        sys.exit(code)


EXIT_BROKEN_PIPE = 141  # what a shell reports for a writer killed by SIGPIPE


def _run_with_store(url: str, fn: Callable[[Store], Coroutine[Any, Any, int]]) -> int:
    try:
        return run(with_store(url, fn))
    except BrokenPipeError:
        # The reader left (``| head``); the turn was stored as cancelled on the way out.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
