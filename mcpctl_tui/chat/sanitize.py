"""Neutralise terminal control in untrusted text (model output, provider error bodies).

Model output is untrusted: an ESC sequence could recolour the terminal, move the cursor,
rewrite the title, overwrite the stats line (CR), or on some terminals do worse (OSC 52
writes the clipboard). ``for_terminal`` removes every C0 control except newline and tab,
DEL, and every C1 control (including the 8-bit CSI/OSC introducers). With ESC and the
introducers gone, the rest of a sequence is inert printable text, so this works on a
stream chunk by chunk: a sequence split across chunks cannot reassemble.

It also removes the bidirectional embedding, override and isolate controls (U+202A-E,
U+2066-9): on a terminal that reorders right-to-left text they make the characters show
in an order other than the one they are in (a command that reads one way and runs another).
Right-to-left text needs none of them to show right.

Markup is a separate concern: the UI must also render model text as text (never Rich or
Textual markup); this module only makes it safe for a raw terminal.
"""

from __future__ import annotations

_KEEP = {ord("\n"), ord("\t")}
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TABLE: dict[int, None] = {
    c: None for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI) if c not in _KEEP
}


def for_terminal(text: str) -> str:
    """``text`` with control characters removed; newline and tab kept."""
    return text.translate(_TABLE)


def one_line(text: str, limit: int = 300) -> str:
    """A single-line, control-free version of ``text`` (error messages), cut at ``limit``."""
    flat = " ".join(for_terminal(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
