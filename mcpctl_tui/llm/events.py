"""Typed stream events: what every adapter (and the virtual relay) yields.

Consumers match on the class (``match event: case TextDelta(text=t): ...``).
An adapter stream ends after a ``Finish`` or a ``StreamError``; nothing follows either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


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


MAX_ERROR_TEXT = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """Untrusted text made safe for a one-line error or wait: no control characters,
    bounded (here, not in the transport, so the relay can use it without httpx)."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    TOO_LONG = "too_long"  # the reply passed the size it may have
    STORE = "store"  # the store had no place for the reply (its thread was deleted)


@dataclass(frozen=True, slots=True)
class StreamError:
    kind: ErrorKind
    message: str
    status: int | None = None


class WaitStage(StrEnum):
    CLAIM = "claim"  # a virtual LLM's task waits for a provider to take it
    FIRST_BYTE = "first_byte"  # the request is out; nothing has come back yet
    STORE = "store"  # the reply came; the store that keeps it is away, tried again


MAX_SOURCE = 80  # a source crosses the relay from another process: kept short


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a reply waits for before its first token: shown with the elapsed time
    ("waiting 4 s for claim by a provider") until something comes back; or, once it came,
    for a store that is away to take it. Not content: the engine passes it on and stores
    nothing of it."""

    stage: WaitStage
    source: str  # who should answer: "a provider", an upstream's host, a command

    @property
    def label(self) -> str:
        if self.stage == WaitStage.STORE:
            return f"the store ({self.source})"
        what = "claim by" if self.stage == WaitStage.CLAIM else "first byte from"
        return f"{what} {self.source}"


def first_byte_from(url: str) -> Waiting:
    """The wait of a request to ``url``, named by its host (and port): never the path or
    the query, which may carry a key."""
    try:
        where = urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        where = ""
    return Waiting(WaitStage.FIRST_BYTE, where[:MAX_SOURCE] or "the server")


StreamEvent = TextDelta | ThinkingDelta | ToolCallDelta | Usage | Finish | StreamError | Waiting
