"""What the UI needs from the chat engine: the methods of ``ChatService`` it calls.

The app never talks HTTP or SQL for a reply. The engine stores the user turn before the
first event and the assistant turn when the stream ends (complete, error, or cancelled
when the iteration is cancelled), so cancelling the worker that iterates is how Esc
cancels. Tests and the benchmark pass a real ``ChatService``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from mcpctl_tui.chat.context import NO_PERSONALITY, ChatContext, ChatOverrides
from mcpctl_tui.chat.events import ChatEvent

__all__ = ["NO_PERSONALITY", "ChatBackend"]


class ChatBackend(Protocol):
    def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        edit_turn: int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...

    def regenerate(
        self,
        thread_id: int,
        *,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        at_turn: int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...

    async def save_overrides(
        self, agent: int | str, overrides: ChatOverrides
    ) -> dict[str, Any]: ...

    async def rename_thread(self, thread_id: int, title: str) -> None: ...

    async def list_models(self, llm_type: str, url: str, api_key_ref: str | None) -> list[str]: ...

    async def prepare(
        self,
        agent: int | str,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> ChatContext: ...
