"""Errors the chat engine raises before anything is sent, with operator-ready messages."""

from __future__ import annotations

from mcpctl_tui.llm.events import ErrorKind


class ChatError(Exception):
    """A chat request that cannot be built (bad personality, bad parameter …)."""


class UnknownPersonality(ChatError):
    def __init__(self, agent: str, name: str, available: list[str]) -> None:
        shown = ", ".join(available) if available else "none"
        super().__init__(f"agent {agent} has no personality {name!r} (personalities: {shown})")
        self.agent = agent
        self.name = name
        self.available = available


class InvalidParam(ChatError):
    """A per-call parameter that cannot be sent or saved (a literal secret, NaN …)."""


class Refused(ChatError):
    """The LLM cannot be asked now (its API key reference does not resolve, its type is
    unknown, its virtual publisher is offline …): raised before the thread or the user
    turn is written, so a refused chat leaves nothing behind. One line."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.CONFIG) -> None:
        super().__init__(message)
        self.kind = kind
