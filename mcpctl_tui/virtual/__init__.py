"""mcpctl_tui.virtual"""
