"""Any line typed into the message box or the REPL is a message or a command, or a
CommandError saying why not: never another exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcpctl_tui.chat import commands

NAMES = sorted({n for spec in commands.COMMANDS for n in (spec.name, *spec.aliases)})


@given(st.text(max_size=80))
def test_any_line(line: str) -> None:
    try:
        commands.parse(line)
    except commands.CommandError as exc:
        assert str(exc)


@given(st.sampled_from(NAMES), st.text(max_size=60))
def test_every_command_with_any_argument(name: str, rest: str) -> None:
    try:
        commands.parse(f"{name} {rest}")
    except commands.CommandError as exc:
        assert str(exc)
