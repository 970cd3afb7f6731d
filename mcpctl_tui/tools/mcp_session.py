"""A session with one MCP server: start it, list its tools, call them, stop it.

Rules kept here:

- The protocol is the official SDK's (``mcp.Client`` over its ``stdio_client`` or
  ``streamable_http_client``): nothing here frames, parses or negotiates messages.
- A stdio server gets a minimal environment (the SDK's PATH, HOME, USER, SHELL, TERM,
  plus the locale and TMPDIR) with the spec's resolved ``env`` on top: the parent's
  environment, and the secrets in it, never reach the child. Its stderr goes to
  ``errlog``, or nowhere: a TUI's terminal is not the child's to write on.
- The SDK's task groups live in a task of the session's own (the owner): a crashing
  transport ends the session instead of cancelling whichever task was calling, a startup
  timeout can abandon a half-open client, and the session may be left in another task.
- Every failure reaches the caller as ``McpError``: one line an operator can read,
  naming the server. Never a traceback (nothing is chained), never a header or an
  environment value (they may be secrets); a URL is shown without userinfo or query.
- A tool's own failure (it raised, returned ``isError``, or the server refused the call
  with a JSON-RPC error) is a result, ``ToolResult(is_error=True)``, for the model to
  read. The server failing (it cannot start, dies, stays silent past the timeout,
  answers nonsense) is ``McpError``.
- Tool names, descriptions and results are handed over verbatim: they are untrusted
  (escape sequences, markup, NUL) and the caller sanitises them for where it puts them.
- Startup (spawn or connect, then the handshake) and a listing are bounded by
  ``timeout``; each tool call by its own.
- Leaving the session always stops a stdio server, also when the body raised or was
  cancelled: the SDK closes its stdin, then terminates and kills its process group, each
  wait bounded. A cancelled exit waits for that first, then re-raises the cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO, cast
from urllib.parse import urlsplit

import httpx2
import mcp.types as mt
from anyio.abc import Process
from mcp import Client, MCPError, StdioServerParameters
from mcp.client import Transport
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

# The SDK logs transport trouble (a line of garbage, a failed POST) with tracebacks; with
# no handler configured, logging's last resort would write them over the TUI's screen.
# What matters reaches the caller as McpError; an application that wants the SDK's log
# still gets it through the root logger's handlers.
logging.getLogger("mcp").addHandler(logging.NullHandler())

# Added to the SDK's own minimal set (get_default_environment) so a child decodes and
# formats text as the operator's shell would, and finds its temporary directory.
_PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR")

# A bound on leaving: past it the owner is cancelled, which aborts HTTP requests still
# open (a DELETE to a hung server) but not the SDK's shielded stdio shutdown (itself
# bounded at about 6.5 s), so a child is still stopped.
_CLOSE_LIMIT = 10.0
# How long a closed connection waits for its child's exit to be seen, to name the code.
_REAP_WAIT = 1.0
_MAX_PAGES = 100  # of tools/list: a server paginating forever cannot hang a listing
_MESSAGE_LIMIT = 300  # characters of server-supplied text in an error message
_AT_START = "before answering"


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to reach one MCP server; ``env`` and ``headers`` hold resolved values."""

    name: str
    transport: Literal["stdio", "http"]
    command: tuple[str, ...] = ()  # argv (stdio)
    env: Mapping[str, str] = field(default_factory=dict)  # may hold secrets
    cwd: str | None = None
    url: str = ""  # streamable HTTP endpoint
    headers: Mapping[str, str] = field(default_factory=dict)  # may hold secrets

    def __repr__(self) -> str:
        # Logs and tracebacks show it: no env or header values, no URL userinfo or query,
        # and of the argv only the program (its arguments may carry a token).
        where = _shown_url(self.url) if self.transport == "http" else self.command[:1]
        return f"ServerSpec(name={self.name!r}, transport={self.transport!r}, {where!r})"


@dataclass(frozen=True, slots=True)
class ToolInfo:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]

    def schema_summary(self) -> str:
        """The arguments on one line, e.g. ``path: string (required), depth: integer``."""
        props = self.input_schema.get("properties")
        if not isinstance(props, dict) or not props:
            return "no arguments"
        required = self.input_schema.get("required")
        needed = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        flag = " (required)"
        return ", ".join(f"{n}: {_kind(p)}{flag * (n in needed)}" for n, p in props.items())


@dataclass(frozen=True, slots=True)
class ToolResult:
    text: str  # untrusted: verbatim from the server
    is_error: bool
    duration_ms: float


class McpError(Exception):
    """An MCP server failed; the message is one line, safe to show."""


def _kind(prop: object, depth: int = 0) -> str:
    if not isinstance(prop, dict) or depth > 3:
        return "any"
    kind = prop.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {_kind(prop.get('items'), depth + 1)}"
    if isinstance(kind, str):
        return kind
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if isinstance(options, list) and options:
            return "|".join(_kind(o, depth + 1) for o in options)
    ref = prop.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    return "enum" if "enum" in prop else "any"


def _one_line(text: str) -> str:
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= _MESSAGE_LIMIT else flat[: _MESSAGE_LIMIT - 1] + "…"


def _shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "its URL"
    return _one_line(f"{parts.scheme}://{host}{port}{parts.path}") if host else "its URL"


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    # The SDK adds its own minimal set under these (stdio_client merges them over it).
    env = {k: v for k in _PASSED_ENV if (v := os.environ.get(k)) is not None}
    env.update(extra)
    return env


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [] if isinstance(exc, asyncio.CancelledError) else [exc]


def _root(exc: BaseException) -> BaseException:
    """The one exception that says best what went wrong, out of the groups the SDK raises."""
    leaves = _leaves(exc) or [exc]

    def rank(e: BaseException) -> int:
        if isinstance(e, OSError | httpx2.HTTPError):
            return 0
        if isinstance(e, MCPError):
            return 2 if e.code == mt.CONNECTION_CLOSED else 1
        return 3

    return min(leaves, key=rank)


def _refused(exc: BaseException | None) -> bool:
    while exc is not None:  # down the chain: httpx2 wraps the socket's OSError
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _tool_text(result: mt.CallToolResult) -> str:
    parts = [_block_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


def _block_text(block: object) -> str:
    if isinstance(block, mt.TextContent):
        return block.text
    if isinstance(block, mt.ImageContent | mt.AudioContent):
        return f"[{block.type} {block.mime_type}]"
    if isinstance(block, mt.ResourceLink):
        return f"[resource link {block.uri}]"
    if isinstance(block, mt.EmbeddedResource):
        res = block.resource
        if isinstance(res, mt.TextResourceContents):
            return res.text
        return f"[resource {res.uri} {res.mime_type or 'binary'}]"
    return f"[{getattr(block, 'type', 'content')}]"


def _spawned(transport: object) -> Process | None:
    # The SDK keeps the child in its generator's frame and offers no handle on it; the
    # exit code it holds is what makes "exited (code 3)" possible. Without it (another
    # SDK, another Python), messages only lose the code.
    frame = getattr(getattr(transport, "gen", None), "ag_frame", None)
    process = getattr(frame, "f_locals", {}).get("process")
    return process if isinstance(process, Process) else None


class McpSession:
    """``async with McpSession(spec, timeout=10.0) as s:`` a started, initialised server.

    ``errlog`` receives a stdio server's stderr (default: discarded).
    """

    def __init__(self, spec: ServerSpec, timeout: float = 10.0, *, errlog: TextIO | None = None):
        self.spec = spec
        self.timeout = timeout
        self._errlog = errlog
        self._client: Client | None = None
        self._spawned = False  # the stdio child was started
        self._process: Process | None = None  # and its handle, when the SDK lets us see it
        # The child's exit status as seen before anything stopped it: None while it ran.
        self._exit_code: int | None = None
        self._owner: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None  # what ended the owner, if not a close
        self._http_status: int | None = None  # of the last HTTP response, if an error

    # --- lifetime ----------------------------------------------------------------------

    async def __aenter__(self) -> McpSession:
        if self._owner is not None:
            raise RuntimeError("an McpSession is entered once")
        self._check_spec()
        self._started = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(self._started), name=f"mcp {self.spec.name}")
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                await asyncio.shield(self._started)
        except BaseException:  # a startup McpError, the timeout, or a cancellation
            await self._stop(abandon=True)
            if deadline.expired():
                raise self._error(f"no answer within {self.timeout:g} s") from None
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop(abandon=False)

    def _check_spec(self) -> None:
        spec = self.spec
        if spec.transport == "stdio":
            if not spec.command or not spec.command[0]:
                raise self._error("no command to start")
            if spec.cwd is not None and not os.path.isdir(spec.cwd):
                raise self._error(f"working directory {spec.cwd!r} does not exist")
        elif spec.transport == "http":
            if urlsplit(spec.url).scheme not in ("http", "https"):
                raise self._error(f"{_shown_url(spec.url)} is not an http(s) URL")
        else:
            raise self._error(f"unknown transport {spec.transport!r}")

    async def _own(self, started: asyncio.Future[None]) -> None:
        """The owner task: holds the SDK client open from start until the session closes."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = Client(await self._transport(stack), cache=None)
                await stack.enter_async_context(client)
                self._client = client
                started.set_result(None)
                await self._closing.wait()
        except Exception as exc:  # groups included: whatever the SDK raised, to be described
            self._failure = exc
            if not started.done():
                started.set_exception(self._describe(exc, _AT_START))
        finally:
            self._client = None

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Transport:
        spec = self.spec
        if spec.transport == "stdio":
            # The SDK wants a file for the child's stderr; opening /dev/null never blocks.
            errlog = self._errlog or stack.enter_context(open(os.devnull, "w"))  # noqa: ASYNC230, SIM115
            params = StdioServerParameters(
                command=spec.command[0],
                args=list(spec.command[1:]),
                env=_child_env(spec.env),
                cwd=spec.cwd,
            )
            return cast(Transport, self._watched(stdio_client(params, errlog=errlog)))
        # No read timeout: a tool may stream nothing for minutes, and each call is bounded
        # by its own timeout; leaving is bounded by _CLOSE_LIMIT.
        http = httpx2.AsyncClient(
            headers=dict(spec.headers),
            timeout=httpx2.Timeout(self.timeout, read=None),
            event_hooks={"response": [self._saw_response]},
        )
        await stack.enter_async_context(http)
        return streamable_http_client(spec.url, http_client=http)

    @contextlib.asynccontextmanager
    async def _watched(self, transport: Transport) -> AsyncIterator[Any]:
        async with transport as streams:
            self._spawned = True
            self._process = _spawned(transport)
            try:
                yield streams
            except Exception as exc:
                root = _root(exc)
                if isinstance(root, OSError) or getattr(root, "code", 0) == mt.CONNECTION_CLOSED:
                    # See how the child ended before the SDK stops it, or its own
                    # "exit 3" would read as our SIGTERM.
                    await self._await_exit()
                raise

    async def _saw_response(self, response: httpx2.Response) -> None:
        self._http_status = response.status_code if response.status_code >= 400 else None

    async def _stop(self, *, abandon: bool) -> None:
        """End the owner (``abandon``: cancel it at once) and wait out its shutdown."""
        owner = self._owner
        if owner is None:
            return
        self._closing.set()
        if abandon:
            owner.cancel()
        interrupted = False
        limit: float | None = _CLOSE_LIMIT
        while not owner.done():
            try:
                await asyncio.wait([owner], timeout=limit)
            except asyncio.CancelledError:
                interrupted = True  # the child must be gone before the cancellation goes on
                continue
            if not owner.done():
                owner.cancel()
                limit = None
        started = self._started
        if started is not None and started.done() and not started.cancelled():
            started.exception()  # retrieved: nobody else may be left to
        if interrupted:
            raise asyncio.CancelledError

    # --- calls -------------------------------------------------------------------------

    async def list_tools(self) -> list[ToolInfo]:
        client = self._live()
        tools: list[ToolInfo] = []
        cursor: str | None = None
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                for _ in range(_MAX_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    tools += [
                        ToolInfo(self.spec.name, t.name, t.description or "", dict(t.input_schema))
                        for t in page.tools
                    ]
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                raise await self._lost("while listing its tools") from None
            raise self._error(f"cannot list its tools: {_one_line(exc.message)}") from None
        except Exception as exc:
            if deadline.expired():
                raise self._error(f"no tool list within {self.timeout:g} s") from None
            raise self._unexpected("listing its tools", exc) from None
        return tools

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> ToolResult:
        client = self._live()
        start = time.perf_counter()
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                result = await client.call_tool(name, arguments)
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                raise await self._lost(f"during tool {name}") from None
            # The server refused the call (no such tool, bad arguments): the model's to read.
            return ToolResult(exc.message, True, (time.perf_counter() - start) * 1000)
        except Exception as exc:
            if deadline.expired():
                raise self._error(f"tool {name} gave no result within {timeout:g} s") from None
            raise self._unexpected(f"tool {name}", exc) from None
        return ToolResult(_tool_text(result), result.is_error, (time.perf_counter() - start) * 1000)

    def _live(self) -> Client:
        client = self._client
        if client is None or self._owner is None or self._owner.done():
            if self._failure is not None:
                raise self._describe(self._failure, "before this call")
            raise self._error("the session is not open")
        return client

    # --- messages ----------------------------------------------------------------------

    def _error(self, what: str) -> McpError:
        return McpError(f"mcp server {self.spec.name}: {what}")

    async def _await_exit(self) -> None:
        """Give a child whose output ended a moment to exit and be reaped; note its code."""
        process = self._process
        if process is None:
            return
        until = time.monotonic() + _REAP_WAIT
        # Polled, as the SDK does: Process.wait() also waits for the pipes to close.
        while process.returncode is None and time.monotonic() < until:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if self._exit_code is None:
            self._exit_code = process.returncode

    def _gone(self, when: str) -> McpError:
        if self.spec.transport == "http":
            return self._error(f"{_shown_url(self.spec.url)} closed the connection {when}")
        if self._process is None:
            return self._error(f"exited {when}")
        code = self._exit_code
        if code is None:
            return self._error(f"closed its output {when}")
        if code < 0:
            return self._error(f"was killed (signal {-code}) {when}")
        return self._error(f"exited (code {code}) {when}")

    async def _lost(self, when: str) -> McpError:
        """The connection closed under a request: say why, once the child's end is known."""
        if self._closing.is_set():
            return self._error(f"the session was closed {when}")
        if self._process is not None:
            await self._await_exit()
        elif self._owner is not None and not self._owner.done():
            # A crashed HTTP transport ends the owner, which records the cause.
            await asyncio.wait([self._owner], timeout=_REAP_WAIT)
        if self._failure is not None:
            return self._describe(self._failure, when)
        return self._gone(when)

    def _describe(self, exc: BaseException, when: str) -> McpError:
        root = _root(exc)
        spec = self.spec
        if spec.transport == "stdio" and isinstance(root, OSError):
            if self._spawned:
                return self._gone(when)  # a broken pipe
            reason = root.strerror or type(root).__name__
            return self._error(f"cannot start {spec.command[0]!r} ({reason})")
        where = _shown_url(spec.url)
        if isinstance(root, httpx2.ConnectError):
            how = "refused the connection" if _refused(root) else "cannot be reached"
            return self._error(f"{where} {how}")
        if isinstance(root, httpx2.TimeoutException):
            return self._error(f"{where} gave no answer ({type(root).__name__})")
        if isinstance(root, httpx2.NetworkError | httpx2.RemoteProtocolError):
            return self._gone(when)
        if isinstance(root, httpx2.HTTPError):
            return self._error(f"connection to {where} failed {when} ({type(root).__name__})")
        if isinstance(root, MCPError):
            if root.code == mt.CONNECTION_CLOSED:
                return self._gone(when)
            if self._http_status is not None:
                return self._error(f"{where} answered HTTP {self._http_status}")
            if when == _AT_START:
                return self._error(f"refused the handshake: {_one_line(root.message)}")
            return self._error(f"answered with an error {when}: {_one_line(root.message)}")
        return self._unexpected("the session", root)

    def _unexpected(self, during: str, exc: BaseException) -> McpError:
        # Exception text can quote anything the server sent; its type is enough to report.
        return self._error(f"failed in {during} ({type(exc).__name__})")


async def list_server_tools(spec: ServerSpec, timeout: float = 10.0) -> list[ToolInfo]:  # noqa: ASYNC109
    """Start the server, list its tools, stop it."""
    async with McpSession(spec, timeout=timeout) as session:
        return await session.list_tools()
