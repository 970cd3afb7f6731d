"""What goes to an adapter: the endpoint and the request, provider-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of history. tool_calls use the OpenAI shape
    ``[{"id", "type": "function", "function": {"name", "arguments"}}]``."""

    role: str  # system | user | assistant | tool
    content: str
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach a model. ``api_key`` is resolved at call time, never stored."""

    type: str
    url: str
    model: str
    api_key: str | None = None

    def __repr__(self) -> str:  # keys never show up in logs or tracebacks
        key = "***" if self.api_key else None
        return (
            f"Endpoint(type={self.type!r}, url={self.url!r}, model={self.model!r}, api_key={key})"
        )


@dataclass(frozen=True, slots=True)
class InferenceRequest:
    system: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
