"""Making untrusted text storable: the same text on both backends, never a failed write."""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a pair becomes its character).

    A provider's JSON may carry ``\\ud800`` escapes; such a string cannot be encoded as
    UTF-8, so it would fail at the driver, the terminal or the relay."""
    if _SURROGATE.search(text) is None:  # the common case: one C-level scan, no copy
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def storable(value: Any) -> Any:
    """NUL and lone surrogates become U+FFFD, in strings and inside JSON values.

    PostgreSQL stores NUL in neither text nor JSONB, and model output (untrusted) may
    contain one; applied on both backends so they hold the same text."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        return clean_surrogates(value)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value
