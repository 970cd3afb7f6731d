"""The status line under the input: who you talk to, how, and how fast it answered.

One row at any width: it drops details rather than wrap or cut off the reply's state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from textual.content import Content
from textual.widgets import Static

from mcpctl_tui.store.agents import AgentRow
from mcpctl_tui.store.types import LlmKind
from mcpctl_tui.ui.browse.agent_row import STATUS_STYLE
from mcpctl_tui.ui.text import literal


@dataclass(slots=True)
class ReplyStats:
    output_tokens: int | None = None
    input_tokens: int | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    state: str = ""  # streaming / cancelled / error / done


@dataclass(slots=True)
class StatusInfo:
    agent: AgentRow | None = None
    personality: str | None = None  # display name ("none", "default: x")
    overrides: dict[str, Any] = field(default_factory=dict)
    system_replaced: bool = False
    stats: ReplyStats = field(default_factory=ReplyStats)


SEP = Content.styled(" · ", "dim")
GAP = 2  # between the identity (left) and the figures (right)
UNBOUNDED = 10_000  # "no width limit": before the first layout, and for tests
# (model, override values, ttft, rate): richest first, the first that fits is shown.
_DETAIL = (
    (True, True, True, True),
    (True, True, False, True),
    (True, True, False, False),
    (False, True, False, False),
    (False, False, False, False),
)


def _identity(info: StatusInfo, *, model: bool, override_values: bool) -> Content:
    a = info.agent
    assert a is not None
    llm = f"{a.llm_name}/{a.llm_model}" if model and a.llm_model else a.llm_name
    parts = [
        literal(a.name, "bold"),
        literal(info.personality or "none", "italic"),
        literal(llm),
        Content.styled(
            f"{a.kind.value}/{a.status.value}",
            STATUS_STYLE[a.status] if a.kind == LlmKind.VIRTUAL else "dim",
        ),
    ]
    if info.overrides:
        n = len(info.overrides)
        ov = (
            " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(info.overrides.items()))
            if override_values
            else f"{n} override{'s' if n != 1 else ''}"
        )
        parts.append(literal(ov, "$warning"))
    if info.system_replaced:
        parts.append(Content.styled("system replaced", "$warning"))
    return SEP.join(parts)


def _figures(s: ReplyStats, *, ttft: bool, rate: bool) -> Content:
    figures = []
    if s.state:
        figures.append(s.state)
    if s.output_tokens is not None:
        figures.append(f"{s.output_tokens} tok")
    if ttft and s.ttft_ms is not None:
        figures.append(f"ttft {s.ttft_ms:.0f} ms")
    if rate and s.tokens_per_s is not None:
        figures.append(f"{s.tokens_per_s:.1f} tok/s")
    return Content.styled("  ".join(figures), "dim")


def render_status(info: StatusInfo, width: int = UNBOUNDED) -> Content:
    """One line of at most ``width`` cells: who and how on the left, the last reply's
    figures on the right. When it does not fit, the details go first (time to first
    token, the rate, the model, the override values: "2 overrides"), then the left side
    is cut with an ellipsis; the reply's state always stays in view."""
    if info.agent is None:
        return Content.styled("no agent selected", "dim")
    left = right = Content("")
    for model, values, ttft, rate in _DETAIL:
        left = _identity(info, model=model, override_values=values)
        right = _figures(info.stats, ttft=ttft, rate=rate)
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


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = StatusInfo()

    def show(self, info: StatusInfo) -> None:
        self.info = info
        self.update(render_status(info, self.content_size.width or UNBOUNDED))

    def on_resize(self) -> None:  # the layout depends on the width
        self.update(render_status(self.info, self.content_size.width or UNBOUNDED))
