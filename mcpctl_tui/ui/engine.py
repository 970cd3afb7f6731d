"""The chat engine the app runs on (one ``ChatService`` per app)."""

from __future__ import annotations

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.engine import Store


def make_backend(store: Store) -> ChatService:
    return ChatService.wired(store)
