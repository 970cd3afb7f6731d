"""The ``:`` prompt: a view's name, completed as typed (Tab or → takes the suggestion).

Enter on a known name (or alias) answers the view's name (``search`` for the search
view); an unknown one is said in
one line and the prompt stays for another try; Esc closes it and answers None.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from mcpctl_tui.ui.pacing import PacedModalScreen
from mcpctl_tui.ui.resources.kinds import COMPLETIONS, NAMES, SEARCH, is_search, resolve
from mcpctl_tui.ui.screens.dialogs import dialog_footer
from mcpctl_tui.ui.text import say


class ResourcePrompt(PacedModalScreen[str | None]):
    CSS_PATH = "resources.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("tab", "complete", "Complete", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="res-prompt"):
            yield Input(
                placeholder="agents, llms, projects …",
                suggester=SuggestFromList(COMPLETIONS, case_sensitive=False),
                id="res-prompt-input",
            )
            hint = Content.styled(" · ".join(NAMES) + "   (Tab completes, Esc closes)", "dim")
            yield Static(hint, id="res-prompt-hint")
        yield dialog_footer()

    def action_complete(self) -> None:
        """Tab: the first name that starts with what is typed (as the suggestion shows)."""
        box = self.query_one(Input)
        typed = box.value.strip().lower()
        match = next((c for c in COMPLETIONS if typed and c.startswith(typed)), None)
        if match is not None:
            box.value = match
            box.cursor_position = len(match)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip().removeprefix(":")
        if is_search(text):
            self.dismiss(SEARCH)
            return
        view = resolve(text)
        if view is None:
            say(
                self,
                f"unknown resource {text!r}: one of {', '.join(NAMES)}",
                severity="error",
            )
            return
        self.dismiss(view.name)
