"""How the store modules write and read rows: the helpers they share.

Rules kept here:

- A write that can break a rule of the data model (create, update, bind) runs in a
  SAVEPOINT (``write_row``): a refusal becomes an operator error (``Conflict``,
  ``Invalid``) and leaves the caller's transaction usable (PostgreSQL would otherwise
  abort the whole transaction on the first error).
- Updates name columns; the key and the bookkeeping timestamps are never updatable.
- A read by id that finds nothing raises ``NotFound`` (``get_row``), never returns None.
- The hot reads that skip the ORM (``store.messages``, ``store.threads``) convert driver
  values the same way: timestamps are aware UTC datetimes, and a datetime compared with
  SQLite's stored text is first written in that text form (``sqlite_timestamp``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.errors import Conflict, Invalid, NotFound, StoreError
from mcpctl_tui.store.models import Base

M = TypeVar("M", bound=Base)

# --- rule violations -> operator errors -------------------------------------------------

_PG_CODES = {"23505": "unique", "23503": "foreign_key", "23514": "check", "23502": "not_null"}
_SQLITE_TEXT = {
    "UNIQUE constraint failed": "unique",
    "FOREIGN KEY constraint failed": "foreign_key",
    "CHECK constraint failed": "check",
    "NOT NULL constraint failed": "not_null",
}


def violation_kind(exc: IntegrityError) -> str | None:
    """unique | foreign_key | check | not_null (None if the driver says nothing we know)."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is not None:
        return _PG_CODES.get(str(code))
    text = str(orig)
    for needle, kind in _SQLITE_TEXT.items():
        if needle in text:
            return kind
    return None


def is_unique_violation(exc: IntegrityError) -> bool:
    """A uniqueness rule refused the write (e.g. a racing writer took the turn index)."""
    return violation_kind(exc) == "unique"


def _refusal(exc: IntegrityError, what: str, conflict: str) -> StoreError:
    kind = violation_kind(exc)
    if kind == "unique":
        return Conflict(conflict)
    if kind == "foreign_key":
        return Invalid(f"{what}: refers to a row that does not exist")
    if kind == "check":
        return Invalid(f"{what}: a value breaks a rule of the data model")
    if kind == "not_null":
        return Invalid(f"{what}: a required field is missing")
    return Invalid(f"{what}: refused by the database")


# --- writes and reads by id -------------------------------------------------------------


async def write_row(
    s: AsyncSession, row: M, what: str, conflict: str, changes: dict[str, Any] | None = None
) -> M:
    """Add ``row`` (or apply ``changes`` to it) and flush, in a savepoint; rule violations
    become operator errors (``conflict`` is the message for a uniqueness refusal, ``what``
    names the row in the others) and leave the caller's transaction usable."""
    try:
        # begin_nested flushes what is pending first, so the changes go in after it.
        async with s.begin_nested():
            if changes:
                _set_fields(row, row.__tablename__, changes)
            s.add(row)
    except IntegrityError as exc:
        raise _refusal(exc, what, conflict) from None
    return row


async def get_row(s: AsyncSession, model: type[M], kind: str, row_id: int) -> M:
    """The ``model`` row with id ``row_id``; ``NotFound`` names it as ``kind``."""
    row = await s.get(model, row_id)
    if row is None:
        raise NotFound(kind, row_id)
    return row


_NOT_UPDATABLE = frozenset({"id", "created_at", "updated_at"})


def _set_fields(row: Base, kind: str, fields: dict[str, Any]) -> None:
    columns = row.__table__.columns.keys()
    for key, value in fields.items():
        if key not in columns or key in _NOT_UPDATABLE:
            raise Invalid(f"{kind} has no updatable field {key!r}")
        setattr(row, key, value)


# --- driver-level reads -----------------------------------------------------------------


def placeholders(sqlite: bool, n: int) -> list[str]:
    """The driver's ``n`` positional parameter markers: ``?`` (sqlite3), ``$1`` (asyncpg)."""
    return ["?"] * n if sqlite else [f"${i}" for i in range(1, n + 1)]


_fromiso = datetime.fromisoformat


def utc_text(value: str) -> datetime:
    """A timestamp as SQLite holds it (text), as an aware UTC datetime."""
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (26 chars), in UTC; anything longer
    # carries its own offset (a row written by other means).
    if len(value) <= 26:
        return _fromiso(value + "+00:00")
    return _fromiso(value).astimezone(UTC)


def as_utc(value: Any) -> datetime:
    """A timestamp as either driver returns it (SQLite text, asyncpg datetime), in UTC."""
    if isinstance(value, str):
        return utc_text(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def sqlite_timestamp(value: datetime) -> str:
    """A UTC datetime in the text form SQLAlchemy stores on SQLite (compares as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
