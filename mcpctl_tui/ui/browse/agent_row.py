"""One agent as one line of the Agents pane, laid out for the width it gets.

The pane is 20 cells wide at 80 columns and 44 at 160: a fixed layout either wraps (a
three-line row per agent at 80 columns) or wastes the wide case. So a row is a Visual
that picks its layout when rendered. Every row of the list shares the same column widths
(``AgentColumns``) so the columns line up. As the width shrinks, a long name and LLM are
cut (with an ellipsis, down to a floor) before anything goes; then the least important
parts go first: the project, the status word (the glyph stays: one shape per status, not
only a colour), the long kind badge ("pub"/"virt" instead), at last the LLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual

from mcpctl_tui.store.agents import AgentRow
from mcpctl_tui.store.types import LlmKind, LlmStatus
from mcpctl_tui.ui.text import literal

STATUS_STYLE = {
    LlmStatus.ACTIVE: "$success",
    LlmStatus.INACTIVE: "$error",
    LlmStatus.HIBERNATING: "$warning",
}
# A distinct shape per status: readable without colour, and in a monochrome terminal.
STATUS_GLYPH = {
    LlmStatus.ACTIVE: "●",
    LlmStatus.INACTIVE: "○",
    LlmStatus.HIBERNATING: "◐",
}
NAME_CAP = 24  # a very long name is cut rather than pushing every other column out
LLM_CAP = 24
PROJECT_CAP = 20
MIN_NAME = 10  # a name is cut to this before an optional column goes
MIN_LLM = 8  # likewise the LLM
LAST_LLM = 5  # below this an LLM name says nothing: the column goes
NO_PROJECT = "–"


@dataclass(frozen=True, slots=True)
class AgentColumns:
    """Column widths shared by all rows of one list, so the columns line up."""

    name: int
    llm: int
    kind: int  # "public" / "virtual"
    short_kind: int  # "pub" / "virt"
    status: int
    project: int

    @classmethod
    def of(cls, rows: Sequence[AgentRow]) -> AgentColumns:
        if not rows:
            return cls(0, 0, 0, 0, 0, 0)
        virtual = any(r.kind == LlmKind.VIRTUAL for r in rows)
        return cls(
            name=min(NAME_CAP, max(len(r.name) for r in rows)),
            llm=min(LLM_CAP, max(len(r.llm_name) for r in rows)),
            kind=7 if virtual else 6,
            short_kind=4 if virtual else 3,
            status=max(len(r.status.value) for r in rows),
            project=min(PROJECT_CAP, max(len(r.project_name or NO_PROJECT) for r in rows)),
        )


@dataclass(frozen=True, slots=True)
class _Layout:
    gap: int
    project: bool
    status_word: bool
    long_kind: bool


# Richest first; the first that fits the width is used.
_LAYOUTS = (
    _Layout(gap=2, project=True, status_word=True, long_kind=True),
    _Layout(gap=1, project=True, status_word=True, long_kind=True),
    _Layout(gap=1, project=False, status_word=True, long_kind=True),
    _Layout(gap=1, project=False, status_word=False, long_kind=True),
    _Layout(gap=1, project=False, status_word=False, long_kind=False),
)


def _kind(kind: LlmKind, long: bool) -> Content:
    if kind == LlmKind.VIRTUAL:
        return Content.styled("virtual" if long else "virt", "bold $accent")
    return Content.styled("public" if long else "pub", "dim")


def _kind_width(cols: AgentColumns, layout: _Layout) -> int:
    return cols.kind if layout.long_kind else cols.short_kind


def _cell(content: Content, width: int) -> Content:
    """``content`` in exactly ``width`` cells: cut with an ellipsis, or padded."""
    return content.truncate(width, ellipsis=True, pad=True)


def _fixed(cols: AgentColumns, layout: _Layout) -> list[int]:
    """Widths of the columns other than the name and the LLM."""
    fixed = [1, _kind_width(cols, layout)]
    if layout.status_word:
        fixed.append(cols.status)
    if layout.project:
        fixed.append(cols.project)
    return fixed


def agent_line(row: AgentRow, cols: AgentColumns, width: int) -> Content:
    """The row as one line of at most ``width`` cells."""
    # Per layout, richest first: everything whole; else the name and the LLM cut down
    # to a floor (sharing the room, neither taking more than it needs) before an
    # optional column goes.
    min_name, min_llm = min(cols.name, MIN_NAME), min(cols.llm, MIN_LLM)
    for layout in _LAYOUTS:
        fixed = _fixed(cols, layout)
        avail = width - sum(fixed) - layout.gap * (len(fixed) + 1)
        if cols.name + cols.llm <= avail:
            return _assemble(row, cols, layout, cols.name, cols.llm)
        if layout.gap == 1 and min_name + min_llm <= avail:
            name_w = min(cols.name, max(avail - cols.llm, (avail + 1) // 2, min_name))
            return _assemble(row, cols, layout, name_w, min(cols.llm, avail - name_w))
    # Narrower still: a shorter LLM, else none, and the name cut to what remains.
    layout = _LAYOUTS[-1]
    avail = width - 1 - _kind_width(cols, layout) - 3 * layout.gap
    name_w = max(min(cols.name, avail - LAST_LLM), min_name)
    if avail - name_w >= LAST_LLM:
        return _assemble(row, cols, layout, name_w, min(cols.llm, avail - name_w))
    name_w = max(1, min(cols.name, avail + layout.gap))  # the LLM's gap is free too
    return _assemble(row, cols, layout, name_w, 0).truncate(width)  # a pane a few cells wide


def _assemble(
    row: AgentRow, cols: AgentColumns, layout: _Layout, name_w: int, llm_w: int
) -> Content:
    parts = [
        Content.styled(STATUS_GLYPH[row.status], STATUS_STYLE[row.status]),
        _cell(literal(row.name, "bold"), name_w),
    ]
    if llm_w:
        parts.append(_cell(literal(row.llm_name, "dim"), llm_w))
    parts.append(_cell(_kind(row.kind, layout.long_kind), _kind_width(cols, layout)))
    if layout.status_word:
        parts.append(_cell(Content.styled(row.status.value, STATUS_STYLE[row.status]), cols.status))
    if layout.project:
        parts.append(_cell(literal(row.project_name or NO_PROJECT, "dim"), cols.project))
    return Content(" " * layout.gap).join(parts).rstrip()


class AgentLine(Visual):
    """An ``OptionList`` prompt that lays ``row`` out for the width it is rendered at."""

    def __init__(self, row: AgentRow, cols: AgentColumns) -> None:
        self.row = row
        self.cols = cols

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        return agent_line(self.row, self.cols, width).render_strips(width, 1, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return agent_line(self.row, self.cols, 10_000).cell_length

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1
