"""Input that never ends or explodes is refused at once, in one line: an endless file
(``apply -f /dev/zero``, ``--system-file /dev/urandom``), a YAML alias bomb, a nesting
no reader can walk. The figures the probe saw: 541 s and 16.5 GB for a 402-byte bomb."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcpctl_tui.store.manifest import ManifestError, parse_manifest
from mcpctl_tui.store.manifest.parse import MAX_DEPTH, MAX_NODES
from tests.support.cli_runs import invoke_cli

# Nine levels of nine aliases each: 9**9 (387 million) strings once expanded, 402 bytes.
BOMB = "\n".join(
    [
        "kind: project",
        "name: boom",
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)),
        "description: *i",
        "",
    ]
)


def test_an_alias_bomb_is_refused_in_a_moment() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ManifestError) as info:
        parse_manifest(BOMB, source="bomb.yaml")
    assert time.perf_counter() - t0 < 2
    (problem,) = info.value.problems
    assert problem.reason.startswith("refused: the document expands to more than")
    assert f"{MAX_NODES:,}" in problem.reason


def test_shared_anchors_within_the_budget_still_apply() -> None:
    """Anchors are fine in a manifest of ordinary size (a shared description)."""
    text = "\n".join(
        [
            "- kind: llm",
            "  name: a",
            "  type: echo",
            "  description: &d the shared words",
            "- kind: llm",
            "  name: b",
            "  type: echo",
            "  description: *d",
            "",
        ]
    )
    docs = parse_manifest(text)
    assert [d.doc.name for d in docs] == ["a", "b"]


def test_nesting_past_the_depth_is_refused() -> None:
    depth = MAX_DEPTH + 5
    text = "kind: project\nname: deep\nextras: " + "[" * depth + "]" * depth
    with pytest.raises(ManifestError) as info:
        parse_manifest(text)
    assert info.value.problems[0].reason == f"refused: nested deeper than {MAX_DEPTH} levels"


def test_apply_of_an_endless_file_stops_at_its_limit(db_url: str) -> None:
    t0 = time.perf_counter()
    res = invoke_cli(db_url, "apply", "-f", "/dev/zero")
    assert time.perf_counter() - t0 < 10
    assert res.exit_code == 1
    assert res.stderr.strip() == "Error: /dev/zero: over 16 MiB; refused"


def test_a_system_file_that_never_ends_is_refused(db_url: str, tmp_path: Path) -> None:
    res = invoke_cli(db_url, "chat", "a", "-m", "hi", "--system-file", "/dev/urandom")
    assert res.exit_code == 2
    assert res.stderr.strip().endswith("--system-file /dev/urandom: over 1 MiB; refused")
