"""Stream events and requests as JSON, for the trip through the store.

Events are short arrays (``["t", "text"]``) rather than objects: a relayed stream is
thousands of them and the tag keeps each one a few bytes.

Model output is untrusted text. NUL, control characters and very long strings cross the
relay as they are (the relay's columns are JSON, which holds ``\u0000``; the chat
store and the terminal apply their own rules). A lone UTF-16 surrogate, which an
upstream's JSON can carry as a ``\ud800`` escape, is not Unicode text: no UTF-8 encoder
(SQLite's, asyncpg's, a terminal's) accepts it, so both ends of the relay replace each one
with U+FFFD (a proper pair is joined into its character).
"""

from __future__ import annotations

from typing import Any

from mcpctl_tui.llm.events import (
    MAX_SOURCE,
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    Waiting,
    WaitStage,
    one_line,
)
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.text import clean_surrogates


class CodecError(ValueError):
    """A stored payload that is not an encoded event or request."""


clean_text = clean_surrogates  # the relay keeps NUL (its JSON column holds it)


def _opt(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def encode_event(event: StreamEvent) -> list[Any]:
    match event:
        case TextDelta(text=text):
            return ["t", clean_text(text)]
        case ThinkingDelta(text=text):
            return ["k", clean_text(text)]
        case ToolCallDelta(index=index, id=id_, name=name, arguments=arguments):
            return ["c", index, _opt(id_), _opt(name), clean_text(arguments)]
        case Usage(input_tokens=inp, output_tokens=out):
            return ["u", inp, out]
        case Finish(reason=reason):
            return ["f", reason]
        case StreamError(kind=kind, message=message, status=status):
            return ["e", kind.value, clean_text(message), status]
        case Waiting(stage=stage, source=source):
            return ["w", stage.value, clean_text(source)]
    raise CodecError(f"not a stream event: {type(event).__name__}")  # pragma: no cover


def decode_event(raw: Any) -> StreamEvent:
    try:
        tag = raw[0]
        # Cleaned again on this side: the rows may come from any provider process.
        if tag == "t":
            return TextDelta(clean_text(str(raw[1])))
        if tag == "k":
            return ThinkingDelta(clean_text(str(raw[1])))
        if tag == "c":
            return ToolCallDelta(int(raw[1]), _opt(raw[2]), _opt(raw[3]), clean_text(str(raw[4])))
        if tag == "u":
            return Usage(raw[1], raw[2])
        if tag == "f":
            return Finish(raw[1])
        if tag == "e":
            try:
                kind = ErrorKind(raw[1])
            except ValueError:
                kind = ErrorKind.PROVIDER
            return StreamError(kind, clean_text(str(raw[2])), raw[3])
        if tag == "w":
            # Shown on the caller's status line: one short line of text, whatever came.
            return Waiting(WaitStage(raw[1]), one_line(clean_text(str(raw[2])), MAX_SOURCE))
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
