"""Untrusted text (model output, names, error messages) made safe to show.

Everything the UI shows that it did not write itself goes through ``literal`` (a
``Content`` that is never parsed as markup) or ``clean`` (a str for widgets that do not
parse markup, such as ``Markdown``). Terminal control characters are made visible instead
of reaching the terminal; the mapping is per character, so it is safe on stream chunks
that split an escape sequence.
"""

from __future__ import annotations

from textual.content import Content

# C0 controls except tab and newline, DEL, and the C1 block (8-bit CSI lives there).
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})


def clean(text: str) -> str:
    """``text`` with control characters replaced by visible symbols (ESC shows as ␛)."""
    return text.translate(_TABLE)


def literal(text: str, style: str = "") -> Content:
    """``text`` as Content: shown exactly, never interpreted as markup."""
    return Content.styled(clean(text), style) if style else Content(clean(text))
