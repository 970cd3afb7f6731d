"""THE ``/`` filter rule, one function for every list and table that filters.

- The match is case-insensitive, on the row's text (its cells joined).
- Plain text matches as a substring.
- Text holding a regex metacharacter (``. * + ? [ ] ( ) { } | ^ $ \\``) that compiles
  as a regex is used as one (``re.search``); one that does not compile (``a[``) is a
  plain substring again, so typing never shows an error mid-way.
- A leading ``!`` inverts the match; ``!`` alone (or empty text) matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REGEX_CHARS = frozenset(".*+?[](){}|^$\\")


def row_filter(text: str) -> Callable[[str], bool]:
    """A predicate over a row's text for the filter ``text``."""
    invert = text.startswith("!")
    body = text[1:] if invert else text
    if not body:
        return lambda _row: True
    found = _regex(body) if REGEX_CHARS.intersection(body) else None
    test = found if found is not None else _substring(body)
    if invert:
        return lambda row: not test(row)
    return test


def _substring(body: str) -> Callable[[str], bool]:
    needle = body.casefold()
    return lambda row: needle in row.casefold()


def _regex(body: str) -> Callable[[str], bool] | None:
    try:
        compiled = re.compile(body, re.IGNORECASE)
    except re.error:
        return None
    return lambda row: compiled.search(row) is not None
