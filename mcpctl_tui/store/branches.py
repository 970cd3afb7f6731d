"""Branches: which turns of a thread are its current path, and moving that path.

A thread's turns form a tree (``parent_index``); ``on_path`` marks one path through it,
from a first turn down to a leaf: what the chat shows and what the next request sends.
Rules kept here:

- Nothing is overwritten: editing a question or answering a turn again starts a branch
  (``branch_from``: the path ends at the turn the new one follows, and the turns after
  it leave the path but stay stored); moving back to another branch is ``show_turn``.
- The current path belongs to the thread, not to a screen: every operator of a shared
  store, and the next ``chat --thread``, follows the branch last chosen.
- Shown on its own, a turn brings its newest continuation: below it the path follows,
  at each step, the child whose subtree holds the newest turn (``show_turn``), so
  switching to a branch shows where its conversation went last.
- Callers hold the thread's lock (``messages.lock_thread``) in the same transaction: a
  path is changed by one writer at a time, and appenders wait for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.errors import Invalid, NotFound
from mcpctl_tui.store.models import ChatMessage

_CHUNK = 5000  # ids per UPDATE (drivers cap the bound parameters of one statement)


@dataclass(frozen=True, slots=True)
class Node:
    """A turn's place in its thread's tree."""

    id: int
    turn_index: int
    parent_index: int | None
    on_path: bool
    role: str


async def thread_nodes(s: AsyncSession, thread_id: int) -> dict[int, Node]:
    """Every turn of the thread as a tree node, by turn index (stored order)."""
    q = (
        select(
            ChatMessage.id,
            ChatMessage.turn_index,
            ChatMessage.parent_index,
            ChatMessage.on_path,
            ChatMessage.role,
        )
        .where(ChatMessage.thread_id == thread_id)
        .order_by(ChatMessage.turn_index)
    )
    return {r[1]: Node(r[0], r[1], r[2], bool(r[3]), r[4]) for r in (await s.execute(q)).all()}


def _ancestry(nodes: dict[int, Node], turn_index: int | None) -> list[int]:
    """``turn_index`` and the turns above it, first turn first ([] for None)."""
    chain: list[int] = []
    at = turn_index
    while at is not None:
        chain.append(at)
        at = nodes[at].parent_index
    chain.reverse()
    return chain


def _newest_below(nodes: dict[int, Node], turn_index: int) -> list[int]:
    """The turns below ``turn_index`` down to the newest turn of its subtree, in order."""
    subtree = {turn_index}
    for n in nodes.values():  # stored order: a parent comes before its children
        if n.parent_index in subtree:
            subtree.add(n.turn_index)
    return _ancestry(nodes, max(subtree))[len(_ancestry(nodes, turn_index)) :]


async def _set_path(s: AsyncSession, nodes: dict[int, Node], path: Iterable[int]) -> list[int]:
    """Make ``path`` the thread's current path; the ids of the turns that left it."""
    wanted = set(path)
    leave = [n.id for n in nodes.values() if n.on_path and n.turn_index not in wanted]
    join = [n.id for n in nodes.values() if not n.on_path and n.turn_index in wanted]
    conn = await s.connection()  # plain UPDATEs: no ORM objects to keep in step
    for ids, flag in ((leave, False), (join, True)):
        for i in range(0, len(ids), _CHUNK):
            await conn.execute(_SET_FLAG, {"ids": ids[i : i + _CHUNK], "flag": flag})
    return leave


_SET_FLAG = (
    update(ChatMessage)
    .where(ChatMessage.id.in_(bindparam("ids", expanding=True)))
    .values(on_path=bindparam("flag"))
)


async def last_question(s: AsyncSession, thread_id: int) -> int | None:
    """The last user turn of the current path (None: it has none)."""
    q = select(func.max(ChatMessage.turn_index)).where(
        ChatMessage.thread_id == thread_id, ChatMessage.on_path, ChatMessage.role == "user"
    )
    return (await s.execute(q)).scalar()


def _a(role: str) -> str:
    return f"an {role}" if role == "assistant" else f"a {role}"


def _known(nodes: dict[int, Node], thread_id: int, turn_index: int) -> None:
    if turn_index not in nodes:
        raise NotFound("turn", f"{turn_index} of thread {thread_id}")


async def branch_from(s: AsyncSession, thread_id: int, parent_index: int | None) -> list[int]:
    """End the current path at ``parent_index`` (None: before the first turn), so that
    what is stored next starts a branch there; the ids of the turns that left the path,
    in stored order."""
    nodes = await thread_nodes(s, thread_id)
    if parent_index is not None:
        _known(nodes, thread_id, parent_index)
    return await _set_path(s, nodes, _ancestry(nodes, parent_index))


async def branch_beside(
    s: AsyncSession, thread_id: int, turn_index: int, role: str
) -> tuple[int | None, list[int]]:
    """Start a branch beside ``turn_index``, which must be a ``role`` turn (a question
    edited, a reply answered again): the current path ends at the turn it follows. That
    turn (None: it was a first turn) and the ids of the turns that left the path."""
    nodes = await thread_nodes(s, thread_id)
    _known(nodes, thread_id, turn_index)
    node = nodes[turn_index]
    if node.role != role:
        raise Invalid(
            f"turn {turn_index} of thread {thread_id} is {_a(node.role)} turn, not {_a(role)} one"
        )
    return node.parent_index, await _set_path(s, nodes, _ancestry(nodes, node.parent_index))


async def show_turn(s: AsyncSession, thread_id: int, turn_index: int) -> list[int]:
    """Put ``turn_index`` on the current path with what came before it and its newest
    continuation after it; the ids of the turns that left the path."""
    nodes = await thread_nodes(s, thread_id)
    _known(nodes, thread_id, turn_index)
    path = _ancestry(nodes, turn_index) + _newest_below(nodes, turn_index)
    return await _set_path(s, nodes, path)


def siblings(nodes: dict[int, Node], turn_index: int) -> list[int]:
    """The turns that follow the same parent as ``turn_index`` (itself included), in
    stored order: its branches."""
    parent = nodes[turn_index].parent_index
    return [n.turn_index for n in nodes.values() if n.parent_index == parent]


async def step_branch(s: AsyncSession, thread_id: int, turn_index: int, step: int) -> int | None:
    """Show the branch ``step`` places after (negative: before) the one ``turn_index`` is
    on, among the turns that follow the same parent; the turn now shown in its place,
    None when there is none that far (nothing changed)."""
    nodes = await thread_nodes(s, thread_id)
    _known(nodes, thread_id, turn_index)
    row = siblings(nodes, turn_index)
    at = row.index(turn_index) + step
    if not 0 <= at < len(row):
        return None
    other = row[at]
    await _set_path(s, nodes, _ancestry(nodes, other) + _newest_below(nodes, other))
    return other
