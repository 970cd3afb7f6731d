"""The UI's hot reads (message windows, thread pages) on a light path.

Through the ORM, or even Core with its result processors, a window of 100 turns spent
about three times as long in Python as the same SQL sent to the driver (JSON, enum and
datetime processors per value, plus entity bookkeeping). These reads run their statement
at the driver level and convert each row once, by hand, into a frozen dataclass. The
statements are the ones ``queries`` would build, written per dialect; ``tests/
test_store_queries.py`` checks the results against the ORM rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.types import MessageStatus

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


_TURN_COLUMNS = (
    "id, thread_id, turn_index, role, content, tool_calls, tool_call_id, status, error,"
    " thinking, usage, timing, personality, model, created_at"
)


def _utc_text(value: str) -> datetime:
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (26 chars), in UTC; anything longer
    # carries its own offset (a row written by other means).
    if len(value) <= 26:
        return _fromiso(value + "+00:00")
    return _fromiso(value).astimezone(UTC)


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        return _utc_text(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime in the text form SQLAlchemy stores on SQLite (compares as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


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
        _utc_text(r[14]),
    )


def _turn_pg(r: Any) -> Turn:
    # asyncpg already decoded JSONB (SQLAlchemy's codec) and returns timestamptz in UTC.
    return Turn(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], _STATUS[r[7]], r[8], r[9], r[10], r[11],
        r[12], r[13], _utc(r[14])
    )  # fmt: skip


_loads = json.loads
_fromiso = datetime.fromisoformat


def _placeholders(sqlite: bool, n: int) -> list[str]:
    return ["?"] * n if sqlite else [f"${i}" for i in range(1, n + 1)]


def _sql_last(sqlite: bool) -> str:
    a, b = _placeholders(sqlite, 2)
    return (
        f"SELECT {_TURN_COLUMNS} FROM chat_message WHERE thread_id = {a}"
        f" ORDER BY turn_index DESC LIMIT {b}"
    )


def _sql_before(sqlite: bool) -> str:
    a, b, c = _placeholders(sqlite, 3)
    return (
        f"SELECT {_TURN_COLUMNS} FROM chat_message WHERE thread_id = {a} AND turn_index < {b}"
        f" ORDER BY turn_index DESC LIMIT {c}"
    )


def _sql_all(sqlite: bool) -> str:
    (a,) = _placeholders(sqlite, 1)
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


async def last_turns(s: AsyncSession, thread_id: int, n: int) -> list[Turn]:
    turns = await _run(s, "last", (thread_id, n))
    turns.reverse()
    return turns


async def turns_before(s: AsyncSession, thread_id: int, before_turn: int, n: int) -> list[Turn]:
    turns = await _run(s, "before", (thread_id, before_turn, n))
    turns.reverse()
    return turns


async def all_turns(s: AsyncSession, thread_id: int) -> list[Turn]:
    return await _run(s, "all", (thread_id,))


# --- thread pages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: int
    agent_id: int
    title: str
    created_at: datetime
    last_turn_at: datetime
    turn_count: int


def _sql_threads(sqlite: bool, keyset: bool) -> str:
    ph = _placeholders(sqlite, 5)
    where = f"t.agent_id = {ph[0]}"
    if keyset:
        # (last_turn_at, id) < (cursor): the same shape the index serves on both backends.
        where += f" AND (t.last_turn_at < {ph[1]} OR (t.last_turn_at = {ph[2]} AND t.id < {ph[3]}))"
    limit = ph[4] if keyset else ph[1]
    return (
        "SELECT t.id, t.agent_id, t.title, t.created_at, t.last_turn_at,"
        " (SELECT count(*) FROM chat_message m WHERE m.thread_id = t.id)"
        f" FROM chat_thread t WHERE {where}"
        f" ORDER BY t.last_turn_at DESC, t.id DESC LIMIT {limit}"
    )


_THREAD_SQL = {
    (sqlite, keyset): _sql_threads(sqlite, keyset)
    for sqlite in (True, False)
    for keyset in (True, False)
}


async def thread_page(
    s: AsyncSession, agent_id: int, limit: int, after: tuple[datetime, int] | None
) -> list[ThreadSummary]:
    conn = await s.connection()
    sqlite = conn.dialect.name == "sqlite"
    params: tuple[Any, ...]
    if after is None:
        params = (agent_id, limit)
    else:
        at: Any = sqlite_timestamp(after[0]) if sqlite else after[0]
        params = (agent_id, at, at, after[1], limit)
    result = await conn.exec_driver_sql(_THREAD_SQL[sqlite, after is not None], params)
    return [_summary(r) for r in result.all()]


def _summary(r: Any) -> ThreadSummary:
    return ThreadSummary(r[0], r[1], r[2], _utc(r[3]), _utc(r[4]), r[5])
