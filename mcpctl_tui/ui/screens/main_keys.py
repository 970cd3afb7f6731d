"""The main screen's keys (``MainScreen.BINDINGS``): the chat workflow's, never priority
keys, so a modal on top makes them inert and a focused text field keeps its own."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from mcpctl_tui.ui.resources.screen import RESOURCES_HELP
from mcpctl_tui.ui.screens.search import SEARCH_HELP

MAIN_KEYS: list[BindingType] = [
    Binding("escape", "cancel_reply", "Cancel reply", tooltip="cancel the reply (what came stays)"),
    Binding("ctrl+n", "new_thread", "New thread", tooltip="start a new thread"),
    Binding(
        "ctrl+r",
        "regenerate",
        "Regenerate",
        tooltip="answer the last message again (in the chat: the chosen reply), on a branch",
    ),
    Binding("f2", "rename_thread", "Rename thread", show=False, tooltip="rename the thread"),
    Binding(
        "alt+up",
        "select_turn(-1)",
        "Previous message",
        show=False,
        tooltip="pick the message above (or click one): the chat takes focus",
    ),
    Binding(
        "alt+down",
        "select_turn(1)",
        "Next message",
        show=False,
        tooltip="pick the message below",
    ),
    Binding("f1", "help", "Help", tooltip="this help"),
    Binding(
        "f3",
        "inspect_context",
        "Context",
        show=False,
        tooltip="what the next message would be sent with (nothing is sent)",
    ),
    Binding("f4", "search", "Search", show=False, tooltip=SEARCH_HELP),
    Binding("i", "focus_input", "Message", show=False, tooltip="to the message box"),
    Binding(
        "ctrl+l,r",
        "reload",
        "Reload",
        show=False,
        tooltip="read everything again (r: outside the message box)",
    ),
    Binding("colon", "resources", "Resources", show=False, tooltip=RESOURCES_HELP),
]
