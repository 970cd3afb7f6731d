"""Errors the chat engine raises before anything is sent, with operator-ready messages."""

from __future__ import annotations


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
