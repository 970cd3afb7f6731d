"""The turns of a thread: read them, write them.

Rules kept here:

- A turn's place is its ``turn_index``, unique in its thread; indexes run 0..N-1.
- A writer that appends turns first locks the thread (``lock_thread``, in the same
  transaction), so writers to one thread queue and never take the same index; the turns
  it stores together (a question and its reply's placeholder) sit next to each other.
- Every stored turn moves the thread's ``last_turn_at``; so does finishing a turn.
- Text and JSON pass through ``store.text.storable`` on the way in (PostgreSQL refuses
  NUL and lone surrogates): the turn is kept, the offending character replaced.
- The reads the UI does most (message windows) skip the ORM: the statement goes to the
  driver as written per dialect and each row is converted once, by hand, into a frozen
  ``Turn`` (through the ORM, or even Core with its result processors, a window of 100
  turns costs about three times as long in Python). ``tests/test_store_queries.py``
  checks they return exactly what the ORM would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid, NotFound, StoreError, StoreUnavailable
from mcpctl_tui.store.models import ChatMessage, ChatThread
from mcpctl_tui.store.rows import as_utc, placeholders, sqlite_timestamp, utc_text
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
    created_at: datetime


_loads = json.loads

_TURN_COLUMNS = (
    "id, thread_id, turn_index, role, content, tool_calls, tool_call_id, status, error,"
    " thinking, usage, timing, personality, model, created_at"
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
        utc_text(r[14]),
    )


def _turn_pg(r: Any) -> Turn:
    # asyncpg already decoded JSONB (SQLAlchemy's codec) and returns timestamptz in UTC.
    return Turn(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], _STATUS[r[7]], r[8], r[9], r[10], r[11],
        r[12], r[13], as_utc(r[14])
    )  # fmt: skip


def _sql_last(sqlite: bool) -> str:
    a, b = placeholders(sqlite, 2)
    return (
        f"SELECT {_TURN_COLUMNS} FROM chat_message WHERE thread_id = {a}"
        f" ORDER BY turn_index DESC LIMIT {b}"
    )


def _sql_before(sqlite: bool) -> str:
    a, b, c = placeholders(sqlite, 3)
    return (
        f"SELECT {_TURN_COLUMNS} FROM chat_message WHERE thread_id = {a} AND turn_index < {b}"
        f" ORDER BY turn_index DESC LIMIT {c}"
    )


def _sql_all(sqlite: bool) -> str:
    (a,) = placeholders(sqlite, 1)
    return f"SELECT {_TURN_COLUMNS} FROM chat_message WHERE thread_id = {a} ORDER BY turn_index"


_SQL = {
    (name, sqlite): build(sqlite)
    for name, build in (("last", _sql_last), ("before", _sql_before), ("all", _sql_all))
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


async def all_messages(s: AsyncSession, thread_id: int) -> list[Turn]:
    """Every turn of a thread, in turn order."""
    return await _run(s, "all", (thread_id,))


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

    def columns(self) -> dict[str, Any]:
        """The turn's ``ChatMessage`` columns, fit to store: text and JSON pass through
        ``storable`` (PostgreSQL refuses NUL and lone surrogates)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v if k == "status" else storable(v) for k, v in values.items()}


@dataclass(slots=True)
class AppendStats:
    """Counts collisions with racing writers (the benchmark reports them)."""

    retries: int = 0
    extra: dict[str, int] = field(default_factory=dict)


MAX_APPEND_ATTEMPTS = 200  # each collision means another writer got its turn in

# Appends are the hot write path: they skip the ORM (no unit of work, no identity map)
# and SQLAlchemy's execution layer, sending one fixed statement per step to the driver.

# SQLite: under the write lock (BEGIN IMMEDIATE) writers from every process queue, so the
# thread touch and an INSERT computing MAX + 1 never collide. Sent straight to the driver:
# through SQLAlchemy each statement cost several more hops to aiosqlite's thread.
# Never backwards: a writer that waited for the lock may carry an older timestamp.
_SQLITE_TOUCH = "UPDATE chat_thread SET last_turn_at = max(last_turn_at, ?) WHERE id = ?"
_SQLITE_INSERT = """
INSERT INTO chat_message (thread_id, turn_index, role, content, tool_calls, tool_call_id,
    status, error, thinking, usage, timing, personality, model, created_at)
SELECT ?1, COALESCE(MAX(turn_index), -1) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
FROM chat_message WHERE thread_id = ?1
RETURNING id, turn_index
"""

# PostgreSQL: one statement, autocommitted, so no lock is ever held across a round trip to
# a client (with 8 writers on one thread, a lock held across round trips made every append
# wait for another process to be scheduled). It inserts at MAX + 1; if a racing writer
# took that index, ON CONFLICT DO NOTHING returns no row (after that writer committed) and
# we try again on the same connection. last_turn_at moves only when the turn went in.
#
# With durable=False the commit is asynchronous (synchronous_commit off, this transaction):
# appenders to one thread wait for each other's commit, and a WAL flush per turn, one after
# the other, capped 8 racing writers at ~300 appends/s here; without it they do ~1,100/s.
# The database stays consistent; a crash of the server or the OS can lose the turns of the
# last ~0.6 s (3 x wal_writer_delay). The default (durable) waits for the flush.
_PG_APPEND_DURABLE = """
WITH ins AS (
    INSERT INTO chat_message (thread_id, turn_index, role, content, tool_calls, tool_call_id,
        status, error, thinking, usage, timing, personality, model, created_at)
    SELECT $1, COALESCE(MAX(turn_index), -1) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
        $12, $13
    FROM chat_message WHERE thread_id = $1
    ON CONFLICT (thread_id, turn_index) DO NOTHING
    RETURNING id, turn_index
), touch AS (
    UPDATE chat_thread SET last_turn_at = GREATEST(last_turn_at, $13)
    WHERE id = $1 AND EXISTS (SELECT 1 FROM ins)
)
SELECT id, turn_index FROM ins
"""
_PG_APPEND = _PG_APPEND_DURABLE.replace(
    "SELECT id, turn_index FROM ins",
    ", async_commit AS (SELECT set_config('synchronous_commit', 'off', true))\n"
    "SELECT id, turn_index FROM ins, async_commit",
)


class AppendGaveUp(StoreError):
    """Every attempt to append collided with another writer (should never happen)."""


async def append_message(
    store: Store,
    thread_id: int,
    msg: NewMessage,
    *,
    stats: AppendStats | None = None,
    durable: bool = True,
) -> ChatMessage:
    """Append a turn at the thread's next turn_index; nothing lost, no index doubled.

    Its own transaction, on both backends; last_turn_at moves with the turn. On PostgreSQL
    the commit is asynchronous only when ``durable=False`` (see ``_PG_APPEND``): callers
    that can afford to lose the last ~0.6 s on a server crash may opt in. Returns the stored
    turn (a detached ``ChatMessage`` carrying its ``id`` and ``turn_index``).
    """
    now = utcnow()
    msg = NewMessage(**msg.columns())
    if store.is_sqlite:
        message_id, turn_index = await _append_sqlite(store, thread_id, msg, now)
    else:
        sql = _PG_APPEND_DURABLE if durable else _PG_APPEND
        message_id, turn_index = await _append_pg(store, sql, thread_id, msg, now, stats)
    return ChatMessage(
        id=message_id, thread_id=thread_id, turn_index=turn_index, created_at=now, **msg.columns()
    )


async def _append_sqlite(
    store: Store, thread_id: int, msg: NewMessage, now: datetime
) -> tuple[int, int]:
    stamp = sqlite_timestamp(now)
    args = _append_args(thread_id, msg, stamp)
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        db = raw.driver_connection  # aiosqlite; autocommit mode (see engine), we BEGIN
        assert db is not None
        await db.execute("BEGIN IMMEDIATE")
        try:
            touched = await db.execute(_SQLITE_TOUCH, (stamp, thread_id))
            if touched.rowcount == 0:
                raise NotFound("thread", thread_id)
            cur = await db.execute(_SQLITE_INSERT, args)
            row = await cur.fetchone()
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    assert row is not None
    return row[0], row[1]


def _append_args(thread_id: int, msg: NewMessage, created_at: object) -> tuple[Any, ...]:
    """The append statements' parameters, in their placeholder order (both backends)."""
    return (
        thread_id,
        msg.role,
        msg.content,
        _json_param(msg.tool_calls),
        msg.tool_call_id,
        MessageStatus(msg.status).value,
        msg.error,
        msg.thinking,
        _json_param(msg.usage),
        _json_param(msg.timing),
        msg.personality,
        msg.model,
        created_at,
    )


def _json_param(value: Any) -> str | None:
    # JSON text, as SQLAlchemy's JSON type writes it (SQLite) and its asyncpg jsonb codec takes.
    return None if value is None else json.dumps(value)


async def _append_pg(
    store: Store,
    sql: str,
    thread_id: int,
    msg: NewMessage,
    now: datetime,
    stats: AppendStats | None,
) -> tuple[int, int]:
    import asyncpg

    args = _append_args(thread_id, msg, now)
    async with store.engine.connect() as conn:
        # The driver's own connection: this statement needs no SQLAlchemy processing, and
        # outside a transaction asyncpg autocommits each statement.
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                row = await driver.fetchrow(sql, *args)
            except asyncpg.ForeignKeyViolationError:
                raise NotFound("thread", thread_id) from None
            except asyncpg.PostgresError as exc:
                raise Invalid(f"message in thread {thread_id}: {exc}") from None
            except (asyncpg.InterfaceError, OSError) as exc:
                raise StoreUnavailable(f"append to thread {thread_id}: {exc}") from None
            if row is not None:
                return row[0], row[1]
            if stats is not None:
                stats.retries += 1
    raise AppendGaveUp(
        f"append to thread {thread_id}: gave up after {MAX_APPEND_ATTEMPTS} collisions"
    )


async def finish_message(store: Store, message_id: int, **fields: Any) -> None:
    """Update a stored turn (content, status, error, usage, timing …) and touch its thread."""
    async with store.transaction() as s:
        msg = await s.get(ChatMessage, message_id)
        if msg is None:
            raise NotFound("message", message_id)
        for key, value in fields.items():
            if not hasattr(ChatMessage, key):
                raise TypeError(f"chat_message has no column {key!r}")
            setattr(msg, key, storable(value))
        await s.execute(
            update(ChatThread).where(ChatThread.id == msg.thread_id).values(last_turn_at=utcnow())
        )


_TOUCH_THREAD = (
    update(ChatThread)  # run on the Connection: nothing to synchronise in the session
    .where(ChatThread.id == bindparam("thread_id"))
    .values(last_turn_at=bindparam("now"))
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
    s: AsyncSession, thread_id: int, first_index: int, turns: Sequence[NewMessage]
) -> list[int]:
    """Insert turns at ``first_index``, ``first_index + 1`` … in the caller's transaction
    (which holds the thread lock: see ``lock_thread``), in one statement; their ids."""
    now = utcnow()
    values = [
        {"thread_id": thread_id, "turn_index": first_index + i, "created_at": now} | m.columns()
        for i, m in enumerate(turns)
    ]
    return list((await s.execute(_INSERT_TURNS, values)).scalars().all())


async def delete_turns_after(store: Store, thread_id: int, turn_index: int) -> list[int]:
    """Delete the turns after ``turn_index`` (regenerate replaces them); their ids, in order."""
    async with store.transaction() as s:
        ids = list(
            (
                await s.execute(
                    select(ChatMessage.id)
                    .where(ChatMessage.thread_id == thread_id, ChatMessage.turn_index > turn_index)
                    .order_by(ChatMessage.turn_index)
                )
            )
            .scalars()
            .all()
        )
        if ids:
            await s.execute(delete(ChatMessage).where(ChatMessage.id.in_(ids)))
    return ids
