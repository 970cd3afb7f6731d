"""The status line under the input: who you talk to, how, and how fast it answered.

One row at any width: it drops details rather than wrap or cut off the reply's state.
Until a reply's first token it says what the reply waits for and for how long
("waiting 4 s for first byte from api.example.com"), ticking once a second.
It shows the chat panel's ``state`` and ``stats``, bound to them (``data_bind``)."""

from __future__ import annotations

import json
from time import monotonic

from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from mcpctl_tui.store.types import LlmKind
from mcpctl_tui.store.usage import reply_cost_text
from mcpctl_tui.ui.browse.agent_row import STATUS_STYLE
from mcpctl_tui.ui.state import ChatState, ReplyStats
from mcpctl_tui.ui.text import literal

SEP = Content.styled(" · ", "dim")
GAP = 2  # between the identity (left) and the figures (right)
UNBOUNDED = 10_000  # "no width limit": before the first layout, and for tests
# (model, override values, ttft, rate, the reply's tokens beside its cost): richest
# first, the first that fits is shown.
_DETAIL = (
    (True, True, True, True, True),
    (True, True, False, True, True),
    (True, True, False, False, True),
    (False, True, False, False, True),
    (False, False, False, False, True),
    (False, False, False, False, False),
)


def _identity(state: ChatState, *, model: bool, override_values: bool) -> Content:
    a = state.agent
    assert a is not None
    llm = f"{a.llm_name}/{a.llm_model}" if model and a.llm_model else a.llm_name
    tried = state.settings.overrides.llm  # /llm: another LLM for this session
    overrides = state.settings.params
    parts = [
        literal(a.name, "bold"),
        literal(state.personality_label, "italic"),
        literal(llm) if tried is None else literal(f"{tried} (/llm)", "$warning"),
        Content.styled(
            f"{a.kind.value}/{a.status.value}",
            STATUS_STYLE[a.status] if a.kind == LlmKind.VIRTUAL else "dim",
        ),
    ]
    if overrides:
        n = len(overrides)
        ov = (
            " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(overrides.items()))
            if override_values
            else f"{n} override{'s' if n != 1 else ''}"
        )
        parts.append(literal(ov, "$warning"))
    if state.settings.overrides.system is not None:
        parts.append(Content.styled("system replaced", "$warning"))
    return SEP.join(parts)


def _figures(s: ReplyStats, *, ttft: bool, rate: bool, tokens: bool) -> Content:
    figures = []
    if s.waiting and s.since is not None:
        figures.append(f"waiting {max(0, int(monotonic() - s.since))} s for {s.waiting}")
    elif s.state:
        figures.append(s.state)
    if s.ended:
        figures.append(reply_cost_text(s.input_tokens, s.output_tokens, s.prices, short=not tokens))
    elif s.output_tokens is not None:
        figures.append(f"{s.output_tokens} tok")
    if ttft and s.ttft_ms is not None:
        figures.append(f"ttft {s.ttft_ms:.0f} ms")
    if rate and s.tokens_per_s is not None:
        figures.append(f"{s.tokens_per_s:.1f} tok/s")
    return Content.styled("  ".join(figures), "dim")


def render_status(state: ChatState, stats: ReplyStats, width: int = UNBOUNDED) -> Content:
    """One line of at most ``width`` cells: who and how on the left, the last reply's
    figures on the right. When it does not fit, the details go first (time to first
    token, the rate, the model, the override values: "2 overrides", the reply's token
    counts beside its cost), then the left side is cut with an ellipsis; the reply's
    state always stays in view."""
    if state.agent is None:
        return Content.styled("no agent selected", "dim")
    left = right = Content("")
    for model, values, ttft, rate, tokens in _DETAIL:
        left = _identity(state, model=model, override_values=values)
        right = _figures(stats, ttft=ttft, rate=rate, tokens=tokens)
        if left.cell_length + GAP + right.cell_length <= width:
            break
    else:
        right = right.truncate(width, ellipsis=True)
        room = width - right.cell_length - (GAP if right else 0)
        left = left.truncate(max(room, 0), ellipsis=True)
    if not right:
        return left
    pad = GAP if width >= UNBOUNDED else width - left.cell_length - right.cell_length
    return Content.assemble(left, " " * max(pad, GAP if left else 0), right)


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """

    state: reactive[ChatState] = reactive(ChatState)
    stats: reactive[ReplyStats] = reactive(ReplyStats)

    _tick: Timer | None = None

    def watch_stats(self, stats: ReplyStats) -> None:
        # While a reply waits for its first token the elapsed time ticks, once a second.
        if stats.waiting and self._tick is None:
            self._tick = self.set_interval(1.0, self.refresh)
        elif not stats.waiting and self._tick is not None:
            self._tick.stop()
            self._tick = None

    def render(self) -> Content:  # the layout depends on the width: rendered at it
        return render_status(self.state, self.stats, self.content_size.width or UNBOUNDED)
