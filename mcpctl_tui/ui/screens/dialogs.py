"""Small modal screens: confirm, ask for one line of text, help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Footer, Input, Static

from mcpctl_tui.ui.pacing import PacedModalScreen


def dialog_footer() -> Footer:
    """A modal screen's own footer, compact like the main one. Without it the main
    screen's footer shows through with keys that do not apply ("esc Cancel reply")."""
    return Footer(compact=True)


class ConfirmScreen(PacedModalScreen[bool]):
    """Yes/no with a message that says exactly what goes."""

    BINDINGS = [
        Binding("escape", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class AskScreen(PacedModalScreen[str | None]):
    """One line of text (rename a thread, a file to export to)."""

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


# (key, what it does). Shown as a two-column grid whose second column wraps: a line
# never runs past the dialog, at 80 columns as at 160.
HELP_KEYS = [
    ("Enter", "send the message"),
    ("Ctrl+J", "newline in the message (Shift+Enter too)"),
    ("Esc", "cancel the streaming reply"),
    ("Ctrl+R", "regenerate the last reply"),
    ("Ctrl+N", "new thread"),
    ("F2", "rename thread"),
    ("Ctrl+D", "delete thread"),
    ("Ctrl+E", "export (.md or .json)"),
    ("Alt+Up/Alt+Down", "pick a message (or click)"),
    ("Ctrl+Y", "copy it (else last reply)"),
    ("Ctrl+K", "copy a code block of it (else of the last reply)"),
    ("Ctrl+P", "command palette: every action, jump to any agent or thread"),
    ("Tab / Shift+Tab", "move between panes"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
]
HELP_DIALOGS = [
    ("Ctrl+S", "save an editor's form"),
    ("Esc", "cancel (asks first if the form changed)"),
    ("Y", "yes, delete (confirmations)"),
    ("Q / F1", "close this help"),
]
HELP_SLASH = [
    ("/set KEY VALUE", "override a parameter for this session (VALUE is JSON or text)"),
    ("/unset KEY", "drop an override"),
    ("/system TEXT", "replace the system prompt (no TEXT: back to the agent's)"),
    ("/personality NAME", "use this personality from the next turn ('none' for none)"),
    ("/clear", "start a new thread"),
    ("/save [TITLE]", "/set overrides become the agent's defaults; TITLE renames"),
    ("/help", "this help"),
]


def _help_section(
    title: Content, rows: list[tuple[str, str]], *, first: bool = False
) -> ComposeResult:
    # The gap above a heading is a line of its own: a margin inside a grid row is taken
    # from the row's height and can hide the heading.
    yield Static(title if first else Content.assemble("\n", title), classes="help-heading")
    for key, what in rows:
        yield Static(Content.styled(key, "bold"), classes="help-key")
        yield Static(Content(what), classes="help-what")


class HelpScreen(PacedModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"), Grid(classes="help-grid"):
            yield from _help_section(Content("Keys"), HELP_KEYS, first=True)
            yield from _help_section(Content("In dialogs"), HELP_DIALOGS)
            yield from _help_section(
                Content.assemble("Slash commands ", ("(in the input)", "dim")), HELP_SLASH
            )
        yield dialog_footer()
