"""THE ``/`` filter rule: substring (any case), ``!`` inverts, a regex when it is one."""

from __future__ import annotations

import pytest

from mcpctl_tui.ui.resources.filter import row_filter
from mcpctl_tui.ui.resources.kinds import COMPLETIONS, NAMES, is_search, resolve

ROWS = ["ops platform echo-local", "writer platform echo-local", "gpu-box.llama (virtual)"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("", ROWS),
        ("!", ROWS),  # "!" alone: nothing to invert yet
        ("OPS", ROWS[:1]),  # case-insensitive substring
        ("platform", ROWS[:2]),
        ("!platform", ROWS[2:]),
        ("^w", ROWS[1:2]),  # a regex: anchored
        ("ops|writer", ROWS[:2]),
        ("!ops|writer", ROWS[2:]),  # ! inverts a regex too
        ("box.llama", ROWS[2:]),  # a dot is a regex dot: still matches itself
        ("box.l+ama", ROWS[2:]),
        ("(virtual", ROWS[2:]),  # not a valid regex: the text as a substring
        ("[", []),  # not a valid regex, and not in any row
        ("nothing", []),
    ],
)
def test_the_filter_rule(text: str, kept: list[str]) -> None:
    keep = row_filter(text)
    assert [r for r in ROWS if keep(r)] == kept


def test_a_regex_without_metacharacters_is_never_taken_as_one() -> None:
    # "a.b" as a regex would match "axb"; plain text with no metacharacter is a substring.
    assert not row_filter("ab")("a-b")
    assert row_filter("a.b")("axb")


def test_every_view_resolves_by_name_alias_and_any_case() -> None:
    assert NAMES == (
        "agents",
        "llms",
        "projects",
        "prompts",
        "personalities",
        "mcpservers",
        "threads",
        "providers",
        "search",
    )
    for text in COMPLETIONS:
        if is_search(text):  # the search view, no table
            assert resolve(text) is None and text in ("search", "find", "grep")
            continue
        view = resolve(text)
        assert view is not None
        assert resolve(text.upper()) is view
    assert resolve("agent") is resolve("agents")
    assert resolve("prov") is resolve("providers")
    assert resolve("llm") is resolve("llms")
    assert resolve("nonsense") is None
