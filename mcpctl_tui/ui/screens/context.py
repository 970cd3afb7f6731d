"""The context inspector: what the open agent would send, with nothing sent.

Sections come from ``chat.inspect.report_sections`` (the REPL's ``/context`` prints the
same); every text is shown as plain text, never markup (a system prompt may hold brackets).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.inspect import ContextReport, inspect_context, report_sections
from mcpctl_tui.ui.backend import ChatBackend
from mcpctl_tui.ui.data import StoreError
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.screens.dialogs import dialog_footer
from mcpctl_tui.ui.state import ChatState
from mcpctl_tui.ui.text import say


class ContextScreen(PacedModalScreen[None]):
    CSS_PATH = ["dialogs.tcss", "context.tcss"]
    BINDINGS = [Binding("escape,q,f3", "dismiss(None)", "Close")]

    def __init__(self, report: ContextReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog context"):
            title = Content.assemble(
                ("Context of ", "bold"), (self.report.agent, "bold"), ("  (nothing sent)", "dim")
            )
            yield Static(title, classes="dialog-title")
            for head, text in report_sections(self.report):
                yield Static(Content.styled(head, "bold"), classes="context-heading")
                yield Static(Content(text), classes="context-text")
        yield dialog_footer()


async def inspect(over: Screen[Any], backend: ChatBackend, state: ChatState) -> None:
    """Show the request the open agent would send next (its personality and the session's
    settings, the open thread's history), read from the store, nothing written; wait for
    the operator to close it. Call from a worker."""
    if state.agent is None:
        over.notify("no agent selected", severity="warning")
        return
    settings = state.settings
    try:
        ctx = await backend.prepare(
            state.agent.id, state.thread_id, settings.personality, settings.overrides
        )
    except (ChatError, StoreError) as exc:
        say(over, str(exc), severity="error")
        return
    await over.app.push_screen_wait(ContextScreen(inspect_context(ctx)))
