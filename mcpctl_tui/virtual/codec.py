"""Stream events and requests as JSON, for the trip through the store.

Events are short arrays (``["t", "text"]``) rather than objects: a relayed stream is
thousands of them and the tag keeps each one a few bytes.
"""

from __future__ import annotations

from typing import Any

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
from mcpctl_tui.llm.request import InferenceRequest, Message


class CodecError(ValueError):
    """A stored payload that is not an encoded event or request."""


def encode_event(event: StreamEvent) -> list[Any]:
    match event:
        case TextDelta(text=text):
            return ["t", text]
        case ThinkingDelta(text=text):
            return ["k", text]
        case ToolCallDelta(index=index, id=id_, name=name, arguments=arguments):
            return ["c", index, id_, name, arguments]
        case Usage(input_tokens=inp, output_tokens=out):
            return ["u", inp, out]
        case Finish(reason=reason):
            return ["f", reason]
        case StreamError(kind=kind, message=message, status=status):
            return ["e", kind.value, message, status]
    raise CodecError(f"not a stream event: {type(event).__name__}")  # pragma: no cover


def decode_event(raw: Any) -> StreamEvent:
    try:
        tag = raw[0]
        if tag == "t":
            return TextDelta(str(raw[1]))
        if tag == "k":
            return ThinkingDelta(str(raw[1]))
        if tag == "c":
            return ToolCallDelta(int(raw[1]), raw[2], raw[3], str(raw[4]))
        if tag == "u":
            return Usage(raw[1], raw[2])
        if tag == "f":
            return Finish(raw[1])
        if tag == "e":
            try:
                kind = ErrorKind(raw[1])
            except ValueError:
                kind = ErrorKind.PROVIDER
            return StreamError(kind, str(raw[2]), raw[3])
    except (IndexError, TypeError, KeyError, ValueError) as exc:
        raise CodecError(f"malformed relayed event {raw!r:.80}: {exc}") from None
    raise CodecError(f"unknown relayed event tag {raw!r:.80}")


def is_terminal(event: StreamEvent) -> bool:
    return isinstance(event, Finish | StreamError)


def encode_request(request: InferenceRequest) -> dict[str, Any]:
    """The request as the provider (and a ``command:`` upstream on stdin) sees it."""
    messages: list[dict[str, Any]] = []
    for m in request.messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls is not None:
            item["tool_calls"] = m.tool_calls
        if m.tool_call_id is not None:
            item["tool_call_id"] = m.tool_call_id
        messages.append(item)
    out: dict[str, Any] = {
        "system": request.system,
        "messages": messages,
        "params": dict(request.params),
    }
    if request.tools is not None:
        out["tools"] = request.tools
    return out


def decode_request(raw: Any) -> InferenceRequest:
    try:
        messages = [
            Message(
                role=str(m["role"]),
                content=str(m.get("content") or ""),
                tool_calls=m.get("tool_calls"),
                tool_call_id=m.get("tool_call_id"),
            )
            for m in raw.get("messages", [])
        ]
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError("params must be a mapping")
        return InferenceRequest(
            system=str(raw.get("system") or ""),
            messages=messages,
            params=params,
            tools=raw.get("tools"),
        )
    except (AttributeError, KeyError, TypeError) as exc:
        raise CodecError(f"malformed inference request: {exc}") from None
