"""Plain-text tables for the terminal (``get``, ``threads``): aligned, one line per row.

Cells are untrusted text (names, titles, prompt content): each becomes one line with no
control or format characters, cut to a width, so a row cannot break the table or reach
the terminal as a sequence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

CELL_WIDTH = 48


def cell(value: Any, width: int = CELL_WIDTH) -> str:
    """Table text: one line, no control or format characters, truncated."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    text = " ".join(str(value).split())
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    return text if len(text) <= width else text[: width - 1] + "…"


def width(text: str) -> int:
    """Terminal columns: wide (CJK) characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``headers`` over ``rows`` (raw values, rendered with ``cell``), columns aligned."""
    lines = [list(headers)] + [[cell(v) for v in row] for row in rows]
    widths = [max(width(r[i]) for r in lines) for i in range(len(headers))]
    return "\n".join(
        "   ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in lines
    )
