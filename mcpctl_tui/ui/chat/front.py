"""The chat panel as the slash commands see it (``chat.commands.run`` works on it)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mcpctl_tui.chat import commands
from mcpctl_tui.ui.backend import ChatBackend

if TYPE_CHECKING:
    from mcpctl_tui.ui.chat.panel import ChatPanel


class PanelFront:
    """The chat panel's session as the slash commands work on it."""

    def __init__(self, panel: ChatPanel) -> None:
        self.panel = panel

    @property
    def settings(self) -> commands.SessionSettings:
        return self.panel.state.settings

    @settings.setter
    def settings(self, value: commands.SessionSettings) -> None:
        self.panel.state = replace(self.panel.state, settings=value)

    @property
    def thread_id(self) -> int | None:
        return self.panel.state.thread_id

    @property
    def save_target(self) -> ChatBackend:
        return self.panel.backend

    async def agent(self) -> commands.AgentRef:
        state = self.panel.state
        if state.agent is None:
            raise commands.CommandError("add an agent first (Ctrl+P → New agent)")
        return commands.AgentRef(
            state.agent.id, state.agent.name, state.personality_label, state.personalities
        )

    async def new_thread(self) -> None:
        await self.panel.start_new_thread()

    async def thread_renamed(self, title: str) -> None:
        self.panel.state = replace(self.panel.state, title=title)
        self.panel.post_message(self.panel.ThreadsChanged())
