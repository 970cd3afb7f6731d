"""Apply validated manifest documents to the store, all in the caller's transaction.

Documents may come in any order: they are applied kind by kind (projects, llms, agents,
prompts, personalities) so every reference by name finds its target, whether it is in
the same manifest or already in the database; the agent -> default personality link,
a cycle, is made last. The rows a manifest names are read up front (``ManifestIndex`` in
``lookup``, one query per table) and kept current as rows are created, with one flush
per phase, so a large manifest costs a handful of queries plus its writes, not several
per document.

An object that already holds the document's values is left alone (no UPDATE, so
``updated_at`` does not move either): re-applying a manifest is a no-op.

A document marked ``virtual: true`` (``get`` marks a provider session's llm and agent
rows so) is skipped, with a note naming the session: only a provider creates virtual
rows, and applied elsewhere the document would make a public LLM with no URL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.secrets import is_secret_key
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
    McpServerDoc,
    PersonalityDoc,
    Problem,
    ProjectDoc,
    PromptDoc,
    identity,
    label,
)
from mcpctl_tui.store.manifest.lookup import ManifestIndex, pick_bound_prompt
from mcpctl_tui.store.manifest.parse import parse_manifest
from mcpctl_tui.store.manifest.schema import refuse, validate
from mcpctl_tui.store.models import (
    Agent,
    Llm,
    McpServer,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.types import LlmKind

# pg_advisory_xact_lock key for apply ("mcpctlmf" as a bigint; migrations use "mcpctlmg").
PG_APPLY_LOCK_KEY = int.from_bytes(b"mcpctlmf", "big") & 0x7FFF_FFFF_FFFF_FFFF


D = TypeVar("D", LlmDoc, ProjectDoc, AgentDoc, PromptDoc, PersonalityDoc, McpServerDoc)


class Outcome(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Applied:
    """What apply did with one document (kubectl-style: ``llm/openai-main created``)."""

    kind: Kind
    name: str
    label: str
    outcome: Outcome
    note: str = ""

    def __str__(self) -> str:
        return f"{self.label} {self.outcome}" + (f" ({self.note})" if self.note else "")


# --- applying ---------------------------------------------------------------------------


def _virtual_note(doc: LlmDoc | AgentDoc) -> str:
    session = doc.provider_session or "-"
    return f"virtual, published by provider session {session}; only a provider creates it"


def _refuse_virtual(loc: Located, row: Llm | Agent) -> None:
    if row.kind == LlmKind.VIRTUAL:
        refuse(
            loc,
            f"{loc.doc.KIND.value} {row.name} is virtual, owned by provider session "
            f"{row.provider_session_id or '(none)'}; apply does not change virtual rows",
        )


class _Apply:
    def __init__(
        self, s: AsyncSession, index: ManifestIndex, llm_types: Collection[str] | None = None
    ) -> None:
        self.s = s
        self.ix = index
        self.llm_types = llm_types

    def upsert(
        self, loc: Located, row: Any, model: type[Any], key: dict[str, Any], values: dict[str, Any]
    ) -> tuple[Outcome, Any]:
        """Create ``row`` or set what differs; nothing is written for equal values."""
        if row is None:
            row = model(**key, **values)
            self.s.add(row)
            return Outcome.CREATED, row
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            return Outcome.UNCHANGED, row
        if isinstance(row, Llm | Agent):
            _refuse_virtual(loc, row)
        for attr, value in changed.items():
            setattr(row, attr, value)
        return Outcome.CONFIGURED, row

    def project(self, loc: Located, d: ProjectDoc) -> Outcome:
        row = self.ix.projects.get(d.name)
        outcome, row = self.upsert(
            loc, row, Project, {"name": d.name}, {"description": d.description}
        )
        self.ix.projects[d.name] = row
        return outcome

    def mcpserver(self, loc: Located, d: McpServerDoc) -> Outcome:
        project = self.ix.project(loc, d.project)
        key = (project.id, d.name)
        values = {
            "transport": d.transport,
            "command": list(d.command),
            "env": dict(d.env),
            "cwd": d.cwd,
            "url": d.url,
            "headers": dict(d.headers),
            "description": d.description,
        }
        row = self.ix.mcpservers.get(key)
        outcome, row = self.upsert(
            loc, row, McpServer, {"name": d.name, "project_id": project.id}, values
        )
        self.ix.mcpservers[key] = row
        return outcome

    def llm(self, loc: Located, d: LlmDoc) -> Outcome:
        values = {
            "type": d.type,
            "model": d.model,
            "url": d.url,
            "api_key_ref": d.api_key_ref,
            "tier": d.tier,
            "description": d.description,
            "price_input": d.prices.input if d.prices else None,
            "price_output": d.prices.output if d.prices else None,
            "price_currency": d.prices.currency if d.prices else None,
        }
        row = self.ix.llms.get(d.name)
        known = self.llm_types
        # A typo would apply cleanly and fail only at the first chat; a row that already
        # holds its type is left to its owner.
        new_type = row is None or row.type != d.type
        if known is not None and new_type and d.type.strip().lower() not in known:
            refuse(
                loc,
                f"type {d.type.strip()!r} is not a known LLM type "
                f"(known: {', '.join(sorted(known))})",
                "type",
            )
        # A URL is checked when it is set (an old row without one is its owner's to fix).
        new_url = row is None or new_type or row.url != d.url
        http_type = d.type.strip().lower() not in NO_URL_TYPES
        outcome, row = self.upsert(loc, row, Llm, {"name": d.name}, values)
        known_type = known is None or d.type.strip().lower() in known  # else refused above
        if new_url and http_type and known_type:
            problem = url_problem(d.type, d.url)
            if problem is not None:
                refuse(loc, problem, "url")
        self.ix.llms[d.name] = row
        return outcome

    def agent(self, loc: Located, d: AgentDoc) -> Outcome:
        project_id = self.ix.project(loc, d.project).id if d.project is not None else None
        self.ix.check_tools(loc, d, project_id)
        values = {
            "llm_id": self.ix.llm(loc, d.llm).id,
            "project_id": project_id,
            "description": d.description,
            "system_prompt": d.system_prompt,
            "default_params": d.default_params,
            "extras": d.extras,
        }
        outcome, row = self.upsert(loc, self.ix.agents.get(d.name), Agent, {"name": d.name}, values)
        self.ix.agents[d.name] = row
        return outcome

    def prompt(self, loc: Located, d: PromptDoc) -> Outcome:
        key: dict[str, Any] = {"name": d.name, "agent_id": None, "project_id": None}
        if d.agent is not None:
            key["agent_id"] = self.ix.agent(loc, d.agent).id
        elif d.project is not None:
            key["project_id"] = self.ix.project(loc, d.project).id
        row = self.ix.prompt(d.name, key["agent_id"], key["project_id"])
        outcome, row = self.upsert(
            loc, row, Prompt, key, {"content": d.content, "priority": d.priority}
        )
        if outcome is Outcome.CREATED:
            self.ix.prompts.setdefault(d.name, []).append(row)
        return outcome

    def personality(self, loc: Located, d: PersonalityDoc) -> tuple[Outcome, Personality]:
        agent = self.ix.agent(loc, d.agent)
        key = (agent.id, d.name)
        outcome, row = self.upsert(
            loc,
            self.ix.personalities.get(key),
            Personality,
            {"name": d.name, "agent_id": agent.id},
            {"description": d.description, "priority": d.priority},
        )
        self.ix.personalities[key] = row
        return outcome, row

    def resolve_binding(self, loc: Located, agent: Agent, i: int, b: BindingDoc) -> Prompt:
        if b.agent is not None:
            owner = self.ix.agent(loc, b.agent, f"prompts[{i}].agent")
            prompt = self.ix.prompt(b.name, owner.id, None)
            where = f"among the prompts of agent {b.agent!r}"
        elif b.project is not None:
            project = self.ix.project(loc, b.project, f"prompts[{i}].project")
            prompt = self.ix.prompt(b.name, None, project.id)
            where = f"among the prompts of project {b.project!r}"
        elif b.global_:
            prompt = self.ix.prompt(b.name, None, None)
            where = "among the global prompts"
        else:
            prompt = pick_bound_prompt(self.ix.prompts.get(b.name, []), agent.id, agent.project_id)
            where = f"for agent {agent.name!r} (its own prompts, its project's, global)"
        if prompt is None:
            refuse(loc, f"prompts[{i}]: prompt {b.name!r} not found {where}", f"prompts[{i}]")
        return prompt

    def bindings(self, loc: Located, d: PersonalityDoc, row: Personality) -> bool:
        """Make the personality's bindings exactly the document's; True if any changed."""
        agent = self.ix.agent(loc, d.agent)
        desired: dict[int, tuple[int, int | None]] = {}
        for i, b in enumerate(d.prompts):
            prompt = self.resolve_binding(loc, agent, i, b)
            if prompt.id in desired:
                first = desired[prompt.id][0]
                reason = f"prompts[{i}] binds the same prompt as prompts[{first}]"
                refuse(loc, reason, f"prompts[{i}]")
            desired[prompt.id] = (i, b.priority)
        changed = False
        for binding in self.ix.bindings.get(row.id, []):
            wanted = desired.pop(binding.prompt_id, None)
            if wanted is None:
                # Deleted through the session: a later flush orders it before the inserts.
                self._delete(binding)
                changed = True
            elif binding.priority != wanted[1]:
                binding.priority = wanted[1]
                changed = True
        for prompt_id, (_i, priority) in desired.items():
            self.s.add(
                PersonalityPrompt(personality_id=row.id, prompt_id=prompt_id, priority=priority)
            )
            changed = True
        return changed

    def _delete(self, row: PersonalityPrompt) -> None:
        # AsyncSession.delete is a coroutine only to load cascades; there are none here.
        self.s.sync_session.delete(row)

    def link_default(self, loc: Located, d: AgentDoc) -> bool:
        agent = self.ix.agent(loc, d.name)
        target: int | None = None
        if d.default_personality is not None:
            personality = self.ix.personalities.get((agent.id, d.default_personality))
            if personality is None:
                refuse(
                    loc,
                    f"defaultPersonality {d.default_personality!r} is not a personality of "
                    f"agent {agent.name!r} (not in this manifest, not in the database)",
                    "defaultPersonality",
                )
            target = personality.id
        if agent.default_personality_id == target:
            return False
        _refuse_virtual(loc, agent)
        agent.default_personality_id = target
        return True


async def apply_documents(
    s: AsyncSession, docs: Sequence[Located], *, llm_types: Collection[str] | None = None
) -> list[Applied]:
    """Apply ``docs`` in the caller's transaction; results in document order.

    Raises ManifestError (naming the document) on an unknown reference or a virtual row;
    the caller's transaction then rolls back, so nothing from the manifest is written.
    ``llm_types`` (lower case; the caller passes the adapter registry's, as the store does
    not know the adapters) refuses an llm that would be written with another ``type``; a
    row that already holds its type (a provider's ``command`` LLM in an export) passes.
    """
    index = ManifestIndex(s)
    await index.load(docs)
    run = _Apply(s, index, llm_types)
    outcomes: dict[int, Outcome] = {}

    def each(kind: type[D]) -> list[tuple[int, Located, D]]:
        return [(pos, loc, loc.doc) for pos, loc in enumerate(docs) if isinstance(loc.doc, kind)]

    # One flush per phase: the next phase needs the ids of the rows this one created.
    for pos, loc, project in each(ProjectDoc):
        outcomes[pos] = run.project(loc, project)
    await s.flush()  # an MCP server needs its project's id
    for pos, loc, server in each(McpServerDoc):
        outcomes[pos] = run.mcpserver(loc, server)
    notes: dict[int, str] = {}
    for pos, loc, llm in each(LlmDoc):
        if llm.virtual:
            outcomes[pos], notes[pos] = Outcome.SKIPPED, _virtual_note(llm)
        else:
            outcomes[pos] = run.llm(loc, llm)
    await s.flush()
    for pos, loc, agent in each(AgentDoc):
        if agent.virtual:
            outcomes[pos], notes[pos] = Outcome.SKIPPED, _virtual_note(agent)
        else:
            outcomes[pos] = run.agent(loc, agent)
    await s.flush()
    for pos, loc, prompt in each(PromptDoc):
        outcomes[pos] = run.prompt(loc, prompt)
    personalities: list[tuple[int, Located, PersonalityDoc, Personality]] = []
    for pos, loc, pdoc in each(PersonalityDoc):
        outcomes[pos], row = run.personality(loc, pdoc)
        personalities.append((pos, loc, pdoc, row))
    await s.flush()
    for pos, loc, pdoc, row in personalities:
        if run.bindings(loc, pdoc, row) and outcomes[pos] is Outcome.UNCHANGED:
            outcomes[pos] = Outcome.CONFIGURED
    for pos, loc, agent in each(AgentDoc):
        if agent.virtual:
            continue
        if run.link_default(loc, agent) and outcomes[pos] is Outcome.UNCHANGED:
            outcomes[pos] = Outcome.CONFIGURED
    await s.flush()
    return [
        Applied(loc.doc.KIND, loc.doc.name, label(loc.doc), outcomes[pos], notes.get(pos, ""))
        for pos, loc in enumerate(docs)
    ]


async def apply_one(s: AsyncSession, doc: Document) -> Applied:
    """Validate and apply one document in the caller's transaction (for UI editors).

    Raises Invalid (a ManifestError) with the reason, and the field at fault where there
    is one; references are resolved by name exactly as in a manifest.
    """
    checked = validate(doc)
    (result,) = await apply_documents(s, [Located(checked, 1, None)])
    return result


class _DryRun(Exception):
    def __init__(self, results: list[Applied]) -> None:
        self.results = results


async def apply_manifest(
    store: Store,
    sources: Sequence[tuple[str | None, str]],
    *,
    dry_run: bool = False,
    llm_types: Collection[str] | None = None,
) -> list[Applied]:
    """Parse every ``(source name, text)`` and apply them all in ONE transaction.

    Any bad document (in any source) raises ManifestError before or during the
    transaction, and nothing is written. ``dry_run`` does everything, then rolls back.
    ``llm_types``: see ``apply_documents``.
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
    if not docs:
        raise Invalid("no documents to apply (the input is empty)")
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
            results = await apply_documents(s, docs, llm_types=llm_types)
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


# LLM types that need no server (the rest speak HTTP to one).
NO_URL_TYPES = frozenset({"echo"})


def url_problem(llm_type: str, url: str) -> str | None:
    """An LLM that talks HTTP needs an http(s) URL with a host: refused when saved, not
    at the first chat (a typo otherwise shows up as a connection error mid-session)."""
    if llm_type.strip().lower() in NO_URL_TYPES:
        return None
    example = "e.g. http://127.0.0.1:8000/v1"
    if not url.strip():
        return f"an LLM of type {llm_type} needs a URL ({example})"
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(c.isspace() for c in url)
    ):
        return f"the URL is not http(s)://HOST[:PORT]/… ({example})"
    # A key in the URL would be stored, exported and shown in clear: it goes in apiKeyRef.
    if parts.username or parts.password:
        return "the URL holds credentials (user:password@); put the key in apiKeyRef"
    if any(is_secret_key(k) or k.lower() == "key" for k, _ in parse_qsl(parts.query)):
        return "the URL holds a key in its query; put the key in apiKeyRef"
    return None
