"""Reading an upstream's JSON fields by their type: the one rule every decoder follows.

A provider (or whatever answers at its URL) may send a number where text belongs, a dict
for a tool's name, a string for a token count. Each read names the field's path and
says what it expected, so the turn ends with one line (``message.content: expected
text, got 12345``) instead of a TypeError deep in the engine, or a silent ``str(42)``.
An absent field (missing or null) is the empty value of its type.
"""

from __future__ import annotations

from typing import Any

from mcpctl_tui.llm.events import ErrorKind, StreamError, one_line


class FieldError(ValueError):
    """An upstream field of the wrong type; the message names the field and what came."""


def _shown(value: object) -> str:
    return one_line(repr(value), 40)


def _wrong(where: str, expected: str, value: object) -> FieldError:
    return FieldError(f"{where}: expected {expected}, got {_shown(value)}")


def text(value: object, where: str) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    raise _wrong(where, "text", value)


def count(value: object, where: str) -> int | None:
    """A token count: a non-negative integer, or None when absent."""
    if value is None:
        return None
    if type(value) is int and value >= 0:
        return value
    raise _wrong(where, "a count", value)


def mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _wrong(where, "an object", value)


def items(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _wrong(where, "a list", value)


def field_error(exc: FieldError) -> StreamError:
    """The stream's end when a field has the wrong type."""
    return StreamError(ErrorKind.PROTOCOL, f"unexpected reply from the server: {exc}")
