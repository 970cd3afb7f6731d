"""The context inspector: what the open agent would send, with nothing sent.

Sections come from ``chat.inspect.report_sections`` (the REPL's ``/context`` prints the
same); every text is shown as plain text, never markup (a system prompt may hold brackets).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from mcpctl_tui.chat.inspect import ContextReport, report_sections
from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.screens.dialogs import dialog_footer


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
