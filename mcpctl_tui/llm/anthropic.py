"""Anthropic's Messages API with its event stream.

Request: POST ``{base}/v1/messages`` (a base ending in ``/v1`` is accepted too), headers
``x-api-key`` (only with a key) and ``anthropic-version``, the system block top-level,
``max_tokens`` always (params ``max_tokens`` else 4096). History in OpenAI shape is
converted: assistant ``tool_calls`` -> ``tool_use`` blocks, ``tool`` turns -> ``tool_result``
blocks in a user message (consecutive ones merged, as the API wants them together).
Params: temperature, top_p, top_k as is, ``stop`` -> ``stop_sequences``, ``seed`` dropped
(the API has none), other keys pass through (e.g. ``thinking``, ``metadata``).

Events: message_start (input usage), content_block_start/delta/stop (text_delta,
thinking_delta, input_json_delta -> ToolCallDelta indexed by tool-call ordinal),
message_delta (stop_reason, cumulative output usage -> one Usage), message_stop -> Finish
with Anthropic's own stop_reason (``end_turn``, ``max_tokens``, ``tool_use``,
``stop_sequence``), ping and unknown events ignored, ``error`` -> StreamError(PROVIDER).
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
from mcpctl_tui.llm.fields import FieldError, count, field_error, mapping, text
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.llm.sse import SSEEvent, SSEParser
from mcpctl_tui.llm.transport import (
    STREAM_CUT,
    loads,
    malformed,
    not_a_stream,
    stream_error_event,
    stream_http,
)

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


def messages_url(base: str) -> str:
    base = base.strip().rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    if base.endswith("/v1"):
        return base + "/messages"
    return base + "/v1/messages"


def _tool_input(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}  # keep what the model said rather than drop the turn
    return value if isinstance(value, dict) else {"_value": value}


def anthropic_messages(system: str, messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system, messages) for the API. ``system`` turns in the history join the system
    block; consecutive turns of one role are merged into one message's content blocks."""
    systems = [system] if system else []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            if m.content:
                systems.append(m.content)
        elif m.role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id or "",
                        "content": m.content,
                    }
                ],
            )
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            for tc in m.tool_calls or []:
                fn = tc.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": tc.get("id") or "",
                        "name": fn.get("name") or "",
                        "input": _tool_input(fn.get("arguments")),
                    }
                )
            add("assistant", blocks)  # an empty assistant turn is skipped: the API refuses it
        else:
            add("user", [{"type": "text", "text": m.content}] if m.content else [])
    return "\n\n".join(systems), out


def anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped tool definitions -> Anthropic's; Anthropic-shaped ones pass."""
    out = []
    for tool in tools:
        fn = tool.get("function") if tool.get("type") == "function" else None
        if isinstance(fn, dict):
            converted: dict[str, Any] = {
                "name": fn.get("name", ""),
                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            if fn.get("description"):
                converted["description"] = fn["description"]
            out.append(converted)
        else:
            out.append(tool)
    return out


def anthropic_body(endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
    params = {k: v for k, v in request.params.items() if v is not None}
    params.pop("seed", None)
    stop = params.pop("stop", None)
    if stop is not None:
        params["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    system, messages = anthropic_messages(request.system, request.messages)
    body: dict[str, Any] = {**params}
    body["model"] = endpoint.model
    body["max_tokens"] = int(params.get("max_tokens") or DEFAULT_MAX_TOKENS)
    if system:
        body["system"] = system
    body["messages"] = messages
    body["stream"] = True
    if request.tools:
        body["tools"] = anthropic_tools(request.tools)
    return body


def anthropic_headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {"accept": "text/event-stream", "anthropic-version": ANTHROPIC_VERSION}
    if endpoint.api_key:
        headers["x-api-key"] = endpoint.api_key
    return headers


class AnthropicDecoder:
    __slots__ = (
        "_blocks",
        "_content_type",
        "_done",
        "_endpoint",
        "_input",
        "_output",
        "_seen",
        "_sse",
        "_stop",
        "_tools",
    )

    def __init__(self, endpoint: Endpoint, content_type: str = "text/event-stream") -> None:
        self._endpoint = endpoint
        self._content_type = content_type
        self._seen = False
        self._sse = SSEParser()
        self._done = False
        self._stop: str | None = None
        self._input: int | None = None
        self._output: int | None = None
        self._blocks: dict[int, int] = {}  # content block index -> tool-call ordinal
        self._tools = 0

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._events(self._sse.feed(chunk))

    def end(self) -> list[StreamEvent]:
        out = self._events(self._sse.close())
        if not self._done:
            # A stop reason (message_delta) means the reply is whole even when message_stop
            # never came; without one the reply was cut.
            if self._stop is not None:
                out.append(Finish(self._stop))
            elif not self._seen and "event-stream" not in self._content_type:
                out.append(not_a_stream(self._content_type))
            else:
                out.append(StreamError(ErrorKind.NETWORK, STREAM_CUT))
        return out

    def _events(self, sse_events: list[SSEEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if sse_events:
            self._seen = True
        for sse in sse_events:
            if self._done:
                break
            if not sse.data.strip():
                continue  # an empty data line: a keep-alive, not an error
            try:
                obj = loads(sse.data)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                out.append(malformed(sse.data))
                self._done = True
                break
            try:
                self._event(text(obj.get("type"), "type") or sse.event, obj, out)
            except FieldError as exc:
                out.append(field_error(exc))
                self._done = True
                break
            except (TypeError, AttributeError, KeyError, ValueError):
                out.append(malformed(sse.data))
                self._done = True
                break
        return out

    def _event(self, kind: str, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        if kind == "content_block_delta":
            delta = mapping(obj.get("delta"), "delta")
            dtype = delta.get("type")
            if dtype == "text_delta":
                if piece := text(delta.get("text"), "delta.text"):
                    out.append(TextDelta(piece))
            elif dtype == "thinking_delta":
                if piece := text(delta.get("thinking"), "delta.thinking"):
                    out.append(ThinkingDelta(piece))
            elif dtype == "input_json_delta":
                ordinal = self._blocks.get(_index(obj, -1))
                partial = text(delta.get("partial_json"), "delta.partial_json")
                if ordinal is not None and partial:
                    out.append(ToolCallDelta(ordinal, arguments=partial))
            # signature_delta, citations_delta: nothing to show
        elif kind == "content_block_start":
            block = mapping(obj.get("content_block"), "content_block")
            btype = block.get("type")
            if btype == "tool_use":
                ordinal = self._blocks[_index(obj, len(self._blocks))] = self._tools
                self._tools += 1
                given = block.get("input")
                out.append(
                    ToolCallDelta(
                        ordinal,
                        id=text(block.get("id"), "content_block.id") or None,
                        name=text(block.get("name"), "content_block.name") or None,
                        arguments=json.dumps(given) if given else "",
                    )
                )
            elif btype == "text" and (piece := text(block.get("text"), "content_block.text")):
                out.append(TextDelta(piece))
            elif btype == "thinking" and (
                piece := text(block.get("thinking"), "content_block.thinking")
            ):
                out.append(ThinkingDelta(piece))
        elif kind == "message_start":
            message = mapping(obj.get("message"), "message")
            usage = mapping(message.get("usage"), "message.usage")
            given = count(usage.get("input_tokens"), "message.usage.input_tokens")
            self._input = self._input if given is None else given
        elif kind == "message_delta":
            delta = mapping(obj.get("delta"), "delta")
            self._stop = text(delta.get("stop_reason"), "delta.stop_reason") or self._stop
            usage = mapping(obj.get("usage"), "usage")
            self._input = count(usage.get("input_tokens"), "usage.input_tokens") or self._input
            given = count(usage.get("output_tokens"), "usage.output_tokens")
            self._output = self._output if given is None else given
            out.append(Usage(input_tokens=self._input, output_tokens=self._output))
        elif kind == "message_stop":
            out.append(Finish(self._stop))
            self._done = True
        elif kind == "error":
            out.append(stream_error_event(obj, self._endpoint))
            self._done = True
        # ping, content_block_stop and event types added later are ignored


def _index(obj: dict[str, Any], default: int) -> int:
    found = count(obj.get("index"), "index")
    return default if found is None else found


class AnthropicAdapter:
    name = "anthropic"
    default_params: dict[str, Any] = {"max_tokens": DEFAULT_MAX_TOKENS}
    dials = True

    def body(self, endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
        return anthropic_body(endpoint, request)

    def stream(
        self,
        endpoint: Endpoint,
        request: InferenceRequest,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[StreamEvent]:
        return stream_http(
            endpoint,
            messages_url(endpoint.url),
            headers=anthropic_headers(endpoint),
            body=anthropic_body(endpoint, request),
            decoder=lambda resp: AnthropicDecoder(endpoint, resp.headers.get("content-type", "")),
            client=client,
        )
