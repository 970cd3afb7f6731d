"""Untrusted text (model output, names, error messages) made safe to show.

Everything the UI shows that it did not write itself goes through ``literal`` (a
``Content`` that is never parsed as markup) or ``clean`` (a str for widgets that do not
parse markup, such as ``Markdown``). Control characters are removed by the chat engine's
sanitiser, which is per character and so safe on chunks that split an escape sequence.
"""

from __future__ import annotations

from textual.content import Content

from mcpctl_tui.chat.sanitize import for_terminal

clean = for_terminal


def literal(text: str, style: str = "") -> Content:
    """``text`` as Content: shown exactly, never interpreted as markup."""
    return Content.styled(clean(text), style) if style else Content(clean(text))
