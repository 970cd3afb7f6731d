"""The slash-command cases both front ends must pass alike (the REPL and the TUI).

Each case starts from fresh session settings in a demo thread of agent ``ops``
(personalities ``oncall``, the default, and ``teacher``), runs its lines, and checks
what the front end said last and the settings it kept. ``Outcome`` is what a front end
reports after the lines ran; a case's ``check`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcpctl_tui.chat.commands import SessionSettings
from mcpctl_tui.chat.context import NO_PERSONALITY


@dataclass(frozen=True)
class Outcome:
    said: str  # the last thing the front end said (a notification, a line on stderr)
    settings: SessionSettings
    thread_id: int | None
    agent_params: dict[str, Any]  # the agent's stored default params
    thread_title: str  # the open thread's stored title ("" when none)
    sent: list[str]  # user turns stored by the lines, in order


@dataclass(frozen=True)
class SlashCase:
    name: str
    lines: list[str]
    says: str  # a part of what is said last
    check: Callable[[Outcome], bool] = lambda _o: True


CASES = [
    SlashCase(
        "set",
        ["/set temperature 0.3"],
        "temperature = 0.3",
        lambda o: dict(o.settings.params) == {"temperature": 0.3},
    ),
    SlashCase(
        "dashes-in-keys",
        ["/set max-tokens 20"],
        "max_tokens = 20",
        lambda o: dict(o.settings.params) == {"max_tokens": 20},
    ),
    SlashCase(
        "text-value",
        ["/set stop END"],
        'stop = "END"',
        lambda o: dict(o.settings.params) == {"stop": "END"},
    ),
    SlashCase(
        "set-without-value-unsets",
        ["/set temperature 0.3", "/set temperature"],
        "temperature unset",
        lambda o: dict(o.settings.params) == {},
    ),
    SlashCase(
        "unset",
        ["/set temperature 0.3", "/set top_p 0.9", "/unset temperature"],
        "temperature unset",
        lambda o: dict(o.settings.params) == {"top_p": 0.9},
    ),
    SlashCase("show-params", ["/set top_p 0.9", "/set"], 'session params: {"top_p": 0.9}'),
    SlashCase(
        "secret-refused",
        ['/set api_key "sk-live-123"'],
        "literal secret",
        lambda o: dict(o.settings.params) == {} and "sk-live" not in o.said,
    ),
    SlashCase(
        "system",
        ["/system Be brief."],
        "system prompt replaced for this session",
        lambda o: o.settings.overrides.system == "Be brief.",
    ),
    SlashCase(
        "system-restored",
        ["/system Be brief.", "/system"],
        "agent's system prompt restored",
        lambda o: o.settings.overrides.system is None,
    ),
    SlashCase(
        "llm",
        ["/llm gpt-eu"],
        "LLM: gpt-eu for this session",
        lambda o: o.settings.overrides.llm == "gpt-eu",
    ),
    SlashCase(
        "llm-restored",
        ["/llm gpt-eu", "/llm"],
        "LLM: the agent's again",
        lambda o: o.settings.overrides.llm is None,
    ),
    SlashCase(
        "personality",
        ["/personality teacher"],
        "personality: teacher",
        lambda o: o.settings.personality == "teacher",
    ),
    SlashCase(
        "personality-none",
        ["/personality none"],
        "personality: none",
        lambda o: o.settings.personality == NO_PERSONALITY,
    ),
    SlashCase(
        "personality-list", ["/personality"], "personality: oncall; available: oncall, teacher"
    ),
    SlashCase(
        "personality-unknown",
        ["/personality teacher", "/personality nosuch"],
        "has no personality 'nosuch'",
        lambda o: o.settings.personality == "teacher",
    ),
    SlashCase("save-nothing", ["/save"], "nothing to save (no /set parameters)"),
    SlashCase(
        "save-params",
        ["/set top_p 0.5", "/save"],
        'saved to agent ops default params: {"temperature": 0.2, "top_p": 0.5}',
        lambda o: (
            o.agent_params == {"temperature": 0.2, "top_p": 0.5} and dict(o.settings.params) == {}
        ),
    ),
    SlashCase(
        "save-title",
        ["/save Cert rotation, done"],
        "thread renamed: Cert rotation, done",
        lambda o: (
            o.thread_title == "Cert rotation, done" and o.agent_params == {"temperature": 0.2}
        ),
    ),
    SlashCase(
        "save-both-one-message",
        ["/set seed 7", "/save Seeded"],
        'saved to agent ops default params: {"seed": 7, "temperature": 0.2}; '
        "thread renamed: Seeded",
        lambda o: o.agent_params["seed"] == 7 and o.thread_title == "Seeded",
    ),
    SlashCase("clear", ["/clear"], "new thread", lambda o: o.thread_id is None),
    SlashCase(
        "clear-then-title",
        ["/clear", "/save Nothing yet"],
        "no thread to rename yet",
        lambda o: o.thread_id is None,
    ),
    SlashCase("unknown", ["/bogus"], "unknown command /bogus"),
    SlashCase(
        "double-slash-sends",
        ["//etc/hosts is world-readable?"],
        "",
        lambda o: o.sent == ["/etc/hosts is world-readable?"],
    ),
]
