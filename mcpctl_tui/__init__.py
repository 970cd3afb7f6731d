"""mcpctl-tui: a terminal application for operators of an agent platform."""

__version__ = "0.1.0"
