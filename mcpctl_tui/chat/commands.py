"""The slash-command language of both chat front ends: the REPL and the TUI's message box.

One table (``COMMANDS``) names each command, its arguments and its help line; ``parse``
turns a submitted line into a typed command; the functions below apply the commands and
word what they did. The REPL and the TUI both parse with it, show help from it, and say
the same thing for the same line. What each front end does on its own is only where the
result goes (stderr, a notification) and how it reads the agent's personalities.

The rules:
  - a line that does not start with ``/`` is a message; ``//text`` sends ``/text``;
  - ``/set KEY VALUE`` sets a parameter for the session (VALUE is JSON when it parses,
    else text; ``-`` in KEY becomes ``_``); ``/set KEY`` and ``/unset KEY`` unset it;
    ``/set`` alone shows the session's parameters;
  - ``/system TEXT`` replaces the system prompt for the session; ``/system`` restores it;
  - ``/llm NAME`` asks that LLM instead of the agent's from the next turn (a regenerate
    too: the same question tried on another LLM before re-pinning); ``/llm`` alone goes
    back to the agent's. The name is checked when a message is sent;
  - ``/personality NAME`` uses that personality from the next turn (``none``: none);
    ``/personality`` alone lists the agent's personalities;
  - ``/clear`` (or ``/new``) starts a new thread;
  - ``/save [TITLE]`` makes the session's parameters the agent's defaults, and renames the
    open thread to TITLE: one message says what was done;
  - ``/context`` shows what the next message would be sent with (nothing is sent);
  - ``/help`` lists the commands, ``/quit`` (``/exit``, ``/q``) leaves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mcpctl_tui.chat.context import NO_PERSONALITY, ChatOverrides, check_params
from mcpctl_tui.chat.errors import ChatError, UnknownPersonality
from mcpctl_tui.chat.sanitize import one_line

NONE_NAME = "none"  # ``/personality none``: no personality, even over the agent's default
NEW_THREAD = "new thread"  # what ``/clear`` says


class CommandError(ChatError):
    """A slash command that cannot run as typed (unknown, or missing its argument)."""


@dataclass(frozen=True, slots=True)
class SendText:
    """Not a command: a message to send (``//text`` arrives here as ``/text``)."""

    text: str


@dataclass(frozen=True, slots=True)
class SetParam:
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class UnsetParam:
    key: str


@dataclass(frozen=True, slots=True)
class ShowParams:
    pass


@dataclass(frozen=True, slots=True)
class SetSystem:
    text: str | None  # None: back to the agent's system prompt


@dataclass(frozen=True, slots=True)
class SetLlm:
    name: str | None  # None: the agent's own LLM again


@dataclass(frozen=True, slots=True)
class ChoosePersonality:
    name: str  # NO_PERSONALITY for ``none``


@dataclass(frozen=True, slots=True)
class ListPersonalities:
    pass


@dataclass(frozen=True, slots=True)
class NewThread:
    pass


@dataclass(frozen=True, slots=True)
class Save:
    title: str | None


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ShowContext:
    """The request the next message would go with (each front end shows it its way)."""


Command = (
    SendText
    | SetParam
    | UnsetParam
    | ShowParams
    | SetSystem
    | SetLlm
    | ChoosePersonality
    | ListPersonalities
    | NewThread
    | Save
    | ShowHelp
    | ShowContext
    | Quit
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    args: str  # as the help shows them
    help: str
    aliases: tuple[str, ...] = ()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "/set",
        "KEY [VALUE]",
        "set a parameter for this session (VALUE: JSON or text); no VALUE unsets it; "
        "/set alone shows them",
    ),
    CommandSpec("/unset", "KEY", "unset a parameter of this session"),
    CommandSpec("/system", "[TEXT]", "replace the system prompt (no TEXT: the agent's again)"),
    CommandSpec(
        "/llm",
        "[NAME]",
        "ask this LLM instead of the agent's from the next turn (no NAME: the agent's again)",
    ),
    CommandSpec(
        "/personality",
        "[NAME]",
        "use this personality from the next turn ('none': none); no NAME lists them",
    ),
    CommandSpec("/clear", "", "start a new thread", aliases=("/new",)),
    CommandSpec(
        "/save",
        "[TITLE]",
        "the session's parameters become the agent's defaults; TITLE renames the thread",
    ),
    CommandSpec("/context", "", "what the next message would be sent with (sends nothing)"),
    CommandSpec("/help", "", "this list"),
    CommandSpec("/quit", "", "leave", aliases=("/exit", "/q")),
    CommandSpec("//", "TEXT", "send a message that starts with '/' ('//x' sends '/x')"),
)
_BY_NAME = {name: spec.name for spec in COMMANDS for name in (spec.name, *spec.aliases)}


def help_rows() -> list[tuple[str, str]]:
    """(usage, what it does), one row per command, from ``COMMANDS``."""
    rows = []
    for spec in COMMANDS:
        usage = f"{spec.name}{spec.args}" if spec.name == "//" else f"{spec.name} {spec.args}"
        if spec.aliases:
            usage = f"{usage.strip()} ({', '.join(spec.aliases)})"
        rows.append((usage.strip(), spec.help))
    return rows


def help_text() -> str:
    """``help_rows`` as aligned lines (the REPL's ``/help``)."""
    rows = help_rows()
    width = max(len(usage) for usage, _ in rows)
    lines = [f"  {usage.ljust(width)}  {what}" for usage, what in rows]
    return "\n".join(["commands:", *lines])


def param_key(raw: str) -> str:
    """A parameter name as typed: ``max-tokens`` is ``max_tokens``."""
    return raw.strip().replace("-", "_")


def parse_value(raw: str) -> Any:
    """A parameter value: JSON when it parses (numbers, true, lists …), else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse(line: str) -> Command:
    """The command a submitted line asks for; a line not starting with ``/`` is a message.

    Raises ``CommandError`` for an unknown command or one missing its argument."""
    if line.startswith("//"):
        return SendText(line[1:])
    if not line.startswith("/"):
        return SendText(line)
    word, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    name = _BY_NAME.get(word)
    if name is None or name == "//":
        raise CommandError(
            f"unknown command {one_line(word, 40)} (try /help; a message that starts "
            "with / is sent as //…)"
        )
    match name:
        case "/set":
            if not rest:
                return ShowParams()
            key, _, raw = rest.partition(" ")
            if not raw.strip():
                return UnsetParam(param_key(key))
            return SetParam(param_key(key), parse_value(raw.strip()))
        case "/unset":
            if not rest:
                raise CommandError("usage: /unset KEY")
            return UnsetParam(param_key(rest))
        case "/system":
            return SetSystem(rest or None)
        case "/llm":
            return SetLlm(rest or None)
        case "/personality":
            if not rest:
                return ListPersonalities()
            return ChoosePersonality(NO_PERSONALITY if rest == NONE_NAME else rest)
        case "/clear":
            return NewThread()
        case "/save":
            return Save(rest or None)
        case "/help":
            return ShowHelp()
        case "/context":
            return ShowContext()
        case _:
            return Quit()


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What a chat session sends with, beyond the agent and the thread: the personality
    chosen (None: the agent's default; ``NO_PERSONALITY``: none) and per-call overrides
    (a system replacement or append, parameters)."""

    personality: str | None = None
    overrides: ChatOverrides = field(default_factory=ChatOverrides)

    @property
    def params(self) -> Mapping[str, Any]:
        return self.overrides.params

    def with_params(self, params: Mapping[str, Any]) -> SessionSettings:
        return replace(self, overrides=replace(self.overrides, params=dict(params)))


def _shown(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True)


def apply_setting(
    settings: SessionSettings, cmd: SetParam | UnsetParam | ShowParams | SetSystem | SetLlm
) -> tuple[SessionSettings, str]:
    """The settings after ``cmd``, and what to tell the operator. A parameter no request
    can carry (a literal secret, NaN) raises ``InvalidParam`` and changes nothing."""
    match cmd:
        case SetParam(key=key, value=value):
            params = {**settings.params, key: value}
            check_params(params)
            return settings.with_params(params), f"{key} = {json.dumps(value)}"
        case UnsetParam(key=key):
            params = {k: v for k, v in settings.params.items() if k != key}
            return settings.with_params(params), f"{key} unset"
        case ShowParams():
            return settings, f"session params: {_shown(settings.params)}"
        case SetSystem(text=text):
            said = (
                "system prompt replaced for this session"
                if text
                else "agent's system prompt restored"
            )
            return replace(settings, overrides=replace(settings.overrides, system=text)), said
        case SetLlm(name=name):
            said = f"LLM: {name} for this session" if name else "LLM: the agent's again"
            return replace(settings, overrides=replace(settings.overrides, llm=name)), said


def personality_label(choice: str | None, default: str | None) -> str:
    """The personality in effect, as the operator reads it."""
    if choice == NO_PERSONALITY:
        return NONE_NAME
    return choice or default or NONE_NAME


def choose_personality(
    settings: SessionSettings, name: str, *, agent: str, available: Sequence[str]
) -> tuple[SessionSettings, str]:
    """Use personality ``name`` (``NO_PERSONALITY``: none) from the next turn."""
    if name != NO_PERSONALITY and name not in available:
        raise UnknownPersonality(agent, name, list(available))
    return replace(settings, personality=name), f"personality: {name or NONE_NAME}"


def list_personalities(label: str, available: Sequence[str]) -> str:
    return f"personality: {label}; available: {', '.join(available) or NONE_NAME}"


class SaveTarget(Protocol):
    """What ``/save`` writes through (``ChatService``)."""

    async def save_overrides(
        self, agent: int | str, overrides: ChatOverrides
    ) -> dict[str, Any]: ...

    async def rename_thread(self, thread_id: int, title: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Saved:
    settings: SessionSettings
    message: str
    renamed: str | None = None  # the thread's new title
    params: dict[str, Any] | None = None  # the agent's default params, when written

    @property
    def changed(self) -> bool:
        return self.renamed is not None or self.params is not None


async def save(
    target: SaveTarget,
    settings: SessionSettings,
    *,
    agent: int | str,
    agent_name: str,
    thread_id: int | None,
    title: str | None,
) -> Saved:
    """``/save [TITLE]``: the session's parameters become the agent's defaults (and leave
    the session: they are the agent's now), TITLE renames the open thread."""
    if title is not None and thread_id is None:
        raise CommandError("no thread to rename yet: send a message first")
    parts: list[str] = []
    saved: dict[str, Any] | None = None
    if settings.params:
        saved = await target.save_overrides(agent, ChatOverrides(params=dict(settings.params)))
        settings = settings.with_params({})
        parts.append(f"saved to agent {agent_name} default params: {_shown(saved)}")
    if title is not None and thread_id is not None:
        await target.rename_thread(thread_id, title)
        parts.append(f"thread renamed: {title}")
    if not parts:
        return Saved(settings, "nothing to save (no /set parameters)")
    return Saved(settings, "; ".join(parts), renamed=title, params=saved)


@dataclass(frozen=True, slots=True)
class AgentRef:
    """The agent a session talks to, as the commands need it."""

    key: int | str  # what the chat engine takes (an id, or a name)
    name: str
    personality: str  # the one in effect, as the operator reads it
    personalities: Sequence[str]  # the agent's, by name


class ChatFront(Protocol):
    """A front end (the REPL, the TUI's chat panel) as ``run`` works on it."""

    settings: SessionSettings

    @property
    def thread_id(self) -> int | None: ...

    @property
    def save_target(self) -> SaveTarget: ...

    async def agent(self) -> AgentRef: ...

    async def new_thread(self) -> None: ...

    async def thread_renamed(self, title: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Said:
    text: str
    warning: bool = False  # nothing was done (a notice, not an error)


async def run(command: Command, front: ChatFront) -> Said:
    """Run a command that changes the session or the store (not ``SendText``, ``ShowHelp``
    or ``Quit``, which each front end does its own way); what to tell the operator.
    A refusal raises ``ChatError`` or ``StoreError`` and changes nothing."""
    match command:
        case SetParam() | UnsetParam() | ShowParams() | SetSystem() | SetLlm():
            front.settings, said = apply_setting(front.settings, command)
            return Said(said)
        case ListPersonalities():
            agent = await front.agent()
            return Said(list_personalities(agent.personality, agent.personalities))
        case ChoosePersonality(name=name):
            agent = await front.agent()
            front.settings, said = choose_personality(
                front.settings, name, agent=agent.name, available=agent.personalities
            )
            return Said(said)
        case NewThread():
            await front.new_thread()
            return Said(NEW_THREAD)
        case Save(title=title):
            agent = await front.agent()
            saved = await save(
                front.save_target,
                front.settings,
                agent=agent.key,
                agent_name=agent.name,
                thread_id=front.thread_id,
                title=title,
            )
            front.settings = saved.settings
            if saved.renamed is not None:
                await front.thread_renamed(saved.renamed)
            return Said(saved.message, warning=not saved.changed)
        case _:
            raise ValueError(f"{command!r} is the front end's to run")
