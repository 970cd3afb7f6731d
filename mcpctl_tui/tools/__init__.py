"""Tools an agent can call: MCP servers (``mcp_session``)."""
