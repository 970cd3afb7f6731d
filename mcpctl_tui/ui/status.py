"""The status line under the input: who you talk to, how, and how fast it answered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from textual.content import Content
from textual.widgets import Static

from mcpctl_tui.store.types import LlmKind
from mcpctl_tui.store.views import AgentRow
from mcpctl_tui.ui.browse.panes import STATUS_STYLE
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


def render_status(info: StatusInfo) -> Content:
    a = info.agent
    if a is None:
        return Content.styled("no agent selected", "dim")
    sep = (" · ", "dim")
    parts: list[Content | str | tuple[str, str]] = [
        literal(a.name, "bold"),
        sep,
        literal(info.personality or "none", "italic"),
        sep,
        literal(f"{a.llm_name}/{a.llm_model}" if a.llm_model else a.llm_name),
        sep,
        Content.styled(
            f"{a.kind.value}/{a.status.value}",
            STATUS_STYLE[a.status] if a.kind == LlmKind.VIRTUAL else "dim",
        ),
    ]
    if info.overrides:
        ov = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(info.overrides.items()))
        parts += [sep, literal(ov, "$warning")]
    if info.system_replaced:
        parts += [sep, Content.styled("system replaced", "$warning")]
    s = info.stats
    figures = []
    if s.state:
        figures.append(s.state)
    if s.output_tokens is not None:
        figures.append(f"{s.output_tokens} tok")
    if s.ttft_ms is not None:
        figures.append(f"ttft {s.ttft_ms:.0f} ms")
    if s.tokens_per_s is not None:
        figures.append(f"{s.tokens_per_s:.1f} tok/s")
    if figures:
        parts += [sep, Content.styled("  ".join(figures), "dim")]
    return Content.assemble(*parts)


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """

    def show(self, info: StatusInfo) -> None:
        self.update(render_status(info))
