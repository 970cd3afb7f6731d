"""mcpctl_tui.chat"""
