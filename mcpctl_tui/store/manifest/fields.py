"""The checks a manifest field goes through: types, names, key references, plain JSON.

Each check takes the value as parsed from YAML and returns it typed, or raises
``BadField`` with a message that names the field's path and never its value (it may be
a key). ``schema`` builds each kind's table of ``Field`` from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String

from mcpctl_tui.secrets import KeyRefError, validate_key_ref
from mcpctl_tui.store.models import Llm


class BadField(Exception):
    """A field is wrong; the message never contains the field's value.

    ``path`` is the field's path from the document (``prompts[1].priority``), for its line.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def column_length(model: type[Any], column: str) -> int | None:
    col_type = model.__table__.c[column].type
    return col_type.length if isinstance(col_type, String) else None


def text_field(max_len: int | None = None) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise BadField(f"must be a string, not {type_name(value)}")
        if max_len is not None and len(value) > max_len:
            raise BadField(f"is longer than {max_len} characters")
        return value

    return check


def optional(check: Callable[[object], Any]) -> Callable[[object], Any]:
    def opt(value: object) -> Any:
        return None if value is None else check(value)

    return opt


_BIDI = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))


def has_control(text: str) -> bool:
    """C0, DEL, C1 or a bidi embedding/override/isolate control: a name is shown in
    tables and messages, where they would rewrite the terminal or the order the name
    reads in (the set chat/sanitize.py takes out of model output)."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or c in _BIDI for c in text)


def name_field(max_len: int | None) -> Callable[[object], str]:
    base = text_field(max_len)

    def check(value: object) -> str:
        text = base(value)
        if not text:
            raise BadField("must not be empty")
        if has_control(text):
            raise BadField("must not contain control characters")
        if text != text.strip():
            raise BadField("must not start or end with whitespace")
        return text

    return check


def int_field(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(f"must be an integer, not {type_name(value)}")
    if not -(2**31) <= value < 2**31:
        raise BadField("is out of range")
    return value


def bool_field(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadField(f"must be true or false, not {type_name(value)}")
    return value


def key_ref(value: object) -> str | None:
    text = text_field(column_length(Llm, "api_key_ref"))(value)
    if text == "":  # an empty reference is no reference
        return None
    try:
        return validate_key_ref(text)
    except KeyRefError:  # never echo the value: it may be the key itself
        raise BadField(
            "must be a key reference such as env:NAME or keyring:SERVICE/USER "
            "(literal keys are refused)"
        ) from None


MAX_JSON_DEPTH = 32


def json_value(value: object, path: str, depth: int, seen: frozenset[int]) -> Any:
    """Plain JSON data only (YAML dates, sets, aliases that loop … are refused)."""
    if depth > MAX_JSON_DEPTH:
        raise BadField(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels", path)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadField(f"{path}: must be a finite number", path)
        return value
    if isinstance(value, list | dict):
        if id(value) in seen:
            raise BadField(f"{path}: refers to itself", path)
        inner = seen | {id(value)}
        if isinstance(value, list):
            return [json_value(v, f"{path}[{i}]", depth + 1, inner) for i, v in enumerate(value)]
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise BadField(f"{path}: keys must be strings, not {type_name(k)}", path)
            out[k] = json_value(v, f"{path}.{k}", depth + 1, inner)
        return out
    raise BadField(
        f"{path}: {type_name(value)} is not plain JSON data (quote it as a string)", path
    )


def json_object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadField(f"must be a mapping, not {type_name(value)}")
    result: dict[str, Any] = json_value(value, "", 0, frozenset())
    return result


@dataclass(frozen=True, slots=True)
class Field:
    key: str  # camelCase, as written in YAML
    attr: str  # the dataclass attribute
    check: Callable[[object], Any]
    required: bool = False
