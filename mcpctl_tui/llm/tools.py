"""Merging streamed tool-call fragments into the OpenAI ``tool_calls`` list a turn stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcpctl_tui.llm.events import ToolCallDelta


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAccumulator:
    """Feed every ToolCallDelta (``add``); ``result()`` gives
    ``[{"id", "type": "function", "function": {"name", "arguments"}}]`` ordered by index.

    Fragments with the same index are one call: the first id wins, a name is set once
    (a repeat of the same name is ignored, a different piece is appended, for servers
    that stream names), arguments are concatenated. A call that never got an id gets
    ``call_<index>`` (Ollama sends none) and empty arguments become ``"{}"``.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _Call] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = _Call()
        if delta.id and call.id is None:
            call.id = delta.id
        if delta.name and delta.name != call.name:
            call.name += delta.name
        if delta.arguments:
            call.arguments.append(delta.arguments)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def result(self) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": "".join(call.arguments) or "{}"},
            }
            for index, call in sorted(self._calls.items())
        ]
