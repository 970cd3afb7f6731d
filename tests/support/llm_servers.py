"""Real HTTP/1.1 servers on 127.0.0.1 that speak each LLM wire format byte for byte.

No framework and no HTTP mocking: an asyncio stream server that records every request
and answers with a scripted reply, one byte chunk per write, so a test controls exactly
how the bytes are split on the wire.

In process::

    async with LlmServer(openai_reply(["Hel", "lo"])) as srv:
        ...  # srv.url, srv.requests[0].json, await srv.requests[0].disconnected.wait()

Out of process (the virtual provider tests run their upstream as a real subprocess)::

    async with ServerProcess([openai_reply(["hi"])]) as srv:   # or mode="openai-echo"
        ...  # srv.url, srv.requests() (read back from the record file)

    python -m tests.support.llm_servers --port 0 --script replies.json [--record requests.jsonl]
        [--mode openai-echo]
    prints one line ``LISTENING http://127.0.0.1:PORT`` on stdout once it accepts.

Replies
-------
``Reply(chunks, status=200, headers=..., delay=0, first_delay=0, cut_after=None,
framing="chunked", flush_each=True)``. With ``framing="chunked"`` every chunk is one HTTP
chunk, so the client's ``aiter_bytes()`` sees exactly these pieces (h11 yields one Data
event per HTTP chunk even when TCP coalesces writes). ``cut_after=N`` sends N chunks
then closes the socket without the terminating chunk (a connection cut mid-reply).
``framing="close"`` sends no length and ends the body by closing the connection (a clean
EOF). ``framing="length"`` sends Content-Length (error bodies). ``flush_each=False``
writes the whole body at once, as fast as the socket takes it (benchmarks).

A server given a list of replies uses them in order and repeats the last; a callable
``handler(request) -> Reply`` decides per request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.support import REPO_ROOT

Framing = Literal["chunked", "close", "length"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

SSE_HEADERS: Mapping[str, str] = {"content-type": "text/event-stream", "cache-control": "no-cache"}
NDJSON_HEADERS: Mapping[str, str] = {"content-type": "application/x-ndjson"}


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    chunks: Sequence[bytes] = ()
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: dict(SSE_HEADERS))
    delay: float = 0.0  # seconds between chunks
    first_delay: float = 0.0  # seconds before the first chunk (after the headers)
    cut_after: int | None = None  # send this many chunks, then drop the connection
    framing: Framing = "chunked"
    flush_each: bool = True

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def to_json(self) -> dict[str, Any]:
        return {
            "chunks_b64": [base64.b64encode(c).decode("ascii") for c in self.chunks],
            "status": self.status,
            "headers": dict(self.headers),
            "delay": self.delay,
            "first_delay": self.first_delay,
            "cut_after": self.cut_after,
            "framing": self.framing,
            "flush_each": self.flush_each,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        chunks = [base64.b64decode(c) for c in data.get("chunks_b64", [])]
        chunks += [c.encode() for c in data.get("chunks", [])]  # plain text, hand-written
        return cls(
            chunks=chunks,
            status=int(data.get("status", 200)),
            headers=dict(data.get("headers", SSE_HEADERS)),
            delay=float(data.get("delay", 0.0)),
            first_delay=float(data.get("first_delay", 0.0)),
            cut_after=data.get("cut_after"),
            framing=data.get("framing", "chunked"),
            flush_each=bool(data.get("flush_each", True)),
        )


def rechunk(chunks: Iterable[bytes], size: int) -> list[bytes]:
    """The same bytes split into pieces of ``size`` bytes (1 = one byte per read)."""
    data = b"".join(chunks)
    return [data[i : i + size] for i in range(0, len(data), size)]


def with_chunking(reply: Reply, size: int | None) -> Reply:
    """A copy of ``reply`` whose body is re-split every ``size`` bytes (None: unchanged)."""
    if size is None:
        return reply
    return Reply(
        chunks=rechunk(reply.chunks, size),
        status=reply.status,
        headers=reply.headers,
        delay=reply.delay,
        first_delay=reply.first_delay,
        cut_after=reply.cut_after,
        framing=reply.framing,
        flush_each=reply.flush_each,
    )


# --------------------------------------------------------------------------- recorded requests


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    # Set when the client hangs up while the reply is being written (also right after a
    # complete reply, if it closes at once): check ``completed`` to tell the two apart.
    disconnected: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    completed: bool = False  # the whole reply was written

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def to_json(self) -> dict[str, Any]:
        try:
            body: Any = self.json
        except ValueError:
            body = self.body.decode("utf-8", "replace")
        return {"method": self.method, "path": self.path, "headers": self.headers, "json": body}


Handler = Callable[[RecordedRequest], Reply]


# --------------------------------------------------------------------------- the server


class LlmServer:
    """An HTTP/1.1 server on 127.0.0.1 with scripted replies; an async context manager."""

    def __init__(
        self,
        replies: Reply | Sequence[Reply] | Handler = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[RecordedRequest], None] | None = None,
        on_disconnect: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self._replies: list[Reply] = []
        self._handler: Handler | None = None
        self.set_replies(replies)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._on_request = on_request
        self._on_disconnect = on_disconnect

    def set_replies(self, replies: Reply | Sequence[Reply] | Handler) -> None:
        """Replace the script: one reply (repeated), a list (in order, last repeats), a handler."""
        if isinstance(replies, Reply):
            self._replies, self._handler = [replies], None
        elif callable(replies):
            self._replies, self._handler = [], replies
        else:
            self._replies, self._handler = list(replies), None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Drop the connections rather than cancel their tasks: a cancelled handler task
            # makes asyncio's stream server log a spurious traceback on Python 3.11.
            for writer in list(self._writers):
                writer.transport.abort()
            if self._tasks:
                _done, pending = await asyncio.wait(list(self._tasks), timeout=2)
                for task in pending:
                    task.cancel()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LlmServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _next_reply(self, req: RecordedRequest) -> Reply:
        if self._handler is not None:
            return self._handler(req)
        if not self._replies:
            return Reply([b"no reply scripted"], status=500, headers={}, framing="length")
        if len(self._replies) > 1:
            return self._replies.pop(0)
        return self._replies[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                req = await _read_request(reader)
                if req is None:
                    return
                self.requests.append(req)
                if self._on_request is not None:
                    self._on_request(req)
                keep = await self._respond(req, self._next_reply(req), reader, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self,
        req: RecordedRequest,
        reply: Reply,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Write one reply; True when the connection may serve another request."""

        # The client sends nothing more on this connection until the reply ends, so
        # EOF on the reader means it hung up (e.g. a cancelled stream closed its response).
        def hung_up(f: asyncio.Future[bytes]) -> None:
            if f.cancelled() or f.exception() is not None or f.result() == b"":
                if req.disconnected.is_set():
                    return
                req.disconnected.set()
                if self._on_disconnect is not None:
                    self._on_disconnect(req)

        watcher = asyncio.ensure_future(reader.read(1))
        watcher.add_done_callback(hung_up)
        try:
            head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
            head += [f"{k}: {v}" for k, v in reply.headers.items()]
            body = reply.body()
            if reply.framing == "chunked":
                head.append("transfer-encoding: chunked")
            elif reply.framing == "length":
                head.append(f"content-length: {len(body)}")
            if reply.framing == "close" or reply.cut_after is not None:
                head.append("connection: close")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            if reply.first_delay:
                await _sleep_unless(reply.first_delay, watcher)
            chunks = reply.chunks
            if reply.cut_after is not None:
                chunks = chunks[: reply.cut_after]
            if reply.framing == "length":
                writer.write(body)
                await writer.drain()
            elif not reply.flush_each:
                if reply.framing == "chunked":
                    writer.write(b"".join(_chunk(c) for c in chunks if c))
                else:
                    writer.write(b"".join(chunks))
                await writer.drain()
            else:
                for i, c in enumerate(chunks):
                    if i and reply.delay:
                        await _sleep_unless(reply.delay, watcher)
                    if watcher.done():
                        return False
                    if not c:
                        continue
                    writer.write(_chunk(c) if reply.framing == "chunked" else c)
                    await writer.drain()
            if reply.cut_after is not None or reply.framing == "close":
                # Chunked + cut: no terminating chunk, so the client sees an incomplete body.
                await writer.drain()
                if reply.cut_after is not None:
                    writer.transport.abort()
                else:
                    writer.close()
                req.completed = reply.cut_after is None
                return False
            if reply.framing == "chunked":
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            req.completed = True
            if watcher.done():
                return False
            return req.headers.get("connection", "").lower() != "close"
        finally:
            if not watcher.done():
                watcher.remove_done_callback(hung_up)
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _sleep_unless(seconds: float, watcher: asyncio.Future[bytes]) -> None:
    """Sleep, but wake early when the client hangs up."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(watcher), seconds)


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RecordedRequest(method=method, path=path, headers=headers, body=body)


# --------------------------------------------------------------------------- wire formats


def sse(data: str | Mapping[str, Any] | Sequence[Any], *, event: str | None = None) -> bytes:
    """One SSE event with LF line ends and the blank line that ends it."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    out = f"event: {event}\n" if event else ""
    out += "".join(f"data: {line}\n" for line in text.split("\n"))
    return (out + "\n").encode()


def openai_chunk(
    delta: Mapping[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    model: str = "test-model",
    usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` object; ``delta=None`` with usage is the usage chunk."""
    chunk: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = dict(usage)
    return chunk


@dataclass
class ToolCallSpec:
    """A tool call to stream: arguments are sent in ``pieces`` fragments."""

    id: str
    name: str
    arguments: str
    pieces: int = 3


def openai_events(
    text: Sequence[str] = (),
    *,
    reasoning: Sequence[str] = (),
    reasoning_field: str = "reasoning_content",
    tool_calls: Sequence[ToolCallSpec] = (),
    interleave_tools: bool = True,
    usage: tuple[int, int] | None = (11, 7),
    finish_reason: str | None = "stop",
    done: bool = True,
    model: str = "test-model",
) -> list[bytes]:
    """The SSE events of a recorded-shape OpenAI streaming reply, one event per element.

    Order as real servers send it: a role chunk, reasoning deltas, content deltas, tool-call
    deltas (parallel calls interleaved by index when ``interleave_tools``), the finish chunk,
    the include_usage chunk with ``choices: []``, then ``data: [DONE]``.
    """
    ev: list[bytes] = [sse(openai_chunk({"role": "assistant", "content": ""}, model=model))]
    ev += [sse(openai_chunk({reasoning_field: r}, model=model)) for r in reasoning]
    ev += [sse(openai_chunk({"content": t}, model=model)) for t in text]
    if tool_calls:
        frags: list[list[dict[str, Any]]] = []
        for i, tc in enumerate(tool_calls):
            first = {
                "index": i,
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            pieces = _split_even(tc.arguments, tc.pieces)
            frags.append([first] + [{"index": i, "function": {"arguments": p}} for p in pieces])
        order: list[dict[str, Any]] = []
        if interleave_tools:
            for k in range(max(len(f) for f in frags)):
                order += [f[k] for f in frags if k < len(f)]
        else:
            order = [x for f in frags for x in f]
        ev += [sse(openai_chunk({"tool_calls": [x]}, model=model)) for x in order]
    if finish_reason is not None:
        ev.append(sse(openai_chunk({}, finish_reason=finish_reason, model=model)))
    if usage is not None:
        u = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
        ev.append(sse(openai_chunk(None, usage=u, model=model)))
    if done:
        ev.append(b"data: [DONE]\n\n")
    return ev


def _split_even(s: str, n: int) -> list[str]:
    if n <= 1 or len(s) <= 1:
        return [s]
    step = max(1, -(-len(s) // n))
    return [s[i : i + step] for i in range(0, len(s), step)]


def openai_reply(text: Sequence[str] = (), **kw: Any) -> Reply:
    return Reply(openai_events(text, **kw))


@dataclass
class ToolUseSpec:
    id: str
    name: str
    input_json: str
    pieces: int = 3


def anthropic_events(
    text: Sequence[str] = (),
    *,
    thinking: Sequence[str] = (),
    tool_uses: Sequence[ToolUseSpec] = (),
    input_tokens: int = 13,
    output_tokens: int = 9,
    stop_reason: str = "end_turn",
    stop: bool = True,
    ping: bool = True,
    model: str = "claude-test",
) -> list[bytes]:
    """The events of a recorded-shape Anthropic Messages stream."""
    ev = [
        sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                },
            },
            event="message_start",
        )
    ]
    idx = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal idx
        ev.append(
            sse(
                {"type": "content_block_start", "index": idx, "content_block": start},
                event="content_block_start",
            )
        )
        for d in deltas:
            ev.append(
                sse(
                    {"type": "content_block_delta", "index": idx, "delta": d},
                    event="content_block_delta",
                )
            )
        ev.append(sse({"type": "content_block_stop", "index": idx}, event="content_block_stop"))
        idx += 1

    if thinking:
        block(
            {"type": "thinking", "thinking": ""},
            [{"type": "thinking_delta", "thinking": t} for t in thinking]
            + [{"type": "signature_delta", "signature": "sig=="}],
        )
    if ping:
        ev.append(sse({"type": "ping"}, event="ping"))
    if text:
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in text])
    for tu in tool_uses:
        block(
            {"type": "tool_use", "id": tu.id, "name": tu.name, "input": {}},
            [
                {"type": "input_json_delta", "partial_json": p}
                for p in _split_even(tu.input_json, tu.pieces)
            ],
        )
    ev.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
            event="message_delta",
        )
    )
    if stop:
        ev.append(sse({"type": "message_stop"}, event="message_stop"))
    return ev


def anthropic_reply(text: Sequence[str] = (), **kw: Any) -> Reply:
    return Reply(anthropic_events(text, **kw))


def ollama_lines(
    text: Sequence[str] = (),
    *,
    thinking: Sequence[str] = (),
    tool_calls: Sequence[Mapping[str, Any]] = (),
    prompt_eval_count: int = 17,
    eval_count: int = 5,
    done: bool = True,
    done_reason: str = "stop",
    model: str = "llama-test",
) -> list[bytes]:
    """The NDJSON lines of a native Ollama /api/chat stream."""

    def line(obj: Mapping[str, Any]) -> bytes:
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode()

    ts = "2026-01-01T00:00:00Z"
    out = [
        line(
            {
                "model": model,
                "created_at": ts,
                "message": {"role": "assistant", "content": "", "thinking": t},
                "done": False,
            }
        )
        for t in thinking
    ]
    out += [
        line(
            {
                "model": model,
                "created_at": ts,
                "message": {"role": "assistant", "content": t},
                "done": False,
            }
        )
        for t in text
    ]
    if tool_calls:
        out.append(
            line(
                {
                    "model": model,
                    "created_at": ts,
                    "message": {"role": "assistant", "content": "", "tool_calls": list(tool_calls)},
                    "done": False,
                }
            )
        )
    if done:
        out.append(
            line(
                {
                    "model": model,
                    "created_at": ts,
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": done_reason,
                    "total_duration": 1000,
                    "prompt_eval_count": prompt_eval_count,
                    "eval_count": eval_count,
                }
            )
        )
    return out


def ollama_reply(text: Sequence[str] = (), **kw: Any) -> Reply:
    return Reply(ollama_lines(text, **kw), headers=dict(NDJSON_HEADERS))


def error_reply(
    status: int,
    message: str = "something went wrong",
    *,
    style: Literal["openai", "anthropic", "ollama", "text"] = "openai",
) -> Reply:
    """An error before any chunk, shaped like the provider's own error bodies."""
    if style == "text":
        return Reply(
            [message.encode()],
            status=status,
            headers={"content-type": "text/plain"},
            framing="length",
        )
    body: dict[str, Any]
    if style == "openai":
        body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    elif style == "anthropic":
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
    else:
        body = {"error": message}
    return Reply(
        [json.dumps(body).encode()],
        status=status,
        headers={"content-type": "application/json"},
        framing="length",
    )


def bench_openai_reply(n: int = 100_000, piece: str = "x") -> Reply:
    """``n`` small content chunks, written as fast as the socket takes them."""
    one = sse(openai_chunk({"content": piece}))
    events = [sse(openai_chunk({"role": "assistant", "content": ""}))]
    events += [one] * n
    events += openai_events(usage=(5, n), text=())[1:]  # finish, usage, [DONE]
    return Reply(events, flush_each=False)


def openai_echo_handler(req: RecordedRequest) -> Reply:
    """Answer any chat request by streaming its last user message back, word by word."""
    try:
        msgs = (req.json or {}).get("messages", [])
    except ValueError:
        return error_reply(400, "body is not JSON")
    last = next((m.get("content") or "" for m in reversed(msgs) if m.get("role") == "user"), "")
    words = [w + " " for w in str(last).split(" ")]
    if words:
        words[-1] = words[-1][:-1]
    return openai_reply(words)


MODES: dict[str, Handler] = {"openai-echo": openai_echo_handler}


# --------------------------------------------------------------------------- out of process


def write_script(path: Path, replies: Sequence[Reply]) -> Path:
    path.write_text(json.dumps({"replies": [r.to_json() for r in replies]}))
    return path


class ServerProcess:
    """``python -m tests.support.llm_servers`` as a real subprocess; an async context manager."""

    def __init__(
        self,
        replies: Sequence[Reply] = (),
        *,
        mode: str | None = None,
        workdir: Path | None = None,
        port: int = 0,
    ) -> None:
        import tempfile

        self._own_dir = workdir is None
        self._dir = workdir or Path(tempfile.mkdtemp(prefix="llm-server-"))
        self.script = write_script(self._dir / "replies.json", replies)
        self.record = self._dir / "requests.jsonl"
        self.mode = mode
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "tests.support.llm_servers", "--port", str(self.port)]
        args += ["--script", str(self.script), "--record", str(self.record)]
        if self.mode:
            args += ["--mode", self.mode]
        return args

    async def __aenter__(self) -> ServerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv(), cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        if not line.startswith(b"LISTENING "):
            raise RuntimeError(f"llm server did not start: {line!r}")
        self.url = line.split()[1].decode()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        if self._own_dir:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)

    def requests(self) -> list[dict[str, Any]]:
        """Requests recorded so far: {method, path, headers, json}; disconnects as events."""
        if not self.record.exists():
            return []
        lines = self.record.read_text().splitlines()
        return [r for r in map(json.loads, lines) if r.get("event") == "request"]

    def events(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(x) for x in self.record.read_text().splitlines()]


async def _main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.support.llm_servers", description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--script", type=Path, help='JSON: {"replies": [Reply.to_json(), ...]}')
    p.add_argument("--mode", choices=sorted(MODES), help="a built-in handler instead of a script")
    p.add_argument("--record", type=Path, help="append each request as a JSON line")
    args = p.parse_args(argv)
    replies: Sequence[Reply] | Handler
    if args.mode:
        replies = MODES[args.mode]
    elif args.script:
        replies = [Reply.from_json(r) for r in json.loads(args.script.read_text())["replies"]]
    else:
        p.error("give --script or --mode")
    record = args.record.open("a", buffering=1) if args.record else None

    def log(kind: str, req: RecordedRequest) -> None:
        if record is not None:
            record.write(json.dumps({"event": kind, "t": time.time(), **req.to_json()}) + "\n")

    server = LlmServer(
        replies,
        port=args.port,
        on_request=lambda r: log("request", r),
        on_disconnect=lambda r: log("disconnect", r),
    )
    async with server:
        print(f"LISTENING {server.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())


# --------------------------------------------------------------------------- consuming


async def collect(
    llm_type: str,
    url: str,
    request: Any = None,
    *,
    api_key: str | None = None,
    model: str = "test-model",
    client: Any = None,
) -> list[Any]:
    """Every event an adapter yields for ``request`` (default: one user message "hi")."""
    from mcpctl_tui.llm.registry import get_adapter
    from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message

    if request is None:
        request = InferenceRequest(system="be brief", messages=[Message("user", "hi")])
    endpoint = Endpoint(type=llm_type, url=url, model=model, api_key=api_key)
    stream = get_adapter(llm_type).stream(endpoint, request, client=client)
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        return [ev async for ev in stream]


def text_of(events: Iterable[Any]) -> str:
    from mcpctl_tui.llm.events import TextDelta

    return "".join(e.text for e in events if isinstance(e, TextDelta))


def thinking_of(events: Iterable[Any]) -> str:
    from mcpctl_tui.llm.events import ThinkingDelta

    return "".join(e.text for e in events if isinstance(e, ThinkingDelta))
