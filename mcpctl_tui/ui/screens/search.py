"""The search view (``:search``, the palette's "Search stored turns"): stored turns found
by their text as the operator types.

- Each keystroke restarts a short timer (``DEBOUNCE``); when it fires, one exclusive
  worker asks the store (``UiData.search``). A newer query cancels the older one and a
  late answer for a query no longer typed is dropped: typing never waits on the store.
- Hits newest first: agent · thread · turn · role · when, then the snippet with each
  match highlighted. All of it is stored text, untrusted: shown literally, never markup.
- Enter (or a click) on a hit opens its thread at that turn (the main screen loads the
  window around it and picks the turn); Down moves from the box to the hits; Esc goes back
  to the chat as it was.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from mcpctl_tui.ui.data import Hit, StoreError, UiData
from mcpctl_tui.ui.pacing import PacedScreen
from mcpctl_tui.ui.text import clean, literal, say

DEBOUNCE = 0.15  # seconds of quiet typing before the store is asked
TITLE_WIDTH = 28  # a hit's thread title is cut here: its line fits 80 columns
SEARCH_HELP = "find stored turns by their text; Enter opens the thread at that turn"
SYNTAX = (
    'words (all of them), "a phrase", a prefix: deploy* (SQLite) or deploy:* (PostgreSQL)'
    "  ·  ↓ to the hits, Enter opens, Esc back"
)


async def find_turn(app: App[Any], data: UiData) -> Hit | None:
    """The search view, until a hit is chosen (returned) or Esc (None)."""
    screen = SearchScreen(data)
    await app.push_screen_wait(screen)
    return screen.chosen


def hit_prompt(hit: Hit) -> Content:
    """A hit as its option reads: where it is, then its snippet, matches highlighted."""
    title = hit.thread_title or "untitled"
    if len(title) > TITLE_WIDTH:
        title = title[: TITLE_WIDTH - 1] + "…"
    where = Content.assemble(
        literal(hit.agent, "bold"),
        " · ",
        literal(title),
        Content.styled(f" · {hit.created_at:%Y-%m-%d %H:%M} · #{hit.turn_index} {hit.role}", "dim"),
    )
    parts: list[Content | tuple[str, str] | str] = []
    at = 0
    for start, end in hit.marks:
        parts += [_one_line(hit.snippet[at:start]), (_one_line(hit.snippet[start:end]), "reverse")]
        at = end
    parts.append(_one_line(hit.snippet[at:]))
    return Content.assemble(where, "\n", *parts, "\n")  # a blank row between hits


def _one_line(text: str) -> str:
    return clean(text).replace("\n", " ")


class SearchScreen(PacedScreen):
    CSS_PATH = "search.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="back to the chat as it was"),
        Binding("down", "to_hits", "Hits", show=False, tooltip="from the box to the hits"),
    ]

    def __init__(self, data: UiData) -> None:
        super().__init__()
        self.data = data
        self.hits: list[Hit] = []
        self.chosen: Hit | None = None
        self.searches = 0  # answers shown (tests wait for them)
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Search stored turns", "bold"), id="search-title")
        yield Input(placeholder="what was said…", id="search-input")
        yield Static(Content.styled(SYNTAX, "dim"), id="search-hint")
        yield OptionList(id="search-hits")
        yield Footer(compact=True)

    @property
    def box(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def hit_list(self) -> OptionList:
        return self.query_one("#search-hits", OptionList)

    def on_mount(self) -> None:
        self.box.focus()

    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        query = event.value
        self._timer = self.set_timer(DEBOUNCE, lambda: self.find(query))

    @work(group="search", exclusive=True, exit_on_error=False)
    async def find(self, query: str) -> None:
        try:
            hits = await self.data.search(query)
        except StoreError as exc:
            say(self, str(exc), severity="error")
            return
        if query != self.box.value:
            return  # typed on meanwhile: its own search is coming
        self.hits = hits
        self.hit_list.set_options(Option(hit_prompt(h)) for h in hits)
        self._title(query)
        self.searches += 1

    def _title(self, query: str) -> None:
        n = len(self.hits)
        said = f"{n} hit{'s' if n != 1 else ''}" if query.strip() else ""
        title = Content.assemble(Content.styled("Search stored turns", "bold"), "  ", said)
        self.query_one("#search-title", Static).update(title)

    @on(Input.Submitted, "#search-input")
    def _enter(self) -> None:
        if self.hits:
            self._choose(self.hit_list.highlighted or 0)

    @on(OptionList.OptionSelected, "#search-hits")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def _choose(self, index: int) -> None:
        if 0 <= index < len(self.hits):
            self.chosen = self.hits[index]
            self.dismiss()

    def action_to_hits(self) -> None:
        if self.hits:
            self.hit_list.focus()
            if self.hit_list.highlighted is None:
                self.hit_list.highlighted = 0

    def action_back(self) -> None:
        self.dismiss()
