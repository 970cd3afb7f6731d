"""Small modal screens: confirm, ask for one line of text.

A confirmation defaults to No (the focused button is Cancel) and takes its ``y`` only
once it has been on screen a moment: a letter typed in the same burst as the key that
asked (a slip on Ctrl+D, y) is ignored, not taken as the answer.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Footer, Input, Static

from mcpctl_tui.ui.pacing import PacedModalScreen


def dialog_footer() -> Footer:
    """A modal screen's own footer, compact like the main one. Without it the main
    screen's footer shows through with keys that do not apply ("esc Cancel reply")."""
    return Footer(compact=True)


# A key that arrives sooner than this after the dialog showed was typed before the
# operator could read it.
BURST_SECONDS = 0.5


class ConfirmScreen(PacedModalScreen[bool]):
    """Yes/no with a message that says exactly what goes."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(False)", "Cancel"),
        Binding("y", "yes", "Yes"),
    ]

    def __init__(self, title: Content, message: Content, *, yes: str = "Delete") -> None:
        super().__init__()
        self._title = title
        self._message = message
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="dialog-title")
            yield Static(self._message, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._yes, variant="error", id="yes")
                yield Button("Cancel", id="no")
        yield dialog_footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self._shown = time.monotonic()

    def action_yes(self) -> None:
        if time.monotonic() - self._shown >= BURST_SECONDS:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class AskScreen(PacedModalScreen[str | None]):
    """One line of text (rename a thread, a file to export to)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: Content, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="dialog-title")
            yield Input(self._value, placeholder=self._placeholder, id="ask")
            yield Static(Content.styled("Enter to accept · Esc to cancel", "dim"))
        yield dialog_footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)
