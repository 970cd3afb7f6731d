"""OpenAI's /chat/completions with SSE; also vLLM, DeepSeek, LM Studio, llama.cpp,
OpenRouter, LiteLLM and Ollama's /v1.

Events: ``delta.content`` -> TextDelta; ``delta.reasoning_content`` or ``delta.reasoning``
-> ThinkingDelta; ``delta.tool_calls[]`` -> ToolCallDelta (by ``index``); any non-null
``usage`` -> Usage (the include_usage chunk has ``choices: []``; the last Usage wins);
``finish_reason`` is kept and reported by the Finish that ``[DONE]`` triggers. A stream that
ends cleanly after a finish_reason but without ``[DONE]`` still finishes; one that ends
with neither is cut. A server that ignores ``stream: true`` and answers with one JSON
completion is read as such.
"""

from __future__ import annotations

import re
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
from mcpctl_tui.llm.sse import SSEEvent, SSEParser
from mcpctl_tui.llm.transport import (
    STREAM_CUT,
    loads,
    malformed,
    not_a_stream,
    stream_error_event,
    stream_http,
)

_VERSIONED = re.compile(r"/v\d+[a-z0-9]*(/|$)")


def chat_completions_url(base: str) -> str:
    """``{base}/chat/completions``, adding ``/v1`` when the base names no API version.

    ``http://h:8000``, ``http://h:8000/``, ``http://h:8000/v1`` and ``.../v1/`` all give
    ``http://h:8000/v1/chat/completions``; a base with its own version segment
    (``.../api/v1``, ``.../v1beta/openai``) is kept; a full ``.../chat/completions`` is
    used as is.
    """
    base = base.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    path = httpx.URL(base).path if "://" in base else base
    if not _VERSIONED.search(path):
        base += "/v1"
    return base + "/chat/completions"


def openai_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        msg: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.role == "assistant" and m.tool_calls:
            msg["tool_calls"] = m.tool_calls
            if not m.content:
                msg["content"] = None
        if m.role == "tool" and m.tool_call_id is not None:
            msg["tool_call_id"] = m.tool_call_id
        out.append(msg)
    return out


def openai_body(endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
    """The request body. Params go in by name (temperature, top_p, max_tokens, seed, stop,
    and top_k or any other key as a provider extra); None values are left out."""
    body: dict[str, Any] = {k: v for k, v in request.params.items() if v is not None}
    if "max_tokens" in body and "max_completion_tokens" not in body and _is_openai(endpoint):
        # OpenAI itself deprecated max_tokens and refuses it for reasoning models;
        # compatible servers (vLLM, llama.cpp, ...) still want max_tokens.
        body["max_completion_tokens"] = body.pop("max_tokens")
    options = body.get("stream_options")
    body["stream_options"] = {**(options if isinstance(options, dict) else {})}
    body["stream_options"]["include_usage"] = True
    body["model"] = endpoint.model
    body["messages"] = openai_messages(request.system, request.messages)
    body["stream"] = True
    if request.tools:
        body["tools"] = request.tools
    return body


def _is_openai(endpoint: Endpoint) -> bool:
    try:
        return httpx.URL(endpoint.url.strip()).host == "api.openai.com"
    except Exception:  # a bad URL is reported when the request is sent
        return False


def openai_headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {"accept": "text/event-stream"}
    if endpoint.api_key:
        headers["authorization"] = f"Bearer {endpoint.api_key}"
    return headers


class OpenAIDecoder:
    """SSE ``chat.completion.chunk`` events -> typed events."""

    __slots__ = ("_content_type", "_done", "_endpoint", "_finish", "_json_body", "_seen", "_sse")

    def __init__(self, endpoint: Endpoint, content_type: str = "text/event-stream") -> None:
        self._endpoint = endpoint
        self._content_type = content_type
        self._sse = SSEParser()
        self._finish: str | None = None
        self._done = False
        self._seen = False  # any SSE event at all
        # A non-streaming answer (stream ignored): collect the body, read it at the end.
        self._json_body: list[bytes] | None = (
            [] if content_type.startswith("application/json") else None
        )

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._json_body is not None:
            self._json_body.append(chunk)
            return []
        return self._events(self._sse.feed(chunk))

    def end(self) -> list[StreamEvent]:
        if self._json_body is not None:
            return self._whole(b"".join(self._json_body))
        out = self._events(self._sse.close())
        if not self._done:
            if self._finish is not None:
                out.append(Finish(self._finish))
            elif not self._seen and "event-stream" not in self._content_type:
                out.append(not_a_stream(self._content_type))
            else:
                out.append(StreamError(ErrorKind.NETWORK, STREAM_CUT))
        return out

    def _events(self, sse_events: list[SSEEvent]) -> list[StreamEvent]:
        # The hot loop of every OpenAI-compatible stream: keep the common chunk (one
        # content delta) to a handful of dict lookups.
        out: list[StreamEvent] = []
        if not sse_events:
            return out
        self._seen = True
        for data, event, _id in sse_events:
            if self._done:
                break
            if data[:1] != "{":
                stripped = data.strip()
                if not stripped:
                    continue  # an empty data line: a keep-alive, not an error
                if stripped == "[DONE]":
                    out.append(Finish(self._finish))
                    self._done = True
                    break
                data = stripped
            try:
                obj = loads(data)
            except ValueError:
                obj = None
            if type(obj) is not dict:
                out.append(malformed(data))
                self._done = True
                break
            if event == "error" or obj.get("error"):
                out.append(stream_error_event(obj, self._endpoint))
                self._done = True
                break
            choices = obj.get("choices")
            if choices:
                try:
                    choice = choices[0]
                    delta = choice.get("delta")
                    if delta:
                        content = delta.get("content")
                        if len(delta) == 1 and type(content) is str:
                            if content:
                                out.append(TextDelta(content))
                        else:
                            self._delta(delta, out)
                    reason = choice.get("finish_reason")
                    if reason:
                        self._finish = text(reason, "choices[0].finish_reason")
                except FieldError as exc:
                    out.append(field_error(exc))
                    self._done = True
                    break
                except (TypeError, AttributeError, KeyError, IndexError, ValueError):
                    out.append(malformed(data))
                    self._done = True
                    break
            usage = obj.get("usage")
            if usage:
                try:
                    out.append(_usage(usage))
                except FieldError as exc:
                    out.append(field_error(exc))
                    self._done = True
                    break
        return out

    def _delta(self, delta: dict[str, Any], out: list[StreamEvent]) -> None:
        where = "choices[0].delta"
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            reasoning = _text(reasoning, f"{where}.reasoning_content")
            if reasoning:
                out.append(ThinkingDelta(reasoning))
        content = delta.get("content")
        if content:
            content = _text(content, f"{where}.content")
            if content:
                out.append(TextDelta(content))
        for pos, tc in enumerate(items(delta.get("tool_calls"), f"{where}.tool_calls")):
            at = f"{where}.tool_calls[{pos}]"
            call = mapping(tc, at)
            fn = mapping(call.get("function"), f"{at}.function")
            index = count(call.get("index", pos), f"{at}.index")
            out.append(
                ToolCallDelta(
                    index=pos if index is None else index,
                    id=text(call.get("id"), f"{at}.id") or None,
                    name=text(fn.get("name"), f"{at}.function.name") or None,
                    arguments=text(fn.get("arguments"), f"{at}.function.arguments"),
                )
            )

    def _whole(self, raw: bytes) -> list[StreamEvent]:
        try:
            obj = loads(raw)
        except ValueError:
            return [malformed(raw)]
        if not isinstance(obj, dict):
            return [malformed(raw)]
        if obj.get("error"):
            return [stream_error_event(obj, self._endpoint)]
        out: list[StreamEvent] = []
        try:
            choice = (obj.get("choices") or [{}])[0]
            message = choice.get("message") or {}
            as_delta = {
                "reasoning_content": message.get("reasoning_content") or message.get("reasoning"),
                "content": message.get("content"),
                "tool_calls": [
                    {**tc, "index": i} for i, tc in enumerate(message.get("tool_calls") or [])
                ],
            }
            self._delta(as_delta, out)
            self._finish = text(choice.get("finish_reason"), "finish_reason") or self._finish
            if obj.get("usage"):
                out.append(_usage(obj["usage"]))
        except FieldError as exc:
            return [*out, field_error(exc)]
        except (TypeError, AttributeError, KeyError, IndexError):
            return [malformed(raw)]
        out.append(Finish(self._finish or "stop"))
        return out


def _text(value: Any, where: str) -> str:
    """Text from a string, or from a list of content parts (``[{"type": "text", "text"}]``)."""
    if isinstance(value, list):
        return "".join(
            text(mapping(p, f"{where}[{i}]").get("text"), f"{where}[{i}].text")
            for i, p in enumerate(value)
        )
    return text(value, where)


def _usage(usage: Any) -> Usage:
    usage = mapping(usage, "usage")
    return Usage(
        input_tokens=_tokens(usage, "prompt_tokens", "input_tokens"),
        output_tokens=_tokens(usage, "completion_tokens", "output_tokens"),
    )


def _tokens(usage: dict[str, Any], *names: str) -> int | None:
    """The first of ``names`` the usage has (servers differ in the spelling)."""
    for name in names:
        if usage.get(name) is not None:
            return count(usage[name], f"usage.{name}")
    return None


class OpenAIAdapter:
    name = "openai"
    default_params: dict[str, Any] = {}
    dials = True

    def body(self, endpoint: Endpoint, request: InferenceRequest) -> dict[str, Any]:
        return openai_body(endpoint, request)

    def stream(
        self,
        endpoint: Endpoint,
        request: InferenceRequest,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[StreamEvent]:
        return stream_http(
            endpoint,
            chat_completions_url(endpoint.url),
            headers=openai_headers(endpoint),
            body=openai_body(endpoint, request),
            decoder=lambda resp: OpenAIDecoder(endpoint, resp.headers.get("content-type", "")),
            client=client,
        )
