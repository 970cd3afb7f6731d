"""Apply validated manifest documents to the store, all in the caller's transaction.

Documents may come in any order: they are applied kind by kind (projects, llms, agents,
prompts, personalities) so every reference by name finds its target, whether it is in
the same manifest or already in the database; the agent -> default personality link,
a cycle, is made last. The session autoflushes, so lookups see the rows written earlier
in the same transaction.

An object that already holds the document's values is left alone (no UPDATE, so
``updated_at`` does not move either): re-applying a manifest is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Conflict, Invalid
from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    BindingDoc,
    Document,
    Kind,
    LlmDoc,
    Located,
    ManifestError,
    PersonalityDoc,
    Problem,
    ProjectDoc,
    PromptDoc,
    identity,
    label,
    parse_manifest,
    validate,
)
from mcpctl_tui.store.models import Agent, Llm, Personality, PersonalityPrompt, Project, Prompt
from mcpctl_tui.store.queries import (
    get_agent_by_name,
    get_llm_by_name,
    get_personality_by_name,
    get_project_by_name,
)
from mcpctl_tui.store.types import LlmKind

# pg_advisory_xact_lock key for apply ("mcpctlmf" as a bigint; migrations use "mcpctlmg").
PG_APPLY_LOCK_KEY = int.from_bytes(b"mcpctlmf", "big") & 0x7FFF_FFFF_FFFF_FFFF


class Outcome(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Applied:
    """What apply did with one document (kubectl-style: ``llm/openai-main created``)."""

    kind: Kind
    name: str
    label: str
    outcome: Outcome

    def __str__(self) -> str:
        return f"{self.label} {self.outcome}"


# --- prompt lookups (shared with export) ------------------------------------------------


async def find_prompt(
    s: AsyncSession, name: str, *, agent_id: int | None = None, project_id: int | None = None
) -> Prompt | None:
    """The prompt ``name`` in one scope: an agent's, a project's, or global (neither)."""
    q = select(Prompt).where(Prompt.name == name)
    q = q.where(Prompt.agent_id == agent_id if agent_id is not None else Prompt.agent_id.is_(None))
    q = q.where(
        Prompt.project_id == project_id if project_id is not None else Prompt.project_id.is_(None)
    )
    return (await s.execute(q)).scalar_one_or_none()


async def find_bound_prompt(s: AsyncSession, agent: Agent, name: str) -> Prompt | None:
    """The prompt a personality of ``agent`` means by ``name``.

    The rule: the agent's own prompts first, then the prompts of the agent's project,
    then the global prompts. The nearest scope wins, as in a block-scoped language.
    """
    prompt = await find_prompt(s, name, agent_id=agent.id)
    if prompt is None and agent.project_id is not None:
        prompt = await find_prompt(s, name, project_id=agent.project_id)
    if prompt is None:
        prompt = await find_prompt(s, name)
    return prompt


# --- applying ---------------------------------------------------------------------------


def _fail(loc: Located, reason: str) -> NoReturn:
    raise ManifestError([Problem(loc.source, loc.index, loc.line, label(loc.doc), reason)])


def _changes(row: object, values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if getattr(row, k) != v}


def _refuse_virtual(loc: Located, row: Llm | Agent) -> None:
    if row.kind == LlmKind.VIRTUAL:
        _fail(
            loc,
            f"{loc.doc.KIND.value} {row.name} is virtual, owned by provider session "
            f"{row.provider_session_id or '(none)'}; apply does not change virtual rows",
        )


async def _upsert(
    s: AsyncSession,
    loc: Located,
    row: Any,
    model: type[Any],
    key: dict[str, Any],
    values: dict[str, Any],
) -> tuple[Outcome, Any]:
    if row is None:
        row = model(**key, **values)
        s.add(row)
        await s.flush()
        return Outcome.CREATED, row
    changed = _changes(row, values)
    if not changed:
        return Outcome.UNCHANGED, row
    if isinstance(row, Llm | Agent):
        _refuse_virtual(loc, row)
    for attr, value in changed.items():
        setattr(row, attr, value)
    await s.flush()
    return Outcome.CONFIGURED, row


async def _need_agent(s: AsyncSession, loc: Located, name: str) -> Agent:
    agent = await get_agent_by_name(s, name)
    if agent is None:
        _fail(loc, f"agent {name!r} not found (not in this manifest, not in the database)")
    return agent


async def _need_project(s: AsyncSession, loc: Located, name: str) -> Project:
    project = await get_project_by_name(s, name)
    if project is None:
        _fail(loc, f"project {name!r} not found (not in this manifest, not in the database)")
    return project


async def _apply_project(s: AsyncSession, loc: Located, d: ProjectDoc) -> Outcome:
    row = await get_project_by_name(s, d.name)
    outcome, _ = await _upsert(
        s, loc, row, Project, {"name": d.name}, {"description": d.description}
    )
    return outcome


async def _apply_llm(s: AsyncSession, loc: Located, d: LlmDoc) -> Outcome:
    row = await get_llm_by_name(s, d.name)
    values = {
        "type": d.type,
        "model": d.model,
        "url": d.url,
        "api_key_ref": d.api_key_ref,
        "tier": d.tier,
        "description": d.description,
    }
    outcome, _ = await _upsert(s, loc, row, Llm, {"name": d.name}, values)
    return outcome


async def _apply_agent(s: AsyncSession, loc: Located, d: AgentDoc) -> tuple[Outcome, Agent]:
    llm = await get_llm_by_name(s, d.llm)
    if llm is None:
        _fail(loc, f"llm {d.llm!r} not found (not in this manifest, not in the database)")
    project_id = (await _need_project(s, loc, d.project)).id if d.project is not None else None
    values = {
        "llm_id": llm.id,
        "project_id": project_id,
        "description": d.description,
        "system_prompt": d.system_prompt,
        "default_params": d.default_params,
        "extras": d.extras,
    }
    row = await get_agent_by_name(s, d.name)
    outcome, row = await _upsert(s, loc, row, Agent, {"name": d.name}, values)
    return outcome, row


async def _apply_prompt(s: AsyncSession, loc: Located, d: PromptDoc) -> Outcome:
    key: dict[str, Any] = {"name": d.name, "agent_id": None, "project_id": None}
    if d.agent is not None:
        key["agent_id"] = (await _need_agent(s, loc, d.agent)).id
    elif d.project is not None:
        key["project_id"] = (await _need_project(s, loc, d.project)).id
    row = await find_prompt(s, d.name, agent_id=key["agent_id"], project_id=key["project_id"])
    outcome, _ = await _upsert(
        s, loc, row, Prompt, key, {"content": d.content, "priority": d.priority}
    )
    return outcome


async def _resolve_binding(
    s: AsyncSession, loc: Located, agent: Agent, i: int, b: BindingDoc
) -> Prompt:
    if b.agent is not None:
        owner = await _need_agent(s, loc, b.agent)
        prompt = await find_prompt(s, b.name, agent_id=owner.id)
        where = f"among the prompts of agent {b.agent!r}"
    elif b.project is not None:
        project = await _need_project(s, loc, b.project)
        prompt = await find_prompt(s, b.name, project_id=project.id)
        where = f"among the prompts of project {b.project!r}"
    elif b.global_:
        prompt = await find_prompt(s, b.name)
        where = "among the global prompts"
    else:
        prompt = await find_bound_prompt(s, agent, b.name)
        where = f"for agent {agent.name!r} (its own prompts, its project's, global)"
    if prompt is None:
        _fail(loc, f"prompts[{i}]: prompt {b.name!r} not found {where}")
    return prompt


async def _apply_personality(s: AsyncSession, loc: Located, d: PersonalityDoc) -> Outcome:
    agent = await _need_agent(s, loc, d.agent)
    row = await get_personality_by_name(s, agent.id, d.name)
    outcome, row = await _upsert(
        s,
        loc,
        row,
        Personality,
        {"name": d.name, "agent_id": agent.id},
        {"description": d.description, "priority": d.priority},
    )
    desired: dict[int, int | None] = {}
    first_binding: dict[int, int] = {}
    for i, b in enumerate(d.prompts):
        prompt = await _resolve_binding(s, loc, agent, i, b)
        if prompt.id in desired:
            _fail(loc, f"prompts[{i}] binds the same prompt as prompts[{first_binding[prompt.id]}]")
        desired[prompt.id] = b.priority
        first_binding[prompt.id] = i
    existing = {
        b.prompt_id: b
        for b in (
            await s.execute(
                select(PersonalityPrompt).where(PersonalityPrompt.personality_id == row.id)
            )
        ).scalars()
    }
    changed = False
    gone = [pid for pid in existing if pid not in desired]
    if gone:
        await s.execute(
            delete(PersonalityPrompt).where(
                PersonalityPrompt.personality_id == row.id, PersonalityPrompt.prompt_id.in_(gone)
            )
        )
        changed = True
    for prompt_id, priority in desired.items():
        binding = existing.get(prompt_id)
        if binding is None:
            s.add(PersonalityPrompt(personality_id=row.id, prompt_id=prompt_id, priority=priority))
            changed = True
        elif binding.priority != priority:
            binding.priority = priority
            changed = True
    await s.flush()
    if changed and outcome is Outcome.UNCHANGED:
        outcome = Outcome.CONFIGURED
    return outcome


async def _link_default_personality(
    s: AsyncSession, loc: Located, d: AgentDoc, agent: Agent
) -> bool:
    target: int | None = None
    if d.default_personality is not None:
        personality = await get_personality_by_name(s, agent.id, d.default_personality)
        if personality is None:
            _fail(
                loc,
                f"defaultPersonality {d.default_personality!r} is not a personality of "
                f"agent {agent.name!r} (not in this manifest, not in the database)",
            )
        target = personality.id
    if agent.default_personality_id == target:
        return False
    _refuse_virtual(loc, agent)
    agent.default_personality_id = target
    await s.flush()
    return True


async def apply_documents(s: AsyncSession, docs: Sequence[Located]) -> list[Applied]:
    """Apply ``docs`` in the caller's transaction; results in document order.

    Raises ManifestError (naming the document) on an unknown reference or a virtual row;
    the caller's transaction then rolls back, so nothing from the manifest is written.
    """
    outcomes: dict[int, Outcome] = {}
    agents: dict[int, Agent] = {}
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, ProjectDoc):
            outcomes[pos] = await _apply_project(s, loc, loc.doc)
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, LlmDoc):
            outcomes[pos] = await _apply_llm(s, loc, loc.doc)
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, AgentDoc):
            outcomes[pos], agents[pos] = await _apply_agent(s, loc, loc.doc)
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, PromptDoc):
            outcomes[pos] = await _apply_prompt(s, loc, loc.doc)
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, PersonalityDoc):
            outcomes[pos] = await _apply_personality(s, loc, loc.doc)
    for pos, loc in enumerate(docs):
        if isinstance(loc.doc, AgentDoc):
            linked = await _link_default_personality(s, loc, loc.doc, agents[pos])
            if linked and outcomes[pos] is Outcome.UNCHANGED:
                outcomes[pos] = Outcome.CONFIGURED
    return [
        Applied(loc.doc.KIND, loc.doc.name, label(loc.doc), outcomes[pos])
        for pos, loc in enumerate(docs)
    ]


async def apply_one(s: AsyncSession, doc: Document) -> Applied:
    """Validate and apply one document in the caller's transaction (for UI editors).

    Raises Invalid (a ManifestError) with the reason; references are resolved by name
    exactly as in a manifest.
    """
    try:
        checked = validate(doc)
    except Invalid as exc:
        raise ManifestError([Problem(None, 1, None, label(doc), str(exc))]) from None
    (result,) = await apply_documents(s, [Located(checked, 1, None)])
    return result


class _DryRun(Exception):
    def __init__(self, results: list[Applied]) -> None:
        self.results = results


async def apply_manifest(
    store: Store, sources: Sequence[tuple[str | None, str]], *, dry_run: bool = False
) -> list[Applied]:
    """Parse every ``(source name, text)`` and apply them all in ONE transaction.

    Any bad document (in any source) raises ManifestError before or during the
    transaction, and nothing is written. ``dry_run`` does everything, then rolls back.
    """
    docs: list[Located] = []
    problems: list[Problem] = []
    for source, body in sources:
        try:
            docs.extend(parse_manifest(body, source=source))
        except ManifestError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ManifestError(problems)
    _check_unique_across_sources(docs)
    try:
        async with store.transaction() as s:
            if not store.is_sqlite:
                # Applies queue behind each other, as BEGIN IMMEDIATE makes them on SQLite:
                # a second apply of the same file then reads the first one's rows and
                # reports "unchanged" instead of colliding on a unique name.
                await s.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_APPLY_LOCK_KEY}
                )
            results = await apply_documents(s, docs)
            if dry_run:
                raise _DryRun(results)
    except _DryRun as done:
        return done.results
    except IntegrityError:
        # Validation, lookups and the lock leave only a writer that is not an apply (an
        # editor, a provider) to trip a unique rule between our read and our write.
        raise Conflict(
            "apply collided with a concurrent change to the same objects; nothing was "
            "written, apply again"
        ) from None
    return results


def _check_unique_across_sources(docs: Sequence[Located]) -> None:
    seen: dict[tuple[Kind, str, str], Located] = {}
    problems: list[Problem] = []
    for loc in docs:
        first = seen.setdefault(identity(loc.doc), loc)
        if first is not loc:
            problems.append(
                Problem(
                    loc.source,
                    loc.index,
                    loc.line,
                    label(loc.doc),
                    f"duplicates {first.where()}",
                )
            )
    if problems:
        raise ManifestError(problems)
