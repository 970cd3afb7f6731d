"""One object at a time, as the UI's editors change them: create, update, delete.

The editors build the same documents a manifest holds, so a save is ``apply_one`` (one
validation, one set of rules) and a delete is ``delete_named`` with the caller's
heartbeat timeout: the bound by which the agent list judges a virtual row live is the
bound a delete is refused by. A form for a new object never overwrites a stored one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.errors import Conflict, NotFound
from mcpctl_tui.store.manifest.apply import Applied, apply_one
from mcpctl_tui.store.manifest.delete import Deleted, delete_named
from mcpctl_tui.store.manifest.documents import (
    Document,
    Kind,
    PersonalityDoc,
    PromptDoc,
    identity,
    label,
)
from mcpctl_tui.store.manifest.export import get_objects


def scope(doc: Document) -> tuple[str | None, str | None]:
    """The (agent, project) a prompt or personality belongs to; (None, None) otherwise."""
    agent = doc.agent if isinstance(doc, PromptDoc | PersonalityDoc) else None
    project = doc.project if isinstance(doc, PromptDoc) else None
    return agent, project


async def find(
    s: AsyncSession, kind: Kind, name: str, *, agent: str | None, project: str | None
) -> Document:
    """The object named ``name`` in exactly this scope: a prompt with neither ``agent``
    nor ``project`` is the global one, not any prompt of that name."""
    found = await get_objects(s, kind, name, agent=agent, project=project)
    if kind is Kind.PROMPT:
        found = [e for e in found if scope(e.doc) == (agent, project)]
        if not found:
            where = (agent and f"agent {agent}") or (project and f"project {project}") or "global"
            raise NotFound("prompt", f"{name} ({where})")
    return found[0].doc


async def exists(s: AsyncSession, doc: Document) -> bool:
    """Whether an object with ``doc``'s identity (name, and scope) is stored."""
    agent, project = scope(doc)
    try:
        found = await get_objects(s, doc.KIND, doc.name, agent=agent, project=project)
    except NotFound:
        return False
    return any(identity(e.doc) == identity(doc) for e in found)


async def save(s: AsyncSession, doc: Document, *, new: bool) -> Applied:
    """Apply ``doc`` in the caller's transaction. ``new``: the form was for a new object,
    and one with this identity exists already: ``Conflict`` (applying would overwrite it
    with a mostly empty form)."""
    if new and await exists(s, doc):
        raise Conflict(f"{label(doc)} already exists: edit it instead (Ctrl+P)")
    return await apply_one(s, doc)


async def delete(
    s: AsyncSession, kind: Kind, doc: Document, *, heartbeat_timeout: float
) -> Deleted:
    """Delete ``doc`` in the caller's transaction (what goes with it: ``Deleted.cascade``)."""
    agent, project = scope(doc)
    return await delete_named(
        s, kind, doc.name, agent=agent, project=project, heartbeat_timeout=heartbeat_timeout
    )
