"""Typed stream events: what every adapter (and the virtual relay) yields.

Consumers match on the class (``match event: case TextDelta(text=t): ...``).
An adapter stream ends after a ``Finish`` or a ``StreamError``; nothing follows either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same index belong to one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str | None = None


class ErrorKind(StrEnum):
    AUTH = "auth"  # 401/403
    NOT_FOUND = "not_found"  # 404: wrong URL or model
    RATE_LIMIT = "rate_limit"  # 429
    SERVER = "server"  # 5xx
    BAD_REQUEST = "bad_request"  # other 4xx
    NETWORK = "network"  # connect/read failure, stream cut
    PROTOCOL = "protocol"  # the bytes made no sense
    PROVIDER = "provider"  # an error object inside the stream
    CONFIG = "config"  # missing key, unknown type, dispatcher not wired
    OFFLINE = "offline"  # virtual publisher offline
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class StreamError:
    kind: ErrorKind
    message: str
    status: int | None = None


StreamEvent = TextDelta | ThinkingDelta | ToolCallDelta | Usage | Finish | StreamError
