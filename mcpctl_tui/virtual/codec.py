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
from mcpctl_tui.llm.fields import FieldError, count, text
from mcpctl_tui.llm.request import InferenceRequest, Message
from mcpctl_tui.store.text import clean_surrogates


class CodecError(ValueError):
    """A stored payload that is not an encoded event or request."""


clean_text = clean_surrogates  # the relay keeps NUL (its JSON column holds it)


def _opt(value: Any, where: str) -> str | None:
    return None if value is None else clean_text(text(value, where))


def encode_event(event: StreamEvent) -> list[Any]:
    match event:
        case TextDelta(text=text):
            return ["t", clean_text(text)]
        case ThinkingDelta(text=text):
            return ["k", clean_text(text)]
        case ToolCallDelta(index=index, id=id_, name=name, arguments=arguments):
            id_, name = (None if v is None else clean_text(v) for v in (id_, name))
            return ["c", index, id_, name, clean_text(arguments)]
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
        # Every field is read by its type (llm/fields.py): a provider is another process,
        # and what it relays is checked as an upstream's reply is.
        if tag == "t":
            return TextDelta(clean_text(text(raw[1], "text")))
        if tag == "k":
            return ThinkingDelta(clean_text(text(raw[1], "thinking")))
        if tag == "c":
            index = count(raw[1], "tool call index")
            if index is None:
                raise FieldError("tool call index: missing")
            args = clean_text(text(raw[4], "tool call arguments"))
            return ToolCallDelta(
                index, _opt(raw[2], "tool call id"), _opt(raw[3], "tool name"), args
            )
        if tag == "u":
            return Usage(count(raw[1], "input tokens"), count(raw[2], "output tokens"))
        if tag == "f":
            return Finish(None if raw[1] is None else text(raw[1], "finish reason"))
        if tag == "e":
            try:
                kind = ErrorKind(raw[1])
            except ValueError:
                kind = ErrorKind.PROVIDER
            status = count(raw[3], "error status")
            return StreamError(kind, clean_text(text(raw[2], "error message")), status)
        if tag == "w":
            # Shown on the caller's status line: one short line of text, whatever came.
            source = one_line(clean_text(text(raw[2], "wait source")), MAX_SOURCE)
            return Waiting(WaitStage(raw[1]), source)
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
