"""Applying manifests to the store, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mcpctl_tui.store.agents import get_agent_by_name
from mcpctl_tui.store.catalog import get_llm_by_name
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.manifest import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    ManifestError,
    Outcome,
    PersonalityDoc,
    ProjectDoc,
    apply_manifest,
    apply_one,
    dump_yaml,
    get_objects,
)
from mcpctl_tui.store.models import Llm, Personality, PersonalityPrompt, Prompt
from mcpctl_tui.store.types import LlmKind, LlmStatus
from tests.support.databases import dump_store, fresh_db_url
from tests.support.manifests import BASE
from tests.support.seed import add_agent, add_llm


async def apply(store: Store, text: str, **kw: bool) -> list[str]:
    return [str(r) for r in await apply_manifest(store, [(None, text)], **kw)]


def _reversed(text: str) -> str:
    return "---\n".join(reversed(text.split("---\n")))


async def test_documents_in_any_order_with_the_default_personality_cycle(store: Store) -> None:
    out = await apply(store, _reversed(BASE))
    assert out == [
        "personality/terse (agent helper) created",
        "prompt/safety created",
        "prompt/house created",
        "prompt/house (project web) created",
        "prompt/style (agent helper) created",
        "agent/helper created",
        "llm/openai-main created",
        "project/web created",
    ]
    async with store.session() as s:
        agent = await get_agent_by_name(s, "helper")
        assert agent is not None
        personality = await s.get(Personality, agent.default_personality_id)
        assert personality is not None and personality.name == "terse"
        assert personality.agent_id == agent.id
        assert agent.default_params == {"temperature": 0.2, "max_tokens": 512}
        assert agent.system_prompt == "You are helpful.\nBe brief.\n"
        llm = await get_llm_by_name(s, "openai-main")
        assert llm is not None and llm.api_key_ref == "env:OPENAI_API_KEY"
        assert (llm.kind, llm.status) == (LlmKind.PUBLIC, LlmStatus.ACTIVE)


async def test_reapply_is_unchanged_and_writes_nothing(store: Store) -> None:
    await apply(store, BASE)
    before = await dump_store(store)
    out = await apply(store, BASE)
    assert all(line.endswith(" unchanged") for line in out), out
    assert len(out) == 8
    assert await dump_store(store) == before  # not even updated_at moved


async def test_changed_field_updates_in_place(store: Store) -> None:
    await apply(store, BASE)
    before = await dump_store(store)
    changed = BASE.replace("model: gpt-4o", "model: gpt-4.1").replace("- name: safety\n", "")
    out = await apply(store, changed)
    assert "llm/openai-main configured" in out
    assert "personality/terse (agent helper) configured" in out
    assert "agent/helper unchanged" in out
    assert sum(line.endswith(" configured") for line in out) == 2
    after = await dump_store(store)
    # Same ids: updated in place, not replaced.
    assert [r[0] for r in after["llm"]] == [r[0] for r in before["llm"]]
    assert len(after["personality_prompt"]) == len(before["personality_prompt"]) - 1
    async with store.session() as s:
        llm = await get_llm_by_name(s, "openai-main")
        assert llm is not None and llm.model == "gpt-4.1"


async def test_an_omitted_optional_field_goes_back_to_its_default(store: Store) -> None:
    await apply(store, BASE)
    out = await apply(store, BASE.replace("defaultPersonality: terse\n", ""))
    assert "agent/helper configured" in out
    async with store.session() as s:
        agent = await get_agent_by_name(s, "helper")
        assert agent is not None and agent.default_personality_id is None


async def test_binding_lookup_agent_then_project_then_global(store: Store) -> None:
    await apply(store, BASE)
    async with store.session() as s:
        q = (
            select(Prompt.name, Prompt.agent_id, Prompt.project_id)
            .join(PersonalityPrompt, PersonalityPrompt.prompt_id == Prompt.id)
            .order_by(Prompt.name)
        )
        bound = (await s.execute(q)).all()
    # house: the project's (agent has none, project web has one, global has one);
    # safety: only global; style: the agent's own.
    assert [(n, a is not None, p is not None) for n, a, p in bound] == [
        ("house", False, True),
        ("safety", False, False),
        ("style", True, False),
    ]


async def test_export_writes_an_explicit_scope_only_when_the_rule_would_miss(
    store: Store,
) -> None:
    text = BASE.replace("- name: house\n", "- {name: house, global: true}\n") + (
        "---\nkind: agent\nname: other\nllm: openai-main\n"
        "---\nkind: prompt\nname: tone\nagent: other\ncontent: c\n"
        "---\nkind: prompt\nname: house\nproject: elsewhere\ncontent: c\n"
        "---\nkind: project\nname: elsewhere\n"
        "---\nkind: personality\nname: mixed\nagent: helper\nprompts:\n"
        "- {name: tone, agent: other, priority: -1}\n- {name: house, project: elsewhere}\n"
        "- {name: house, project: web}\n"
    )
    await apply(store, text)
    async with store.session() as s:
        mixed, terse = await get_objects(s, Kind.PERSONALITY)
        before = await dump_store(store)
    assert terse.document["prompts"] == [
        {"name": "style", "priority": 5},
        {"name": "house", "global": True},
        {"name": "safety"},
    ]
    assert mixed.document["prompts"] == [
        {"name": "tone", "priority": -1, "agent": "other"},
        {"name": "house", "project": "elsewhere"},
        {"name": "house"},
    ]
    out = await apply(store, dump_yaml([mixed, terse]))
    assert out == [
        "personality/mixed (agent helper) unchanged",
        "personality/terse (agent helper) unchanged",
    ]
    assert await dump_store(store) == before


async def test_full_export_reapplies_unchanged(store: Store) -> None:
    await apply(store, BASE.replace("- name: house\n", "- {name: house, global: true}\n"))
    async with store.session() as s:
        items = [e for k in Kind for e in await get_objects(s, k)]
    before = await dump_store(store)
    out = await apply(store, dump_yaml(items))
    assert len(out) == 8 and all(line.endswith(" unchanged") for line in out), out
    assert await dump_store(store) == before


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (("llm: openai-main", "llm: nope"), "agent/helper: llm 'nope' not found"),
        (
            ("project: web\ndescription: Answers", "project: nope\ndescription: Answers"),
            "agent/helper: project 'nope' not found",
        ),
        (
            ("defaultPersonality: terse", "defaultPersonality: chatty"),
            "agent/helper: defaultPersonality 'chatty' is not a personality of agent 'helper'",
        ),
        (
            ("name: style\nagent: helper", "name: style\nagent: nobody"),
            "prompt/style (agent nobody): agent 'nobody' not found",
        ),
        (
            ("- name: safety", "- name: missing"),
            "personality/terse (agent helper): prompts[2]: prompt 'missing' not found for agent "
            "'helper' (its own prompts, its project's, global)",
        ),
        (
            ("- name: safety", "- {name: style, project: web}"),
            "prompts[2]: prompt 'style' not found among the prompts of project 'web'",
        ),
        (
            ("- name: safety", "- {name: style, agent: helper}"),
            "prompts[2] binds the same prompt as prompts[0]",
        ),
    ],
)
async def test_unknown_reference_names_the_document_and_writes_nothing(
    store: Store, patch: tuple[str, str], expected: str
) -> None:
    await apply(store, "kind: project\nname: keep\n")
    before = await dump_store(store)
    bad = BASE.replace(*patch)
    assert bad != BASE
    with pytest.raises(ManifestError) as err:
        await apply(store, bad)
    assert expected in str(err.value)
    assert str(err.value).startswith("document ")
    assert await dump_store(store) == before


async def test_dry_run_reports_and_writes_nothing(store: Store) -> None:
    before = await dump_store(store)
    out = await apply(store, BASE, dry_run=True)
    assert len(out) == 8 and all(line.endswith(" created") for line in out)
    assert await dump_store(store) == before


async def _make_virtual(store: Store) -> None:
    virtual: dict[str, Any] = {
        "kind": LlmKind.VIRTUAL,
        "provider_session_id": "sess-42",
        "last_heartbeat_at": None,
    }
    async with store.transaction() as s:
        llm = await add_llm(s, "remote", type="openai", model="m", **virtual)
        await add_agent(s, "vagent", llm.id, **virtual)


async def test_virtual_rows_are_not_changed_by_apply(store: Store) -> None:
    await _make_virtual(store)
    before = await dump_store(store)
    with pytest.raises(ManifestError) as err:
        await apply(store, "kind: llm\nname: remote\ntype: openai\nmodel: other\n")
    assert "llm remote is virtual, owned by provider session sess-42" in str(err.value)
    with pytest.raises(ManifestError, match="agent vagent is virtual, owned by provider session"):
        await apply(store, "kind: agent\nname: vagent\nllm: remote\nsystemPrompt: hi\n")
    assert await dump_store(store) == before
    # Stating exactly what is there changes nothing and is fine; so is pointing a public
    # agent at the virtual LLM, and giving the virtual agent a prompt.
    out = await apply(
        store,
        "kind: llm\nname: remote\ntype: openai\nmodel: m\n---\n"
        "kind: agent\nname: pub\nllm: remote\n---\n"
        "kind: prompt\nname: p\nagent: vagent\ncontent: c\n",
    )
    assert out == ["llm/remote unchanged", "agent/pub created", "prompt/p (agent vagent) created"]


async def test_an_export_applied_elsewhere_skips_virtual_rows(
    store: Store, backend: str, tmp_path: Path
) -> None:
    """``get all -o yaml`` marks a provider's llm and agent (``virtual: true`` and the
    session); applied to another database they are skipped with a note, never created as
    a public LLM with no URL, and the rest (a public agent on a public LLM) lands."""
    await _make_virtual(store)
    await apply(
        store, "kind: llm\nname: pub-llm\ntype: echo\n---\nkind: agent\nname: pub\nllm: pub-llm\n"
    )
    async with store.session() as s:
        text = dump_yaml([e for k in Kind for e in await get_objects(s, k)])
    assert "virtual: true\nproviderSession: sess-42\n" in text
    assert text.count("virtual: true") == 2  # the llm and the agent, nothing public
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    async with fresh_db_url(backend, other_dir) as other_url:
        other = await open_store(other_url)
        try:
            out = await apply(other, text)
            note = "(virtual, published by provider session sess-42; only a provider creates it)"
            assert sorted(out) == sorted(
                [
                    "agent/pub created",
                    f"agent/vagent skipped {note}",
                    "llm/pub-llm created",
                    f"llm/remote skipped {note}",
                ]
            )
            async with other.session() as s:
                names = sorted((await s.execute(select(Llm.name))).scalars())
            assert names == ["pub-llm"]
        finally:
            await other.close()
    # In the database it came from, the same document changes nothing either.
    before = await dump_store(store)
    assert all(line.endswith((" unchanged", note)) for line in await apply(store, text))
    assert await dump_store(store) == before


async def test_apply_one_validates_documents_built_in_code(store: Store) -> None:
    async with store.transaction() as s:
        created = await apply_one(
            s, LlmDoc(name="local", type="ollama", model="llama3", url="http://127.0.0.1:11434")
        )
        assert str(created) == "llm/local created"
        with pytest.raises(ManifestError, match="llm/x: apiKeyRef must be a key reference"):
            await apply_one(s, LlmDoc(name="x", type="openai", api_key_ref="sk-abc"))
        with pytest.raises(ManifestError, match="name must not be empty"):
            await apply_one(s, ProjectDoc(name=""))
        again = await apply_one(
            s, LlmDoc(name="local", type="ollama", model="llama3", url="http://127.0.0.1:11434")
        )
        assert again.outcome is Outcome.UNCHANGED


async def test_apply_one_refusals_name_the_field_at_fault(store: Store) -> None:
    """For an editor to go to it: the document's attribute, or None for no one field."""
    cases: list[tuple[Document, str | None]] = [
        (LlmDoc(name="x", type="openai", api_key_ref="sk-abc"), "api_key_ref"),
        (LlmDoc(name="x", type="openai"), "url"),  # an HTTP type needs its URL
        (LlmDoc(name="x", type="ollama", url="localhost:11434"), "url"),
        (AgentDoc(name="a", llm="ghost"), "llm"),
        (AgentDoc(name="a", llm="l", default_params={"t": float("nan")}), "default_params"),
        (AgentDoc(name="a", llm="l", default_personality="ghost"), "default_personality"),
        (PersonalityDoc(name="p", agent="a", prompts=(BindingDoc(name="ghost"),)), "prompts"),
        (PersonalityDoc(name="p", agent="ghost"), "agent"),
        (LlmDoc(name="v", type="openai", description="changed"), None),  # virtual row
    ]
    async with store.transaction() as s:
        await add_llm(s, "v", type="openai", kind=LlmKind.VIRTUAL, last_heartbeat_at=None)
        await apply_one(s, LlmDoc(name="l", type="echo"))
        await apply_one(s, AgentDoc(name="a", llm="l"))
    for doc, field in cases:
        with pytest.raises(ManifestError) as err:
            async with store.transaction() as s:
                await apply_one(s, doc)
        assert [p.field for p in err.value.problems] == [field], doc


async def test_a_stored_literal_key_is_never_exported(store: Store) -> None:
    secret = "sk-live-STORED-LITERAL"
    async with store.transaction() as s:  # by hand: the seed refuses a literal key
        s.add(Llm(name="old", type="openai", api_key_ref=secret))
    async with store.session() as s:
        (item,) = await get_objects(s, Kind.LLM, "old")
    text = dump_yaml([item])
    assert secret not in text
    assert "apiKeyRef: '<hidden: not a key reference>'" in text
    # Applying the export back is refused (not silently turned into a bogus reference).
    with pytest.raises(ManifestError, match="apiKeyRef must be a key reference"):
        await apply(store, text)


async def test_concurrent_applies_queue_instead_of_colliding(db_url: str) -> None:
    stores = [await open_store(db_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply(s, BASE) for s in stores))
        outcomes = sorted(tuple(line.rsplit(" ", 1)[1] for line in r) for r in results)
        assert outcomes == [("created",) * 8] + [("unchanged",) * 8] * 3
    finally:
        for s in stores:
            await s.close()


async def test_reference_problems_point_at_the_field_line(store: Store) -> None:
    text = (
        "kind: llm\nname: l\ntype: echo\n---\n"  # lines 1-3
        "kind: personality\nname: p\nagent: a\nprompts:\n- name: x\n- name: ghost\n"  # 5-10
        "---\nkind: agent\nname: a\nllm: l\n---\nkind: prompt\nname: x\ncontent: c\n"
    )
    with pytest.raises(ManifestError) as err:
        await apply(store, text)
    (problem,) = err.value.problems
    assert (problem.index, problem.line) == (2, 10)
    assert "prompts[1]: prompt 'ghost' not found" in problem.reason


@pytest.mark.parametrize(
    "url",
    [
        "",
        "  ",
        "localhost:8000",
        "ftp://h/v1",
        "http://",
        "http://:80/v1",
        "http://h:0/",
        "http://h:99999/",
        "http://h /v1",
        "h t t p://x",
    ],
)
async def test_an_http_llm_needs_an_http_url(store: Store, url: str) -> None:
    before = await dump_store(store)
    for llm_type in ("openai", "anthropic", "ollama", "vllm"):
        with pytest.raises(ManifestError) as err:
            async with store.transaction() as s:
                await apply_one(s, LlmDoc(name="x", type=llm_type, url=url))
        (problem,) = err.value.problems
        assert problem.field == "url" and "e.g. http://127.0.0.1:8000/v1" in problem.reason
    assert await dump_store(store) == before


async def test_good_urls_and_old_rows_without_one(store: Store) -> None:
    for url in ("http://127.0.0.1:8000/v1", "https://api.example.com", "http://[::1]:11434"):
        async with store.transaction() as s:
            await apply_one(s, LlmDoc(name="ok", type="openai", url=url))
    async with store.transaction() as s:
        await apply_one(s, LlmDoc(name="e", type="echo"))  # no server, no URL
        # A row stored before URLs were checked re-applies as long as its URL is unchanged.
        await add_llm(s, "old", type="openai", url="")
    async with store.transaction() as s:
        await apply_one(s, LlmDoc(name="old", type="openai", url="", description="kept"))
