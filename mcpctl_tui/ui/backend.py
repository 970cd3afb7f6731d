"""What the UI needs from the chat engine, as one small protocol.

The app never talks HTTP or SQL for a reply: it builds a ``SendSpec`` and iterates the
typed events of ``ChatBackend.stream``. The engine stores the user turn before the first
event and the assistant turn when the stream ends (complete, error, or cancelled when the
iteration is cancelled), so cancelling the worker that iterates is how Esc cancels.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcpctl_tui.llm.events import StreamEvent

NO_PERSONALITY = ""  # an explicit "none" (None means: the agent's default)


@dataclass(frozen=True, slots=True)
class SendSpec:
    agent_id: int
    thread_id: int
    text: str | None  # None: regenerate the last reply from the stored history
    personality: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    system_replace: str | None = None


class ChatBackend(Protocol):
    def stream(self, spec: SendSpec) -> AsyncIterator[StreamEvent]: ...
