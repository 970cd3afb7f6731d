"""A resource view: one kind's rows in a table, sorted and filtered, with row actions.

Pushed over the main screen (which stays as it was) and popped by Esc; a filter is
cleared by the first Esc. The rows are read once when the view opens (``r`` reads them
again, as does every change made from here); sorting and filtering work on what was
read, and the cursor stays on its row through both. Sorting: ``s`` moves the sort to the
next column, ``S`` turns it around, a click on a header sorts by it (again: reversed);
the header marks the sorted column ▲ or ▼, an empty cell sorts last either way.
The row keys are the actions of ``actions``; their dialogs are awaited in workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Footer, Input, Static

from mcpctl_tui.ui.data import Line, StoreError, UiData
from mcpctl_tui.ui.pacing import PacedScreen
from mcpctl_tui.ui.readonly import READ_ONLY_LABEL
from mcpctl_tui.ui.resources import actions
from mcpctl_tui.ui.resources.filter import row_filter
from mcpctl_tui.ui.resources.kinds import SEARCH, View, cell, is_empty, resolve, sort_key
from mcpctl_tui.ui.resources.prompt import ResourcePrompt
from mcpctl_tui.ui.text import clean, literal, say

RESOURCES_HELP = ":agents, :llms, :threads … a table of every object of a kind"


@dataclass(frozen=True, slots=True)
class Browsed:
    changed: bool = False  # something was written: the main screen reads everything again
    search: bool = False  # ``:search`` was asked for: the main screen opens the search view


async def browse(app: App[Any], data: UiData, name: str | None = None) -> Browsed:
    """The ``:`` prompt, then the view it names (``name``: that view at once)."""
    if name is None:
        name = await app.push_screen_wait(ResourcePrompt())
    if name == SEARCH:
        return Browsed(search=True)
    view = resolve(name) if name else None
    if view is None:
        return Browsed()
    screen = ResourceScreen(data, view)
    await app.push_screen_wait(screen)
    return Browsed(screen.changed, screen.wants_search)


@dataclass(frozen=True, slots=True)
class Sort:
    column: int = 0
    reverse: bool = False


def sorted_lines(lines: list[Line], key: str, reverse: bool) -> list[Line]:
    """``lines`` by the value under ``key`` (stable); empty values last either way."""
    full = [ln for ln in lines if not is_empty(ln.values.get(key))]
    empty = [ln for ln in lines if is_empty(ln.values.get(key))]
    return sorted(full, key=lambda ln: sort_key(ln.values[key]), reverse=reverse) + empty


def row_text(view: View, line: Line) -> str:
    """What the filter matches a row on: its cells as shown, joined."""
    return " ".join(cell(line.values.get(c.key)) for c in view.columns)


class ResourceTable(DataTable[Text]):
    """The table: rows are picked whole; j/k/g/G move as in every list."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "First", show=False),
        Binding("G", "scroll_bottom", "Last", show=False),
    ]


class ResourceScreen(PacedScreen):
    CSS_PATH = "resources.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="clear the filter, else back to the chat"),
        Binding("slash", "filter", "Filter", tooltip="filter the rows (! inverts; regex ok)"),
        Binding("s", "sort_next", "Sort", tooltip="sort by the next column"),
        Binding("S", "sort_reverse", "Reverse", show=False, tooltip="reverse the sort"),
        Binding("y", "yaml", "YAML", tooltip="the row as `get -o yaml` prints it"),
        Binding("e", "edit", "Edit", tooltip="edit the row's YAML in $EDITOR, then apply it"),
        Binding("d", "describe", "Describe", tooltip="what uses the row"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the row (asks, naming what goes)"),
        Binding("colon", "switch", "View", show=False, tooltip="another resource view"),
        Binding("r", "reload", "Reload", show=False, tooltip="read the rows again"),
    ]

    def __init__(self, data: UiData, view: View) -> None:
        super().__init__()
        self.data = data
        self.view = view
        self.lines: list[Line] = []
        self.shown: list[Line] = []  # sorted and filtered, as the table shows them
        self.sort = Sort()
        self.filter_text = ""
        self.changed = False  # something was written: the main screen reads again
        self.wants_search = False  # ``:search`` asked for from here
        self.loads = 0  # completed loads (tests wait for them)

    def compose(self) -> ComposeResult:
        yield Static(id="res-title")
        yield ResourceTable(id="res-table", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="filter: text, !text, or a regex", id="res-filter")
        yield Footer(compact=True)

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    @property
    def filter_box(self) -> Input:
        return self.query_one("#res-filter", Input)

    @property
    def current(self) -> Line | None:
        row = self.table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.table.focus()
        self.load()

    # --- reading and showing ----------------------------------------------------------

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        try:
            self.lines = await self.data.lines(self.view.name)
        except StoreError as exc:
            say(self, str(exc), severity="error")
            return
        finally:
            self.loads += 1
        self.redraw()

    def redraw(self) -> None:
        """The table from ``lines``: sorted, filtered, the cursor kept on its row."""
        keep = self.current.key if self.current is not None else None
        columns = self.view.columns
        ordered = sorted_lines(self.lines, columns[self.sort.column].key, reverse=self.sort.reverse)
        matches = row_filter(self.filter_text)
        self.shown = [ln for ln in ordered if matches(row_text(self.view, ln))]
        table = self.table
        table.clear(columns=True)
        for i, c in enumerate(columns):
            mark = (" ▼" if self.sort.reverse else " ▲") if i == self.sort.column else ""
            table.add_column(Text(c.header + mark), key=c.key)
        for ln in self.shown:
            # Text, not str: a str cell would be parsed as markup, and names are untrusted.
            cells = [Text(clean(cell(ln.values.get(c.key)))) for c in columns]
            table.add_row(*cells, key=ln.key)
        at = next((i for i, ln in enumerate(self.shown) if ln.key == keep), 0)
        if self.shown:
            table.move_cursor(row=at)
        self._title()

    def _title(self) -> None:
        parts: list[str | Content | tuple[str, str]] = [
            (self.view.name, "bold"),
            f"  ({len(self.shown)}"
            + (f" of {len(self.lines)}" if len(self.shown) != len(self.lines) else "")
            + ")",
        ]
        column = self.view.columns[self.sort.column].header
        parts.append(f"   sort: {column} {'▼' if self.sort.reverse else '▲'}")
        if self.filter_text:
            parts += ["   filter: ", literal(self.filter_text, "bold")]
        if self.data.readonly:
            parts += ["   ", (READ_ONLY_LABEL, "bold $warning")]
        self.query_one("#res-title", Static).update(Content.assemble(*parts))

    # --- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.filter_box.display or self.filter_text:
            self.filter_text = ""
            self.filter_box.value = ""
            self.filter_box.display = False
            self.table.focus()
            self.redraw()
            return
        self.dismiss(None)

    def action_filter(self) -> None:
        self.filter_box.display = True
        self.filter_box.focus()

    @on(Input.Changed, "#res-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.redraw()

    @on(Input.Submitted, "#res-filter")
    def _filter_done(self) -> None:
        self.table.focus()
        if not self.filter_text:
            self.filter_box.display = False

    def action_sort_next(self) -> None:
        self.sort = Sort((self.sort.column + 1) % len(self.view.columns), False)
        self.redraw()

    def action_sort_reverse(self) -> None:
        self.sort = Sort(self.sort.column, not self.sort.reverse)
        self.redraw()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        i = event.column_index
        self.sort = Sort(i, not self.sort.reverse if i == self.sort.column else False)
        self.redraw()

    def action_reload(self) -> None:
        self.load()

    def _picked(self) -> Line | None:
        line = self.current
        if line is None:
            self.notify("no row selected", severity="warning")
        return line

    def action_yaml(self) -> None:
        if (line := self._picked()) is not None:
            self.show_yaml(line)

    @work(group="dialog", exit_on_error=False)
    async def show_yaml(self, line: Line) -> None:
        await actions.show_yaml(self.app, self.data, line)

    def action_describe(self) -> None:
        if (line := self._picked()) is not None:
            self.describe(line)

    @work(group="dialog", exit_on_error=False)
    async def describe(self, line: Line) -> None:
        await actions.describe(self.app, self.data, line)

    def action_edit(self) -> None:
        if (line := self._picked()) is not None:
            self.edit(line)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def edit(self, line: Line) -> None:
        if await actions.edit(self.app, self.data, line):
            self.changed = True
            self.load()

    def action_delete(self) -> None:
        if (line := self._picked()) is not None:
            self.delete(line)

    @work(group="dialog", exclusive=True, exit_on_error=False)
    async def delete(self, line: Line) -> None:
        if await actions.delete(self.app, self.data, line):
            self.changed = True
            self.load()

    def action_switch(self) -> None:
        self.switch()

    @work(group="dialog", exit_on_error=False)
    async def switch(self) -> None:
        """``:`` here too: another view in place of this one."""
        name = await self.app.push_screen_wait(ResourcePrompt())
        if name == SEARCH:  # the main screen opens it, over the chat
            self.wants_search = True
            self.dismiss()
            return
        view = resolve(name) if name else None
        if view is not None and view != self.view:
            self.view = view
            self.sort = Sort()
            self.filter_text = ""
            self.filter_box.value = ""
            self.filter_box.display = False
            self.lines = []
            self.load()
