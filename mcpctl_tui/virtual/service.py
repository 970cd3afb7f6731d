"""The name the chat CLI looks up (``mcpctl_tui.virtual.service.VirtualLlmService``)."""

from __future__ import annotations

from mcpctl_tui.virtual.dispatch import DispatchOptions, VirtualLlmService

__all__ = ["DispatchOptions", "VirtualLlmService"]
