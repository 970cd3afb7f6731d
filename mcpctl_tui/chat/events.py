"""What ``ChatService.send`` yields: a ``TurnStarted``, the model's deltas, a ``TurnEnded``.

The deltas are the adapters' own event objects (``TextDelta``, ``ThinkingDelta``,
``ToolCallDelta``, ``Usage``, and ``Waiting`` before the first) passed through unwrapped:
they belong to the turn the last ``TurnStarted`` announced (one ``send`` is one turn).
``Finish`` and ``StreamError`` are folded into ``TurnEnded``. A cancelled turn ends
without ``TurnEnded`` (a cancelled generator cannot yield); it is stored as ``cancelled``
all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpctl_tui.llm.events import (
    ErrorKind,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    Waiting,
)
from mcpctl_tui.store.types import LlmKind, MessageStatus, Prices


@dataclass(frozen=True, slots=True)
class TurnStarted:
    thread_id: int
    thread_title: str
    new_thread: bool
    user_message_id: int | None  # None when regenerating (the user turn already exists)
    assistant_message_id: int  # stored as ``pending`` until the turn ends
    assistant_turn_index: int  # its place in the thread (the user turn, if any: one before)
    agent: str
    personality: str | None
    model: str
    llm: str
    llm_kind: LlmKind
    prices: Prices | None = None  # the LLM's, for the reply's cost (None: not priced)
    replaced_message_ids: tuple[int, ...] = ()  # turns that left the current path (a branch)


# Below this much time between the first delta and the end, tokens/s is not shown.
MIN_RATE_WINDOW_MS = 10.0


@dataclass(frozen=True, slots=True)
class TurnEnded:
    thread_id: int
    assistant_message_id: int
    status: MessageStatus  # complete | error (cancelled turns yield nothing)
    text: str
    thinking: str
    tool_calls: list[dict[str, Any]] | None
    error: str | None
    error_kind: ErrorKind | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttft_ms: float | None  # from the call to the first delta; None if none came
    duration_ms: float
    chunks: int  # content deltas received

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens over the generation time (first delta to end).

        None when that window is too short to be a rate: a reply that arrives in one read
        (the echo LLM, a cached or non-streaming server) would otherwise show "190000 tok/s".
        """
        if not self.output_tokens or self.ttft_ms is None:
            return None
        gen_ms = self.duration_ms - self.ttft_ms
        return self.output_tokens / (gen_ms / 1000) if gen_ms >= MIN_RATE_WINDOW_MS else None

    def footer(self) -> str:
        """The one-line stats summary the CLI prints (tokens, ttft, tokens/s)."""
        tokens = (
            f"{self.input_tokens if self.input_tokens is not None else '?'} in / "
            f"{self.output_tokens if self.output_tokens is not None else '?'} out"
        )
        ttft = f"ttft {self.ttft_ms:.0f} ms" if self.ttft_ms is not None else "ttft -"
        tps = self.tokens_per_s
        rate = f"{tps:.1f} tok/s" if tps is not None else "- tok/s"
        return f"{tokens} · {ttft} · {rate} · {self.duration_ms / 1000:.2f} s"


ChatEvent = TurnStarted | Waiting | TextDelta | ThinkingDelta | ToolCallDelta | Usage | TurnEnded
