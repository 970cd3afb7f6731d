"""F1: every key, grouped by where it works, and the slash commands.

The rows are made from the ``BINDINGS`` of the screens and widgets they belong to and
from ``chat.commands.COMMANDS``: the help cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from mcpctl_tui.chat.commands import help_rows
from mcpctl_tui.ui.browse.panes import LIST_KEYS, AgentList, ThreadList
from mcpctl_tui.ui.chat.input import ChatInput
from mcpctl_tui.ui.chat.view import ChatView
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.resources.screen import ResourceScreen
from mcpctl_tui.ui.screens.dialogs import dialog_footer

_KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    "up": "Up",
    "down": "Down",
    "colon": ":",
    "slash": "/",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def key_label(keys: str) -> str:
    """``"ctrl+d,alt+up"`` as a person writes it: ``"Ctrl+D / Alt+Up"``."""

    def one(key: str) -> str:
        parts = key.split("+")
        *mods, last = parts
        if len(last) == 1:  # a letter alone as typed (g, G); with a modifier: Ctrl+D
            name = last.upper() if mods else last
        else:
            name = _KEY_NAMES.get(last, last.capitalize())
        return "+".join([*(m.capitalize() for m in mods), name])

    return " / ".join(one(k.strip()) for k in keys.split(","))


@dataclass(frozen=True, slots=True)
class KeyGroup:
    """The keys of one area: its bindings, and rows the bindings cannot say."""

    title: str
    bindings: Sequence[BindingType] = ()
    extra: Sequence[tuple[str, str]] = ()

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            (key_label(b.key), b.tooltip or b.description)
            for b in self.bindings
            if isinstance(b, Binding) and b.description
        ]
        return rows + list(self.extra)


EVERYWHERE = KeyGroup(
    "Everywhere",
    extra=[
        ("Ctrl+P", "command palette: every action, jump to any agent or thread"),
        ("Tab / Shift+Tab", "move between panes"),
        ("Ctrl+Q", "quit (asks first if a form has changes)"),
    ],
)
IN_DIALOGS = KeyGroup(
    "In dialogs",
    extra=[
        ("Ctrl+S", "save an editor's form"),
        ("Ctrl+T", "an LLM's form: ask its server for the models (test the connection)"),
        ("Esc", "cancel (asks first if the form changed)"),
        ("y", "yes (confirmations; Enter takes the focused button: Cancel)"),
        ("q / F1", "close this help"),
    ],
)


def main_groups(main_bindings: Sequence[BindingType]) -> list[KeyGroup]:
    """The main screen's keys, by the area they work in."""

    def own(bindings: Sequence[BindingType]) -> list[BindingType]:
        return [b for b in bindings if b not in LIST_KEYS]

    return [
        KeyGroup("Main screen (outside the message box for letters)", main_bindings),
        KeyGroup("In the message box (its editing keys are its own)", ChatInput.BINDINGS),
        KeyGroup("In the chat (Tab to it, or pick a message)", ChatView.BINDINGS),
        KeyGroup("In every list", LIST_KEYS, [("Enter", "open it, on to the message box")]),
        KeyGroup("In the thread list", own(ThreadList.BINDINGS)),
        KeyGroup("In the agent list", own(AgentList.BINDINGS)),
        KeyGroup("In a resource view (: opens one)", ResourceScreen.BINDINGS),
    ]


def _section(title: Content, rows: Iterable[tuple[str, str]], *, first: bool) -> ComposeResult:
    # The gap above a heading is a line of its own: a margin inside a grid row is taken
    # from the row's height and can hide the heading.
    yield Static(title if first else Content.assemble("\n", title), classes="help-heading")
    for key, what in rows:
        yield Static(Content.styled(key, "bold"), classes="help-key")
        yield Static(Content(what), classes="help-what")


class HelpScreen(PacedModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, groups: Sequence[KeyGroup]) -> None:
        super().__init__()
        self.groups = [EVERYWHERE, *groups, IN_DIALOGS]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"), Grid(classes="help-grid"):
            for n, group in enumerate(self.groups):
                yield from _section(Content(group.title), group.rows(), first=n == 0)
            slash = Content.assemble("Slash commands ", ("(in the message box)", "dim"))
            yield from _section(slash, help_rows(), first=False)
        yield dialog_footer()
