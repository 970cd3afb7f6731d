"""McpSession against real MCP servers (tests/support/mcp_servers.py), over stdio and HTTP."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import psutil
import pytest

from mcpctl_tui.tools.mcp_session import (
    McpError,
    McpSession,
    ServerSpec,
    ToolInfo,
    list_server_tools,
)
from tests.support.mcp_servers import HOSTILE_TEXT, free_port, http_server, stdio_spec

TRANSPORTS = ["stdio", "http"]


@pytest.fixture(params=TRANSPORTS)
async def spec(request: pytest.FixtureRequest) -> AsyncIterator[ServerSpec]:
    if request.param == "stdio":
        yield stdio_spec()
    else:
        async with http_server() as s:
            yield s


def server_children() -> list[psutil.Process]:
    """This process's live children running the stdio test server."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "tests.support.mcp_servers" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found


def gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def assert_one_line(err: McpError) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text
    # Nothing chained: a traceback printed for it would show no SDK internals.
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    return text


# --- tools and calls ------------------------------------------------------------------


async def test_list_tools(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        tools = {t.name: t for t in await s.list_tools()}
    assert set(tools) >= {"echo", "add", "fail", "sleep", "hostile", "exit_now"}
    assert all(t.server == spec.name for t in tools.values())
    assert tools["echo"].description == "Return the text unchanged."
    assert tools["echo"].schema_summary() == "text: string (required)"
    assert tools["add"].schema_summary() == "a: integer (required), b: integer (required)"
    assert tools["sleep"].schema_summary() == "seconds: number (required)"
    assert tools["hostile"].schema_summary() == "no arguments"
    assert tools["add"].input_schema["type"] == "object"


async def test_list_server_tools() -> None:
    tools = await list_server_tools(stdio_spec("docs"))
    assert "echo" in [t.name for t in tools] and {t.server for t in tools} == {"docs"}


async def test_calls(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        echo = await s.call_tool("echo", {"text": "héllo\nworld"})
        add = await s.call_tool("add", {"a": 2, "b": 40})
    assert (echo.text, echo.is_error) == ("héllo\nworld", False)
    assert (add.text, add.is_error) == ("42", False)
    assert echo.duration_ms > 0


async def test_tool_errors_are_results(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        failed = await s.call_tool("fail", {"message": "disk on fire"})
        crashed = await s.call_tool("crash", {})
        unknown = await s.call_tool("nosuch", {})
        bad_args = await s.call_tool("add", {"a": "x"})
        after = await s.call_tool("echo", {"text": "still here"})
    assert failed.is_error and "disk on fire" in failed.text
    # The SDK hides an unexpected exception's text from the client.
    assert crashed.is_error and "secret internals" not in crashed.text
    assert unknown.is_error and "nosuch" in unknown.text
    assert bad_args.is_error and bad_args.text
    assert (after.text, after.is_error) == ("still here", False)


async def test_hostile_text_is_verbatim(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        result = await s.call_tool("hostile", {})
    assert result.text == HOSTILE_TEXT  # escapes, markup and NUL: the caller sanitises


async def test_call_timeout(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        t0 = time.monotonic()
        with pytest.raises(McpError) as caught:
            await s.call_tool("sleep", {"seconds": 30}, timeout=0.5)
        assert time.monotonic() - t0 < 3
        assert assert_one_line(caught.value) == (
            f"mcp server {spec.name}: tool sleep gave no result within 0.5 s"
        )
        # The session survives a slow tool.
        assert (await s.call_tool("echo", {"text": "ok"})).text == "ok"


async def test_server_dies_mid_call(spec: ServerSpec) -> None:
    async with McpSession(spec) as s:
        t0 = time.monotonic()
        with pytest.raises(McpError) as caught:
            await s.call_tool("exit_now", {"code": 3}, timeout=30)
        assert time.monotonic() - t0 < 5
        with pytest.raises(McpError) as again:
            await s.call_tool("echo", {"text": "x"}, timeout=30)
    text = assert_one_line(caught.value)
    assert_one_line(again.value)
    if spec.transport == "stdio":
        assert text == "mcp server fs: exited (code 3) during tool exit_now"
    else:
        assert text == f"mcp server web: {spec.url} closed the connection during tool exit_now"


# --- startup failures -----------------------------------------------------------------


async def test_bad_command() -> None:
    spec = ServerSpec(name="fs", transport="stdio", command=("nosuch-mcp-cmd", "--x"))
    with pytest.raises(McpError) as caught:
        async with McpSession(spec):
            pass
    assert assert_one_line(caught.value) == (
        "mcp server fs: cannot start 'nosuch-mcp-cmd' (No such file or directory)"
    )


async def test_server_exits_before_answering() -> None:
    spec = ServerSpec("fs", "stdio", (sys.executable, "-c", "import sys; sys.exit(3)"))
    with pytest.raises(McpError) as caught:
        async with McpSession(spec):
            pass
    assert assert_one_line(caught.value) == "mcp server fs: exited (code 3) before answering"


async def test_silent_server() -> None:
    spec = ServerSpec("fs", "stdio", (sys.executable, "-c", "import time; time.sleep(60)"))
    t0 = time.monotonic()
    with pytest.raises(McpError) as caught:
        async with McpSession(spec, timeout=0.5):
            pass
    # The SDK's shutdown gives a server 2 s to exit on its own before terminating it.
    assert time.monotonic() - t0 < 6
    assert assert_one_line(caught.value) == "mcp server fs: no answer within 0.5 s"
    assert server_children() == []
    assert not [p for p in psutil.Process().children() if not gone(p)]


async def test_refused_connection() -> None:
    port = free_port()
    secret = "s3cret-token"
    spec = ServerSpec(
        "web",
        "http",
        url=f"http://user:{secret}@127.0.0.1:{port}/mcp?key={secret}",
        headers={"Authorization": f"Bearer {secret}"},
    )
    t0 = time.monotonic()
    with pytest.raises(McpError) as caught:
        async with McpSession(spec):
            pass
    assert time.monotonic() - t0 < 5
    text = assert_one_line(caught.value)
    assert text == f"mcp server web: http://127.0.0.1:{port}/mcp refused the connection"
    assert secret not in repr(spec)


async def test_wrong_http_path() -> None:
    async with http_server() as spec:
        wrong = ServerSpec("web", "http", url=spec.url.replace("/mcp", "/nope"))
        with pytest.raises(McpError) as caught:
            async with McpSession(wrong):
                pass
    assert assert_one_line(caught.value) == f"mcp server web: {wrong.url} answered HTTP 404"


async def test_child_env_is_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPCTL_PARENT_SECRET", "do-not-leak")
    spec = stdio_spec()
    spec = ServerSpec(spec.name, "stdio", spec.command, {**spec.env, "GIVEN": "yes"}, cwd=spec.cwd)
    async with McpSession(spec) as s:
        leaked = await s.call_tool("getenv", {"name": "MCPCTL_PARENT_SECRET"})
        given = await s.call_tool("getenv", {"name": "GIVEN"})
        path = await s.call_tool("getenv", {"name": "PATH"})
    assert (leaked.text, given.text) == ("", "yes")
    assert path.text
    assert "yes" not in repr(spec)  # env values may be secrets


async def test_http_headers_are_sent() -> None:
    async with (
        http_server(headers={"X-Api-Key": "k-123"}) as spec,
        McpSession(spec) as s,
    ):
        got = await s.call_tool("header", {"name": "X-Api-Key"})
    assert (got.text, got.is_error) == ("k-123", False)
    assert "k-123" not in repr(spec)


# --- the stdio child never outlives the session ---------------------------------------


async def test_child_gone_after_normal_exit() -> None:
    async with McpSession(stdio_spec()) as s:
        await s.call_tool("echo", {"text": "x"})
        children = server_children()
        assert len(children) == 1
    assert all(gone(p) for p in children)


async def test_child_gone_after_body_raised() -> None:
    children: list[psutil.Process] = []
    with pytest.raises(RuntimeError, match="body failed"):
        async with McpSession(stdio_spec()):
            children = server_children()
            raise RuntimeError("body failed")
    assert len(children) == 1 and all(gone(p) for p in children)


async def test_child_gone_after_cancel_mid_call() -> None:
    calling = asyncio.Event()

    async def body() -> None:
        async with McpSession(stdio_spec()) as s:
            calling.set()
            await s.call_tool("sleep", {"seconds": 60})

    task = asyncio.create_task(body())
    await asyncio.wait_for(calling.wait(), 20)
    await asyncio.sleep(0.3)  # the call is in flight
    children = server_children()
    assert len(children) == 1
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 6
    assert all(gone(p) for p in children)


async def test_child_gone_after_cancel_during_startup() -> None:
    spec = ServerSpec("fs", "stdio", (sys.executable, "-c", "import time; time.sleep(60)"))
    task = asyncio.create_task(McpSession(spec, timeout=30).__aenter__())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [p for p in psutil.Process().children() if not gone(p)]


# --- pure parts -----------------------------------------------------------------------


def test_schema_summary_shapes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "depth": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "mode": {"enum": ["a", "b"]},
            "opts": {"$ref": "#/$defs/Options"},
        },
        "required": ["path"],
    }
    info = ToolInfo("fs", "walk", "", schema)
    assert info.schema_summary() == (
        "path: string (required), depth: integer, tags: array of string, "
        "limit: integer|null, mode: enum, opts: Options"
    )
    assert ToolInfo("fs", "x", "", {}).schema_summary() == "no arguments"
