"""Ollama's native /api/chat: one JSON object per line (NDJSON).

Request: POST ``{base}/api/chat`` (a base ending in ``/api`` is accepted), ``stream: true``,
params in ``options`` (``max_tokens`` -> ``num_predict``; temperature, top_p, top_k, seed,
stop and any other key such as ``num_ctx`` as is), except the top-level keys ``format``,
``keep_alive`` and ``think``. Assistant tool-call arguments go as objects, as Ollama wants.

Events: ``message.thinking`` -> ThinkingDelta, ``message.content`` -> TextDelta,
``message.tool_calls`` (whole calls) -> ToolCallDelta, the ``done`` line ->
Usage(prompt_eval_count, eval_count) and Finish(done_reason); an ``{"error": …}`` line ->
StreamError(PROVIDER); the bytes ending before ``done`` -> StreamError(NETWORK).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from mcpctl_tui.llm.fields import FieldError, count, field_error, items, mapping, text
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.llm.sse import MAX_LINE, LineTooLong
from mcpctl_tui.llm.transport import (
    STREAM_CUT,
    loads,
    malformed,
    not_a_stream,
    stream_error_event,
    stream_http,
)

TOP_LEVEL = frozenset({"format", "keep_alive", "think"})


def chat_url(base: str) -> str:
    base = base.strip().rstrip("/")
    if base.endswith("/api/chat"):
        return base
    if base.endswith("/api"):
        return base + "/chat"
    return base + "/api/chat"


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return loads(raw or "{}")
        except ValueError:
            return raw
    return raw


def ollama_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    names: dict[str, str] = {}  # tool_call_id -> function name, for tool results
    for m in messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant" and m.tool_calls:
            calls = []
            for tc in m.tool_calls:
                fn = tc.get("function") or {}
                if tc.get("id"):
                    names[tc["id"]] = fn.get("name", "")
                calls.append(
                    {
                        "function": {
                            "name": fn.get("name", ""),
                            "arguments": _arguments(fn.get("arguments")),
                        }
                    }
                )
            msg["tool_calls"] = calls
        if m.role == "tool" and m.tool_call_id and m.tool_call_id in names:
            msg["tool_name"] = names[m.tool_call_id]
        out.append(msg)
    return out


def ollama_body(endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
    body: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in request.params.items():
        if value is None:
            continue
        if key in TOP_LEVEL:
            body[key] = value
        elif key == "max_tokens":
            options["num_predict"] = value
        elif key == "options" and isinstance(value, dict):
            options.update(value)
        else:
            options[key] = value
    body["model"] = endpoint.model
    body["messages"] = ollama_messages(request.system, request.messages)
    body["stream"] = True
    if options:
        body["options"] = options
    if request.tools:
        body["tools"] = request.tools
    return body


def ollama_headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {"accept": "application/x-ndjson"}
    if endpoint.api_key:  # Ollama behind an authenticating proxy
        headers["authorization"] = f"Bearer {endpoint.api_key}"
    return headers


class OllamaDecoder:
    __slots__ = (
        "_content_type",
        "_done",
        "_endpoint",
        "_lines",
        "_partial",
        "_pending",
        "_tools",
    )

    def __init__(self, endpoint: Endpoint, content_type: str = "application/x-ndjson") -> None:
        self._endpoint = endpoint
        self._content_type = content_type
        self._lines = 0  # JSON lines read
        self._partial: list[bytes] = []
        self._pending = 0  # bytes in ``_partial``
        self._done = False
        self._tools = 0

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        # Split on b"\n" in bytes: a UTF-8 character never contains that byte, so a
        # character split across reads is whole again once its line is joined.
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            self._partial.append(chunk)
            self._pending += len(chunk)
            if self._pending > MAX_LINE:
                raise LineTooLong
            return []
        last = lines.pop()
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial = []
        self._pending = len(last)
        if last:
            self._partial.append(last)
        out: list[StreamEvent] = []
        for line in lines:
            if self._done:
                break
            self._line(line, out)
        return out

    def end(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if self._partial and not self._done:
            line = b"".join(self._partial)
            self._partial = []
            self._line(line, out)
        if not self._done:
            out.append(StreamError(ErrorKind.NETWORK, STREAM_CUT))
        return out

    def _line(self, line: bytes, out: list[StreamEvent]) -> None:
        line = line.strip()
        if not line:
            return
        try:
            obj = loads(line.decode("utf-8", "replace"))
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            if not self._lines and "json" not in self._content_type:
                out.append(not_a_stream(self._content_type, "NDJSON"))
            else:
                out.append(malformed(line))
            self._done = True
            return
        self._lines += 1
        if obj.get("error"):
            out.append(stream_error_event(obj, self._endpoint))
            self._done = True
            return
        try:
            self._object(obj, out)
        except FieldError as exc:
            out.append(field_error(exc))
            self._done = True

    def _object(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        message = mapping(obj.get("message"), "message")
        thinking = text(message.get("thinking"), "message.thinking")
        if thinking:
            out.append(ThinkingDelta(thinking))
        content = text(message.get("content"), "message.content")
        if content:
            out.append(TextDelta(content))
        for i, tc in enumerate(items(message.get("tool_calls"), "message.tool_calls")):
            where = f"message.tool_calls[{i}]"
            call = mapping(tc, where)
            fn = mapping(call.get("function"), f"{where}.function")
            args = fn.get("arguments")
            out.append(
                ToolCallDelta(
                    self._tools,
                    id=text(call.get("id"), f"{where}.id") or f"call_{self._tools}",
                    name=text(fn.get("name"), f"{where}.function.name") or None,
                    arguments=args if isinstance(args, str) else json.dumps(args or {}),
                )
            )
            self._tools += 1
        if obj.get("done"):
            out.append(
                Usage(
                    count(obj.get("prompt_eval_count"), "prompt_eval_count"),
                    count(obj.get("eval_count"), "eval_count"),
                )
            )
            out.append(Finish(text(obj.get("done_reason"), "done_reason") or "stop"))
            self._done = True


class OllamaAdapter:
    name = "ollama"
    default_params: dict[str, Any] = {}
    dials = True

    def body(self, endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
        return ollama_body(endpoint, request)

    def stream(
        self,
        endpoint: Endpoint,
        request: InferenceRequest,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[StreamEvent]:
        return stream_http(
            endpoint,
            chat_url(endpoint.url),
            headers=ollama_headers(endpoint),
            body=ollama_body(endpoint, request),
            decoder=lambda resp: OllamaDecoder(endpoint, resp.headers.get("content-type", "")),
            client=client,
        )
