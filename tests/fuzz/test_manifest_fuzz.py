"""Manifests from anywhere (text, documents with every field of the wrong type, names
with controls): parsing either gives documents or a ManifestError naming the problems,
never another exception, and no accepted name carries a control character."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from mcpctl_tui.store.manifest import ManifestError, parse_manifest
from mcpctl_tui.store.manifest.documents import Kind
from mcpctl_tui.store.manifest.fields import has_control

FIELDS = [
    "name", "type", "model", "url", "apiKeyRef", "tier", "description", "llm", "project",
    "systemPrompt", "defaultParams", "extras", "priority", "agent", "prompts", "content",
]  # fmt: skip
VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _parse(text: str) -> None:
    try:
        docs = parse_manifest(text, source="fuzz.yaml")
    except ManifestError as exc:
        assert exc.problems  # each refusal names what is wrong
        return
    for located in docs:
        assert not has_control(located.doc.name)


@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    _parse(text)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"kind": st.sampled_from([k.value for k in Kind])},
            optional={f: VALUE for f in FIELDS},
        ),
        min_size=1,
        max_size=3,
    )
)
def test_documents_with_fields_of_any_type(docs: list[dict[str, Any]]) -> None:
    _parse(yaml.safe_dump_all(docs, allow_unicode=True))


@given(st.text(min_size=1, max_size=30))
def test_names_of_any_characters(name: str) -> None:
    _parse(yaml.safe_dump({"kind": "project", "name": name}, allow_unicode=True))
