"""Binding the UI's ``ChatBackend`` to the chat engine.

``make_backend(store)`` is what the app uses. INTERIM: until the ``chat`` branch's
ChatService is merged this is a stand-in with the same storage contract (user turn stored
before the first event; assistant turn stored complete / error / cancelled with the partial
text) that echoes the message back, like the ``echo`` LLM type does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from mcpctl_tui.llm.events import Finish, StreamEvent, TextDelta, Usage
from mcpctl_tui.store import queries
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.types import MessageRole, MessageStatus
from mcpctl_tui.ui.backend import ChatBackend, SendSpec


class _EchoStandIn:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def stream(self, spec: SendSpec) -> AsyncIterator[StreamEvent]:
        if spec.text is not None:
            await queries.append_message(
                self.store,
                spec.thread_id,
                queries.NewMessage(role=MessageRole.USER, content=spec.text),
            )
            prompt = spec.text
        else:
            async with self.store.session() as s:
                rows = await queries.last_messages(s, spec.thread_id, 20)
            prompt = next((m.content for m in reversed(rows) if m.role == "user"), "")
        row = await queries.append_message(
            self.store,
            spec.thread_id,
            queries.NewMessage(role=MessageRole.ASSISTANT, status=MessageStatus.PENDING),
        )
        sent: list[str] = []
        status = MessageStatus.CANCELLED
        try:
            for i in range(0, len(prompt), 4):
                await asyncio.sleep(0.01)
                sent.append(prompt[i : i + 4])
                yield TextDelta(prompt[i : i + 4])
            yield Usage(len(prompt) // 4, len(prompt) // 4)
            yield Finish("stop")
            status = MessageStatus.COMPLETE
        finally:
            await queries.finish_message(self.store, row.id, content="".join(sent), status=status)


def make_backend(store: Store) -> ChatBackend:
    return _EchoStandIn(store)
