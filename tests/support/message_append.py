"""``append_message``: store one turn at its thread's next index, in a transaction of its own.

It follows the end of the thread's current path (store/branches.py).

A seeding tool for tests that need turns in a thread without running the chat engine
(the app appends through ``ChatService``: ``lock_thread`` + ``insert_turns``). It keeps
the store's rules all the same, with racing writers too: the INSERT computes MAX + 1
itself, a collision with a racing writer is retried at the next index (nothing lost, no
index doubled), and the thread's ``last_turn_at`` moves with the turn, never backwards.

Each step is one fixed statement sent straight to the driver (no ORM, no SQLAlchemy
execution layer).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import Invalid, NotFound, StoreError, StoreUnavailable
from mcpctl_tui.store.messages import NewMessage
from mcpctl_tui.store.models import ChatMessage
from mcpctl_tui.store.rows import sqlite_timestamp
from mcpctl_tui.store.types import MessageStatus, utcnow

MAX_APPEND_ATTEMPTS = 200  # each collision means another writer got its turn in

# SQLite: under the write lock (BEGIN IMMEDIATE) writers from every process queue, so the
# thread touch and an INSERT computing MAX + 1 never collide. Never backwards: a writer
# that waited for the lock may carry an older timestamp.
_SQLITE_TOUCH = "UPDATE chat_thread SET last_turn_at = max(last_turn_at, ?) WHERE id = ?"
_SQLITE_INSERT = """
INSERT INTO chat_message (thread_id, turn_index, parent_index, role, content, tool_calls,
    tool_call_id, status, error, thinking, usage, timing, personality, model, created_at)
SELECT ?1, COALESCE(MAX(turn_index), -1) + 1, MAX(CASE WHEN on_path THEN turn_index END),
    ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
FROM chat_message WHERE thread_id = ?1
RETURNING id, turn_index
"""

# PostgreSQL: one statement, autocommitted, so no lock is held across a round trip to a
# client. It inserts at MAX + 1; if a racing writer took that index, ON CONFLICT DO NOTHING
# returns no row (after that writer committed) and we try again on the same connection.
# last_turn_at moves only when the turn went in.
#
# With durable=False the commit is asynchronous (synchronous_commit off, this transaction):
# the database stays consistent, but a crash of the server or the OS can lose the turns of
# the last ~0.6 s (3 x wal_writer_delay). The default (durable) waits for the WAL flush.
_PG_APPEND_DURABLE = """
WITH ins AS (
    INSERT INTO chat_message (thread_id, turn_index, parent_index, role, content, tool_calls,
        tool_call_id, status, error, thinking, usage, timing, personality, model, created_at)
    SELECT $1, COALESCE(MAX(turn_index), -1) + 1, MAX(CASE WHEN on_path THEN turn_index END),
        $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
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
        message_id, turn_index = await _append_pg(store, sql, thread_id, msg, now)
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
    raise AppendGaveUp(
        f"append to thread {thread_id}: gave up after {MAX_APPEND_ATTEMPTS} collisions"
    )
