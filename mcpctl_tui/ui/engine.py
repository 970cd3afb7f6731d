"""The chat engine the app runs on (one ``ChatService`` per app), and its bounds."""

from __future__ import annotations

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.engine import Store
from mcpctl_tui.virtual.dispatch import DispatchOptions


def make_backend(store: Store) -> ChatService:
    return ChatService.wired(store)


def heartbeat_timeout() -> float:
    """How long a virtual LLM's publisher may be silent before it counts as offline: the
    bound the wired dispatcher refuses sends by (config file, else the default), so an
    agent shows inactive exactly when a send to it would be refused."""
    return DispatchOptions.from_settings().heartbeat_timeout
