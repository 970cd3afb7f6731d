"""Untrusted text (model output, names, error messages) made safe to show.

Everything the UI shows that it did not write itself goes through ``literal`` (a
``Content`` that is never parsed as markup) or ``clean`` (a str for widgets that do not
parse markup, such as ``Markdown``). Control characters are removed by the chat engine's
sanitiser, which is per character and so safe on chunks that split an escape sequence.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.widget import Widget

from mcpctl_tui.chat.sanitize import for_terminal

clean = for_terminal


def literal(text: str, style: str = "") -> Content:
    """``text`` as Content: shown exactly, never interpreted as markup."""
    return Content.styled(clean(text), style) if style else Content(clean(text))


def say(
    node: Widget | App[Any], text: str, *, severity: SeverityLevel = "information", title: str = ""
) -> None:
    """A notification whose text may be untrusted (names, errors, model text), shown
    exactly as written. (Textual's toast renders ``markup=False`` as ``Content(message)``,
    which takes a str, not a ``Content``.)"""
    node.notify(clean(text), title=clean(title), severity=severity, markup=False)
