"""Reading the rows a manifest names: the binding rule, and every lookup in a few queries.

``pick_bound_prompt`` is THE binding rule, shared by apply and export: among prompts that
share a name, the agent's own prompt first, then the agent's project's, then the global
one. ``ManifestIndex`` reads every row a manifest names up front, one query per table per
500 names (far below SQLite's and asyncpg's parameter limits), and apply keeps it current
as it creates rows, so a document costs no lookup query. A name found neither in the
manifest nor in the database refuses the document, pointing at the field that names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.manifest.documents import (
    AgentDoc,
    LlmDoc,
    Located,
    McpServerDoc,
    ProjectDoc,
    PromptDoc,
)
from mcpctl_tui.store.manifest.schema import refuse
from mcpctl_tui.store.models import (
    Agent,
    Llm,
    McpServer,
    Personality,
    PersonalityPrompt,
    Project,
    Prompt,
)
from mcpctl_tui.store.tool_rules import BadToolRule, tool_rules

M = TypeVar("M", Llm, Project, Agent, Prompt, Personality, McpServer)


def pick_bound_prompt(
    candidates: Iterable[Prompt], agent_id: int, project_id: int | None
) -> Prompt | None:
    """THE binding rule, over prompts that share a name: the agent's own prompt first,
    then the agent's project's, then the global one (the nearest scope wins)."""
    best: tuple[int, Prompt] | None = None
    for p in candidates:
        if p.agent_id == agent_id:
            rank = 0
        elif p.agent_id is None and project_id is not None and p.project_id == project_id:
            rank = 1
        elif p.agent_id is None and p.project_id is None:
            rank = 2
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, p)
    return best[1] if best else None


_CHUNK = 500  # names per IN (...): far below SQLite's and asyncpg's parameter limits


async def prompts_named(s: AsyncSession, names: Iterable[str]) -> list[Prompt]:
    """Every prompt (any scope) whose name is one of ``names``."""
    return await _rows_named(s, Prompt, Prompt.name, names)


async def _rows_named(
    s: AsyncSession, model: type[M], column: Any, names: Iterable[str]
) -> list[M]:
    wanted = sorted(set(names))
    rows: list[M] = []
    for i in range(0, len(wanted), _CHUNK):
        q = select(model).where(column.in_(wanted[i : i + _CHUNK]))
        rows.extend((await s.execute(q)).scalars().all())
    return rows


def _tool_servers(d: AgentDoc) -> set[str]:
    """The servers an agent's ``extras.tools`` names (none if it cannot be read: apply
    refuses it then, naming the entry)."""
    try:
        return {r.server for r in tool_rules(d.extras)}
    except BadToolRule:
        return set()


class ManifestIndex:
    """The rows a manifest names, read up front with one query per table (per 500 names)
    and kept current as apply creates rows, so each document costs no lookup queries and
    each phase one flush."""

    def __init__(self, s: AsyncSession) -> None:
        self.s = s
        self.llms: dict[str, Llm] = {}
        self.projects: dict[str, Project] = {}
        self.agents: dict[str, Agent] = {}
        self.prompts: dict[str, list[Prompt]] = {}
        self.personalities: dict[tuple[int, str], Personality] = {}
        self.bindings: dict[int, list[PersonalityPrompt]] = {}
        self.mcpservers: dict[tuple[int, str], McpServer] = {}  # by (project id, name)

    async def load(self, docs: Sequence[Located]) -> None:
        llms: set[str] = set()
        projects: set[str] = set()
        agents: set[str] = set()
        prompts: set[str] = set()
        personalities: set[str] = set()
        servers: set[str] = set()
        for loc in docs:
            d = loc.doc
            if isinstance(d, LlmDoc):
                llms.add(d.name)
            elif isinstance(d, ProjectDoc):
                projects.add(d.name)
            elif isinstance(d, AgentDoc):
                agents.add(d.name)
                servers.update(_tool_servers(d))
                llms.add(d.llm)
                projects.update([d.project] if d.project else [])
                personalities.update([d.default_personality] if d.default_personality else [])
            elif isinstance(d, PromptDoc):
                prompts.add(d.name)
                agents.update([d.agent] if d.agent else [])
                projects.update([d.project] if d.project else [])
            elif isinstance(d, McpServerDoc):
                servers.add(d.name)
                projects.add(d.project)
            else:
                personalities.add(d.name)
                agents.add(d.agent)
                for b in d.prompts:
                    prompts.add(b.name)
                    agents.update([b.agent] if b.agent else [])
                    projects.update([b.project] if b.project else [])
        s = self.s
        self.llms = {r.name: r for r in await _rows_named(s, Llm, Llm.name, llms)}
        self.projects = {r.name: r for r in await _rows_named(s, Project, Project.name, projects)}
        self.agents = {r.name: r for r in await _rows_named(s, Agent, Agent.name, agents)}
        for p in await prompts_named(s, prompts):
            self.prompts.setdefault(p.name, []).append(p)
        for server in await _rows_named(s, McpServer, McpServer.name, servers):
            self.mcpservers[(server.project_id, server.name)] = server
        agent_ids = {a.id for a in self.agents.values()}
        for pers in await _rows_named(s, Personality, Personality.name, personalities):
            if pers.agent_id in agent_ids:
                self.personalities[(pers.agent_id, pers.name)] = pers
        ids = sorted(p.id for p in self.personalities.values())
        for i in range(0, len(ids), _CHUNK):
            q = select(PersonalityPrompt).where(
                PersonalityPrompt.personality_id.in_(ids[i : i + _CHUNK])
            )
            for bound in (await s.execute(q)).scalars():
                self.bindings.setdefault(bound.personality_id, []).append(bound)

    def llm(self, loc: Located, name: str, path: str = "llm") -> Llm:
        if (row := self.llms.get(name)) is None:
            refuse(
                loc,
                f"llm {name!r} not found (not in this manifest, not in the database)",
                path,
            )
        return row

    def project(self, loc: Located, name: str, path: str = "project") -> Project:
        if (row := self.projects.get(name)) is None:
            refuse(
                loc,
                f"project {name!r} not found (not in this manifest, not in the database)",
                path,
            )
        return row

    def agent(self, loc: Located, name: str, path: str = "agent") -> Agent:
        if (row := self.agents.get(name)) is None:
            refuse(
                loc,
                f"agent {name!r} not found (not in this manifest, not in the database)",
                path,
            )
        return row

    def check_tools(self, loc: Located, d: AgentDoc, project_id: int | None) -> None:
        """An agent's ``extras.tools`` reads (store/tool_rules.py) and names servers of
        its own project; refused naming the entry otherwise."""
        try:
            rules = tool_rules(d.extras)
        except BadToolRule as exc:
            sep = "" if exc.path else " "
            refuse(loc, f"extras.tools{sep}{exc}", f"extras.tools{exc.path}")
        if rules and project_id is None:
            refuse(loc, "extras.tools: an agent without a project has no MCP tools", "extras")
        for i, rule in enumerate(rules):
            if (project_id, rule.server) not in self.mcpservers:
                refuse(
                    loc,
                    f"extras.tools[{i}]: project {d.project!r} has no MCP server {rule.server!r}",
                    f"extras.tools[{i}]",
                )

    def prompt(self, name: str, agent_id: int | None, project_id: int | None) -> Prompt | None:
        for p in self.prompts.get(name, []):
            if p.agent_id == agent_id and p.project_id == project_id:
                return p
        return None
