"""The message input: multi-line, Enter sends, Ctrl+J (or Alt/Shift+Enter) adds a newline."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from mcpctl_tui.ui.textual_internals import KeysFirst

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})
# Longest first: the input shows the longest that fits its width (a placeholder is cut,
# not wrapped, and a cut "/help for" helps nobody).
PLACEHOLDERS = (
    "Message  (Enter sends · Ctrl+J newline · /help for commands)",
    "Message  (Enter sends · Ctrl+J newline · /help)",
    "Message  (Enter sends · Ctrl+J newline)",
    "Message",
)


class ChatInput(KeysFirst, TextArea):
    DEFAULT_CSS = """
    ChatInput { height: auto; min-height: 3; max-height: 10; }
    """
    # Enter is handled in ``key_first``, in order with the keys typed before it: a
    # priority binding would run before earlier keys of the same burst reach this
    # widget's queue (the message would go without its last characters). The binding
    # is for the footer and the help.
    BINDINGS = [
        Binding(
            "enter", "submit", "Send", show=True, tooltip="send the message, or run a /command"
        ),
        Binding(
            "ctrl+j",
            "newline",
            "Newline",
            show=False,
            tooltip="newline (Shift+Enter, Alt+Enter too)",
        ),
    ]

    class Submitted(Message):
        """Enter: ``text``, and the question it is an edit of (None: a new message)."""

        def __init__(self, text: str, edit_turn: int | None = None) -> None:
            super().__init__()
            self.text = text
            self.edit_turn = edit_turn

    class Recall(Message):
        """Up (``step`` -1: an older question) or Down (+1) in an empty box, or in one
        that holds a recalled question as it was recalled."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = PLACEHOLDERS[0]
        self.recalled: str | None = None  # the question Up put here, until edited
        self.editing: int | None = None  # the question being edited (``e`` on it)

    def on_resize(self, event: events.Resize) -> None:
        room = self.content_size.width - 1  # the cursor sits after the text
        self.placeholder = next((p for p in PLACEHOLDERS if len(p) <= room), PLACEHOLDERS[-1])

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self.text, self.editing))

    def begin_edit(self, turn_index: int, text: str) -> None:
        """Edit question ``turn_index``: its text here; Enter asks it on a new branch."""
        self.editing = turn_index
        self.text = text
        self.move_cursor(self.document.end)
        self.border_title = (
            f"editing turn {turn_index}: Enter asks it on a new branch · Esc cancels"
        )

    def end_edit(self, *, clear: bool = False) -> None:
        if self.editing is None:
            return
        self.editing = None
        self.border_title = None
        if clear:
            self.clear()

    def consume(self, sent: str) -> None:
        """Take a sent message out of the input, keeping what was typed after its Enter
        (keys keep arriving while the message is sent). If the input no longer starts
        with it, nothing is removed: a word typed is never cleared away."""
        current = self.text.lstrip()
        sent = sent.strip()
        if not current.startswith(sent):
            return
        rest = current[len(sent) :].lstrip()
        self.clear()
        if rest:
            self.insert(rest)

    def restore(self, failed: str) -> None:
        """Put back a message whose send failed before it was answered.

        The operator may have typed on meanwhile: the failed text goes in front, on its
        own line(s), and what they typed stays, the cursor where they were typing (the
        insert shifts it). An empty input just takes the text back, cursor at its end."""
        if not failed.strip():
            return
        if not self.text.strip():
            self.text = failed
            self.move_cursor(self.document.end)
            return
        if self.text.startswith(failed):
            return  # never taken out (or already put back)
        self.insert(failed.rstrip("\n") + "\n", (0, 0))

    def action_newline(self) -> None:
        self.insert("\n")

    def recall(self, text: str) -> None:
        """Show an earlier question, to edit and send again (cursor at its end)."""
        self.text = text
        self.move_cursor(self.document.end)
        self.recalled = text

    def key_first(self, event: events.Key) -> bool:
        if event.key == "escape" and self.editing is not None:
            self.end_edit(clear=True)
            return True
        if event.key in ("up", "down") and (not self.text or self.text == self.recalled):
            self.post_message(self.Recall(-1 if event.key == "up" else 1))
            return True
        if event.key == "enter":
            self.action_submit()
            return True
        if event.key in NEWLINE_KEYS:
            self.insert("\n")
            return True
        return False
