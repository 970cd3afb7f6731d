"""SessionPool with the real stdio test server: reuse, one start for racing callers, a
re-specified server restarted, a dead one dropped and started again, idle sessions and
the pool's close ending their processes; tool names as a model is offered them."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mcpctl_tui.tools.mcp_session import McpError, ToolInfo
from mcpctl_tui.tools.pool import SessionPool, offers
from tests.support.mcp_servers import stdio_spec
from tests.support.pilot import wait_for
from tests.tools.test_mcp_session import gone, server_children


async def test_reused_started_once_and_closed_with_the_pool() -> None:
    pool = SessionPool()
    spec = stdio_spec()
    try:
        names = await asyncio.gather(*(pool.tools(spec) for _ in range(3)))  # racing
        assert all(n == names[0] for n in names) and "echo" in {t.name for t in names[0]}
        assert len(server_children()) == 1
        result = await pool.call(spec, "add", {"a": 2, "b": 3})
        assert (result.text, result.is_error) == ("5", False)
        assert len(server_children()) == 1  # the same session
        (child,) = server_children()
    finally:
        await pool.aclose()
    assert gone(child) and len(pool) == 0
    with pytest.raises(McpError, match="the app is closing"):
        await pool.tools(spec)


async def test_a_respecified_server_restarts_and_a_dead_one_is_started_again() -> None:
    pool = SessionPool()
    spec = stdio_spec()
    try:
        await pool.tools(spec)
        (first,) = server_children()
        moved = dataclasses.replace(spec, env={**spec.env, "EXTRA": "1"})
        await pool.tools(moved)
        assert gone(first)
        (second,) = server_children()
        with pytest.raises(McpError, match="exited"):
            await pool.call(moved, "exit_now", {"code": 3})
        assert len(pool) == 0  # dropped at once
        again = await pool.call(moved, "echo", {"text": "back"})
        assert again.text == "back"
        assert gone(second) and len(server_children()) == 1
    finally:
        await pool.aclose()
    assert server_children() == []


async def test_an_idle_session_is_closed() -> None:
    pool = SessionPool(idle=0.5)
    try:
        await pool.tools(stdio_spec())
        (child,) = server_children()
        await wait_for(lambda: len(pool) == 0)
        await wait_for(lambda: gone(child))
        assert (await pool.call(stdio_spec(), "echo", {"text": "x"})).text == "x"  # restarts
    finally:
        await pool.aclose()


def test_offered_names_are_clean_unique_and_map_back() -> None:
    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    tools = [
        ToolInfo("fs", "read_file", "Read a file", schema),
        ToolInfo("fs", "read.file", "Another", {}),
        ToolInfo("web search", "get", "", {}),
        ToolInfo("s" * 40, "t" * 40, "", {}),
    ]
    got = offers(tools)
    assert [o.function for o in got[:3]] == ["fs__read_file", "fs__read_file_2", "web_search__get"]
    assert len(got[3].function) == 64
    assert [(o.server, o.tool) for o in got] == [(t.server, t.name) for t in tools]
    assert got[0].as_function() == {
        "type": "function",
        "function": {"name": "fs__read_file", "description": "Read a file", "parameters": schema},
    }
    assert got[1].as_function()["function"]["parameters"] == {"type": "object", "properties": {}}
