"""Parsing and validating manifest documents (no database involved)."""

from __future__ import annotations

import pytest
import yaml

from mcpctl_tui.store.errors import Invalid
from mcpctl_tui.store.manifest import (
    AgentDoc,
    BindingDoc,
    Kind,
    LlmDoc,
    ManifestError,
    PersonalityDoc,
    ProjectDoc,
    PromptDoc,
    parse_kind,
    parse_manifest,
    to_mapping,
)
from mcpctl_tui.store.types import Prices
from tests.support.manifests import BASE


def test_every_kind_parses_into_its_typed_document() -> None:
    docs = parse_manifest(BASE)
    assert [d.index for d in docs] == list(range(1, 9))
    assert [d.line for d in docs] == [1, 5, 13, 25, 31, 36, 40, 45]
    assert docs[0].doc == ProjectDoc(name="web", description="The web team")
    assert docs[1].doc == LlmDoc(
        name="openai-main",
        type="openai",
        model="gpt-4o",
        url="https://api.openai.com/v1",
        api_key_ref="env:OPENAI_API_KEY",
        tier="fast",
    )
    assert docs[2].doc == AgentDoc(
        name="helper",
        llm="openai-main",
        project="web",
        description="Answers questions",
        system_prompt="You are helpful.\nBe brief.\n",
        default_params={"temperature": 0.2, "max_tokens": 512},
        extras={"labels": ["search"]},
        default_personality="terse",
    )
    assert docs[3].doc == PromptDoc(
        name="style", content="Short answers.", priority=3, agent="helper"
    )
    assert docs[5].doc == PromptDoc(name="house", content="Global house rules.")
    assert docs[7].doc == PersonalityDoc(
        name="terse",
        agent="helper",
        description="Very short",
        priority=1,
        prompts=(
            BindingDoc(name="style", priority=5),
            BindingDoc(name="house"),
            BindingDoc(name="safety"),
        ),
    )


def test_to_mapping_round_trips_through_yaml() -> None:
    docs = [d.doc for d in parse_manifest(BASE)]
    text = yaml.safe_dump_all([to_mapping(d) for d in docs], sort_keys=False)
    assert [d.doc for d in parse_manifest(text)] == docs
    # Defaults are left out, kind comes first, keys are camelCase.
    assert to_mapping(docs[3]) == {
        "kind": "prompt",
        "name": "style",
        "content": "Short answers.",
        "priority": 3,
        "agent": "helper",
    }


def test_a_list_document_is_one_document_per_item() -> None:
    docs = parse_manifest('[{"kind": "project", "name": "a"}, {"kind": "project", "name": "b"}]')
    assert [(d.index, d.doc.name) for d in docs] == [(1, "a"), (2, "b")]


def test_binding_scopes_and_shorthand() -> None:
    text = """\
kind: personality
name: p
agent: a
prompts:
- plain
- {name: g, global: true}
- {name: x, project: web, priority: 2}
- {name: y, agent: other}
"""
    (doc,) = parse_manifest(text)
    assert isinstance(doc.doc, PersonalityDoc)
    assert doc.doc.prompts == (
        BindingDoc(name="plain"),
        BindingDoc(name="g", global_=True),
        BindingDoc(name="x", priority=2, project="web"),
        BindingDoc(name="y", agent="other"),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: llm\nname: x\n  type: [\n", "document 1 (line 3): malformed YAML"),
        (
            "kind: project\nname: ok\n---\nkind: project\nname: [unclosed\n",
            "document 2 (line 6): malformed YAML",
        ),
        ("- 1\n", "document 1 (line 1): must be a mapping with a kind, not an integer"),
        ("just text\n", "document 1 (line 1): must be a mapping with a kind, not a string"),
        ("name: x\n", "document 1 (line 1): missing field 'kind'"),
        (
            "kind: model\nname: x\n",
            "document 1 (line 1) model/x: unknown kind 'model'; expected one of: llm, project, "
            "agent, prompt, personality",
        ),
        ("kind: llm\nname: x\n", "document 1 (line 1) llm/x: missing field 'type'"),
        ("kind: llm\nname: x\ntype: o\nmodle: y\n", "llm/x: unknown field 'modle'"),
        ("kind: llm\nname: x\ntype: 3\n", "llm/x: type must be a string, not an integer"),
        ("kind: llm\nname: ''\ntype: o\n", "name must not be empty"),
        ("kind: llm\nname: ' x'\ntype: o\n", "name must not start or end with whitespace"),
        ("kind: llm\nname: x\ntype: o\nmodel: " + "m" * 201 + "\n", "model is longer than 200"),
        (
            "kind: prompt\nname: x\ncontent: c\npriority: high\n",
            "prompt/x: priority must be an integer, not a string",
        ),
        ("kind: prompt\nname: x\ncontent: c\npriority: true\n", "priority must be an integer"),
        ("kind: prompt\nname: x\n", "prompt/x: missing field 'content'"),
        (
            "kind: prompt\nname: x\ncontent: c\nproject: p\nagent: a\n",
            "a prompt belongs to a project or to an agent, not both",
        ),
        ("kind: agent\nname: a\nllm: l\ndefaultParams: [1]\n", "defaultParams must be a mapping"),
        (
            "kind: agent\nname: a\nllm: l\ndefaultParams: {when: 2024-01-01}\n",
            "defaultParams.when: date is not plain JSON data (quote it as a string)",
        ),
        (
            "kind: agent\nname: a\nllm: l\nextras: &x {self: *x}\n",
            "extras.self: refers to itself",
        ),
        (
            "kind: personality\nname: p\nagent: a\nprompts: {name: x}\n",
            "prompts must be a list of {name, priority} mappings, not a mapping",
        ),
        (
            "kind: personality\nname: p\nagent: a\nprompts: [{priority: 1}]\n",
            "prompts[0]: missing field 'name'",
        ),
        (
            "kind: personality\nname: p\nagent: a\nprompts: [{name: x, priority: a}]\n",
            "prompts[0]: priority must be an integer, not a string",
        ),
        (
            "kind: personality\nname: p\nagent: a\nprompts: [x, x]\n",
            "prompts[1] binds prompt 'x' twice",
        ),
        (
            "kind: personality\nname: p\nagent: a\nprompts: [{name: x, global: true, agent: b}]\n",
            "prompts[0] names more than one of agent, project, global",
        ),
        ("kind: project\nname: a\nname: b\n", "document 1 (line 3): malformed YAML"),
        (
            "kind: project\nname: a\n---\nkind: project\nname: a\n",
            "document 2 (line 4) project/a: duplicates document 1 (line 1)",
        ),
    ],
)
def test_bad_documents_are_named_with_index_line_and_reason(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(text)
    assert expected in str(err.value)
    assert isinstance(err.value, Invalid)


def test_duplicate_key_names_the_key() -> None:
    with pytest.raises(ManifestError, match="duplicate key 'name'"):
        parse_manifest("kind: project\nname: a\nname: b\n")


def test_every_bad_document_is_reported_not_just_the_first() -> None:
    text = "kind: llm\nname: a\n---\nkind: project\nname: ok\n---\nkind: nope\n"
    with pytest.raises(ManifestError) as err:
        parse_manifest(text)
    assert [(p.index, p.line) for p in err.value.problems] == [(1, 1), (3, 7)]
    assert len(str(err.value).splitlines()) == 2


SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"kind: llm\nname: x\ntype: openai\napiKey: {SECRET}\n",
            "field 'apiKey' holds a literal secret, which is refused",
        ),
        (
            f"kind: llm\nname: x\ntype: openai\napiKeyRef: {SECRET}\n",
            "apiKeyRef must be a key reference such as env:NAME or keyring:SERVICE/USER",
        ),
        (
            "kind: agent\nname: a\nllm: l\n"
            f"extras: {{headers: {{Authorization: Bearer {SECRET}}}}}\n",
            "field 'extras.headers.Authorization' holds a literal secret",
        ),
        (
            f"kind: agent\nname: a\nllm: l\ndefaultParams: {{api_key: {SECRET}}}\n",
            "field 'defaultParams.api_key' holds a literal secret",
        ),
        # Malformed YAML on the line holding the key: PyYAML's snippet would quote it.
        (f'kind: llm\nname: x\ntype: o\napiKeyRef: "{SECRET}\n', "malformed YAML"),
        (f"kind: llm\nname: x\ntype: o\napiKeyRef: {SECRET}: x\n", "malformed YAML"),
    ],
)
def test_literal_keys_are_refused_without_echoing_them(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(text)
    assert expected in str(err.value)
    assert SECRET not in str(err.value)
    assert SECRET[:8] not in repr(err.value.problems)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("llm", Kind.LLM),
        ("LLMs", Kind.LLM),
        ("agents", Kind.AGENT),
        ("project", Kind.PROJECT),
        ("prompts", Kind.PROMPT),
        ("personality", Kind.PERSONALITY),
        ("personalities", Kind.PERSONALITY),
    ],
)
def test_kind_names_singular_or_plural(text: str, kind: Kind) -> None:
    assert parse_kind(text) is kind


def test_unknown_kind_name_is_invalid() -> None:
    with pytest.raises(Invalid, match="unknown kind 'widgets'"):
        parse_kind("widgets")


def test_empty_documents_are_skipped_but_counted() -> None:
    docs = parse_manifest("---\nkind: project\nname: a\n---\n---\nkind: project\nname: b\n")
    assert [(d.index, d.doc.name) for d in docs] == [(1, "a"), (3, "b")]


def test_problems_point_at_the_line_of_the_field() -> None:
    text = """\
kind: project
name: ok
---
kind: personality
name: p
agent: a
description: fine
prompts:
- name: x
- name: y
  priority: high
---
kind: agent
name: a
llm: l
extras:
  headers:
    Authorization: Bearer sk-live-XYZ
"""
    with pytest.raises(ManifestError) as err:
        parse_manifest(text)
    assert [(p.index, p.line) for p in err.value.problems] == [(2, 11), (3, 18)]
    assert "prompts[1]: priority must be an integer" in str(err.value)


def test_an_llm_s_prices_parse_and_round_trip() -> None:
    text = "kind: llm\nname: l\ntype: openai\nprices: {input: 2.5, output: 10, currency: eur}\n"
    (doc,) = [d.doc for d in parse_manifest(text)]
    assert isinstance(doc, LlmDoc) and doc.prices == Prices(2.5, 10.0, "EUR")
    assert to_mapping(doc)["prices"] == {"input": 2.5, "output": 10.0, "currency": "EUR"}
    usd = parse_manifest("kind: llm\nname: l\ntype: openai\nprices: {input: 0, output: 1}\n")
    assert to_mapping(usd[0].doc)["prices"] == {"input": 0.0, "output": 1.0}  # USD: the default
    assert [d.doc for d in parse_manifest(yaml.safe_dump(to_mapping(doc)))] == [doc]


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ("{input: -1, output: 1}", "prices: input must be a finite number, zero or more"),
        ("{input: .nan, output: 1}", "prices: input must be a finite number, zero or more"),
        ("{input: '2', output: 1}", "prices: input must be a number, not a string"),
        ("{input: true, output: 1}", "prices: input must be a number, not a boolean"),
        ("{input: 1}", "prices: missing field 'output'"),
        ("{input: 1, output: 1, per: 1000}", "prices: unknown field 'per'"),
        ("{input: 1, output: 1, currency: US$}", "prices: currency must be a currency code"),
        ("[1, 2]", "prices must be a mapping of input, output (per million tokens) and currency"),
    ],
)
def test_bad_prices_are_refused_with_the_field_named(prices: str, expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(f"kind: llm\nname: l\ntype: openai\nprices: {prices}\n")
    assert expected in str(err.value)
