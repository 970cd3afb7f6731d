"""The turns of a thread: read them, write them.

Rules kept here:

- A turn's ``turn_index`` is unique in its thread, in the order turns were stored (0, 1,
  2 …); ``parent_index`` links it to the turn it follows, so a thread's turns form a
  tree, and ``on_path`` marks the current path through it (store/branches.py). The reads
  here are of the current path, in order, unless they say otherwise.
- A writer that appends turns first locks the thread (``lock_thread``, in the same
  transaction), so writers to one thread queue and never take the same index; the turns
  it stores together (a question and its reply's placeholder) sit next to each other,
  each the parent of the next.
- Every stored turn moves the thread's ``last_turn_at``; so does finishing a turn.
- Text and JSON pass through ``store.text.storable`` on the way in (PostgreSQL refuses
  NUL and lone surrogates): the turn is kept, the offending character replaced.
- The reads the UI does most (message windows) skip the ORM: the statement goes to the
  driver as written per dialect and each row is converted once, by hand, into a frozen
  ``Turn`` (through the ORM, or even Core with its result processors, a window of 100
  turns costs about three times as long in Python). ``tests/store/test_queries.py``
  checks they return exactly what the ORM would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import TurnGone
from mcpctl_tui.store.models import ChatMessage, ChatThread
from mcpctl_tui.store.rows import as_utc, placeholders, utc_text
from mcpctl_tui.store.text import storable
from mcpctl_tui.store.types import MessageStatus, utcnow

# --- reading turns ----------------------------------------------------------------------


_STATUS = {m.value: m for m in MessageStatus}


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored turn of a thread (the columns of ``chat_message``, converted)."""

    id: int
    thread_id: int
    turn_index: int
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None
    status: MessageStatus
    error: str | None
    thinking: str | None
    usage: dict[str, Any] | None
    timing: dict[str, Any] | None
    personality: str | None
    model: str | None
    llm: str | None  # the LLM that answered (a reply)
    created_at: datetime
    parent_index: int | None  # the turn this one follows (None: a first turn)
    on_path: bool  # on the thread's current path
    branches: int  # how many turns follow its parent, itself included (>1: a branch point)
    branch: int  # which of them it is, 1-based in the order they were stored


_loads = json.loads


def _siblings(extra: str) -> str:
    # Two index reads of (thread_id, parent_index): '=' never matches NULL, and 'IS NOT
    # DISTINCT FROM' would not use the index on PostgreSQL.
    same = "FROM chat_message b WHERE b.thread_id = m.thread_id"
    return (
        f"CASE WHEN m.parent_index IS NULL"
        f" THEN (SELECT count(*) {same} AND b.parent_index IS NULL{extra})"
        f" ELSE (SELECT count(*) {same} AND b.parent_index = m.parent_index{extra}) END"
    )


_TURN_COLUMNS = (
    "m.id, m.thread_id, m.turn_index, m.role, m.content, m.tool_calls, m.tool_call_id,"
    " m.status, m.error, m.thinking, m.usage, m.timing, m.personality, m.model, m.llm,"
    f" m.created_at, m.parent_index, m.on_path, {_siblings('')},"
    f" {_siblings(' AND b.turn_index <= m.turn_index')}"
)


def _turn_sqlite(r: Any) -> Turn:
    # Per row, once: JSON text decoded, status to its enum, the UTC text to an aware datetime.
    tool_calls, usage, timing = r[5], r[10], r[11]
    return Turn(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        None if tool_calls is None else _loads(tool_calls),
        r[6],
        _STATUS[r[7]],
        r[8],
        r[9],
        None if usage is None else _loads(usage),
        None if timing is None else _loads(timing),
        r[12],
        r[13],
        r[14],
        utc_text(r[15]),
        r[16],
        bool(r[17]),
        r[18],
        r[19],
    )


def _turn_pg(r: Any) -> Turn:
    # asyncpg already decoded JSONB (SQLAlchemy's codec) and returns timestamptz in UTC.
    return Turn(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], _STATUS[r[7]], r[8], r[9], r[10], r[11],
        r[12], r[13], r[14], as_utc(r[15]), r[16], r[17], r[18], r[19]
    )  # fmt: skip


_PATH = "FROM chat_message m WHERE m.thread_id = {} AND m.on_path"


def _sql_last(sqlite: bool) -> str:
    a, b = placeholders(sqlite, 2)
    return f"SELECT {_TURN_COLUMNS} {_PATH.format(a)} ORDER BY m.turn_index DESC LIMIT {b}"


def _sql_before(sqlite: bool) -> str:
    a, b, c = placeholders(sqlite, 3)
    return (
        f"SELECT {_TURN_COLUMNS} {_PATH.format(a)} AND m.turn_index < {b}"
        f" ORDER BY m.turn_index DESC LIMIT {c}"
    )


def _sql_from(sqlite: bool) -> str:
    a, b, c = placeholders(sqlite, 3)
    return (
        f"SELECT {_TURN_COLUMNS} {_PATH.format(a)} AND m.turn_index >= {b}"
        f" ORDER BY m.turn_index LIMIT {c}"
    )


def _sql_all(sqlite: bool) -> str:
    (a,) = placeholders(sqlite, 1)
    return f"SELECT {_TURN_COLUMNS} {_PATH.format(a)} ORDER BY m.turn_index"


def _sql_tree(sqlite: bool) -> str:
    (a,) = placeholders(sqlite, 1)
    return (
        f"SELECT {_TURN_COLUMNS} FROM chat_message m WHERE m.thread_id = {a} ORDER BY m.turn_index"
    )


_SQL = {
    (name, sqlite): build(sqlite)
    for name, build in (
        ("last", _sql_last),
        ("before", _sql_before),
        ("from", _sql_from),
        ("all", _sql_all),
        ("tree", _sql_tree),
    )
    for sqlite in (True, False)
}


async def _run(s: AsyncSession, name: str, params: tuple[Any, ...]) -> list[Turn]:
    conn = await s.connection()
    sqlite = conn.dialect.name == "sqlite"
    convert = _turn_sqlite if sqlite else _turn_pg
    rows = (await conn.exec_driver_sql(_SQL[name, sqlite], params)).all()
    return [convert(r) for r in rows]


async def last_messages(s: AsyncSession, thread_id: int, n: int) -> list[Turn]:
    """The last ``n`` turns of a thread, in turn order."""
    turns = await _run(s, "last", (thread_id, n))
    turns.reverse()
    return turns


async def messages_before(s: AsyncSession, thread_id: int, before_turn: int, n: int) -> list[Turn]:
    """The ``n`` turns before ``before_turn``, in turn order (the page above the window)."""
    turns = await _run(s, "before", (thread_id, before_turn, n))
    turns.reverse()
    return turns


async def messages_from(s: AsyncSession, thread_id: int, first_turn: int, n: int) -> list[Turn]:
    """Up to ``n`` turns from ``first_turn`` on, in turn order (what followed a window)."""
    return await _run(s, "from", (thread_id, first_turn, n))


async def user_prompts(s: AsyncSession, thread_id: int, n: int) -> list[str]:
    """The last ``n`` questions asked in a thread (user turns), newest first."""
    q = (
        select(ChatMessage.content)
        .where(ChatMessage.thread_id == thread_id, ChatMessage.role == "user", ChatMessage.on_path)
        .order_by(ChatMessage.turn_index.desc())
        .limit(n)
    )
    return list((await s.execute(q)).scalars())


async def all_messages(s: AsyncSession, thread_id: int) -> list[Turn]:
    """Every turn of the thread's current path, in order."""
    return await _run(s, "all", (thread_id,))


async def every_turn(s: AsyncSession, thread_id: int) -> list[Turn]:
    """Every turn of a thread, on every branch, in the order they were stored."""
    return await _run(s, "tree", (thread_id,))


# --- writing turns ----------------------------------------------------------------------


@dataclass(slots=True)
class NewMessage:
    """A turn to store (``insert_turns``): its role, text and what the reply carried."""

    role: str
    content: str = ""
    status: MessageStatus = MessageStatus.COMPLETE
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    error: str | None = None
    thinking: str | None = None
    usage: dict[str, Any] | None = None
    timing: dict[str, Any] | None = None
    personality: str | None = None
    model: str | None = None
    llm: str | None = None

    def columns(self) -> dict[str, Any]:
        """The turn's ``ChatMessage`` columns, fit to store: text and JSON pass through
        ``storable`` (PostgreSQL refuses NUL and lone surrogates)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v if k == "status" else storable(v) for k, v in values.items()}


async def finish_message(
    store: Store, message_id: int, thread_id: int, turn_index: int, **fields: Any
) -> None:
    """Fill a reply's pending turn (content, status, error, usage, timing …) and touch its
    thread, in one transaction.

    Only the turn its writer started: matched by id, thread, turn index and ``pending``,
    never by id alone, so a reply outliving its thread or its turn is never written into
    another row. ``TurnGone`` (nothing written) when that turn is not there any more.
    """
    for key in fields:
        if not hasattr(ChatMessage, key):
            raise TypeError(f"chat_message has no column {key!r}")
    values = {k: v if k == "status" else storable(v) for k, v in fields.items()}
    mine = (
        update(ChatMessage)
        .where(
            ChatMessage.id == message_id,
            ChatMessage.thread_id == thread_id,
            ChatMessage.turn_index == turn_index,
            ChatMessage.status == MessageStatus.PENDING,
        )
        .values(**values)
    )
    async with store.transaction() as s:
        conn = await s.connection()  # a plain UPDATE: no ORM objects to keep in step
        if (await conn.execute(mine)).rowcount != 1:
            thread = await s.get(ChatThread, thread_id)
            why = "its thread was deleted" if thread is None else "its turn was replaced"
            raise TurnGone(f"the reply was not stored: {why} while it streamed")
        await s.execute(_TOUCH_THREAD, {"thread_id": thread_id, "now": utcnow()})


# Never backwards: a writer that waited for the thread's lock carries a time taken before
# it, older than what the writer it waited for may have stored.
_NOW = bindparam("now", type_=ChatThread.last_turn_at.type)
_TOUCH_THREAD = (
    update(ChatThread)  # run on the Connection: nothing to synchronise in the session
    .where(ChatThread.id == bindparam("thread_id"))
    .values(
        last_turn_at=case((ChatThread.last_turn_at > _NOW, ChatThread.last_turn_at), else_=_NOW)
    )
)
_INSERT_TURNS = insert(ChatMessage).returning(ChatMessage.id, sort_by_parameter_order=True)


async def lock_thread(s: AsyncSession, thread_id: int) -> bool:
    """Touch the thread (last_turn_at) first thing in a write transaction.

    On PostgreSQL this takes the thread's row lock, so appenders to one thread queue; on
    SQLite BEGIN IMMEDIATE already has. False when the thread does not exist.
    """
    conn = await s.connection()
    res = await conn.execute(_TOUCH_THREAD, {"thread_id": thread_id, "now": utcnow()})
    return bool(res.rowcount)


async def insert_turns(
    s: AsyncSession,
    thread_id: int,
    first_index: int,
    turns: Sequence[NewMessage],
    parent_index: int | None = None,
) -> list[int]:
    """Insert turns at ``first_index``, ``first_index + 1`` … in the caller's transaction
    (which holds the thread lock: see ``lock_thread``), in one statement; their ids. The
    first follows ``parent_index`` (the end of the current path, or where a branch
    starts), each next one the one before it; all are on the current path."""
    now = utcnow()
    values = [
        {
            "thread_id": thread_id,
            "turn_index": first_index + i,
            "parent_index": parent_index if i == 0 else first_index + i - 1,
            "created_at": now,
        }
        | m.columns()
        for i, m in enumerate(turns)
    ]
    return list((await s.execute(_INSERT_TURNS, values)).scalars().all())
