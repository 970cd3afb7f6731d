"""Errors the store raises, each with a message fit for an operator.

Every store failure is a ``StoreError``, so callers can say it and carry on without a
traceback. This module imports nothing of the store: the engine, the migrations and the
query modules all raise these.
"""

from __future__ import annotations


class StoreError(Exception):
    """A store-level failure with a message fit for an operator (no traceback needed)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened.

    ``away``: the connection to a database server was refused or lost (it may come
    back), not a database that refuses the write (read only, full, locked).
    ``maybe_written``: it went away as a transaction was committing, so what it wrote
    may have landed; trying the same write again could write it twice. False: nothing
    was written."""

    def __init__(self, message: str, *, away: bool = False, maybe_written: bool = False) -> None:
        super().__init__(message)
        self.away = away
        self.maybe_written = maybe_written

    @property
    def retryable(self) -> bool:
        """The same write may be sent again once the server is back: it cannot have
        landed."""
        return self.away and not self.maybe_written


class NotFound(StoreError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!s} not found")
        self.kind = kind
        self.key = key


class TurnGone(StoreError):
    """A reply's placeholder turn is no longer there to finish: its thread was deleted, or
    the turn was replaced (a regenerate) or already ended. Nothing was written."""


class InUse(StoreError):
    """A RESTRICT rule refused a delete; ``users`` names what still refers to it."""

    def __init__(self, kind: str, name: str, user_kind: str, users: list[str]) -> None:
        shown = ", ".join(users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
        super().__init__(
            f"{kind} {name} is in use by {len(users)} {user_kind}"
            f"{'s' if len(users) != 1 else ''}: {shown}"
        )
        self.users = users


class Conflict(StoreError):
    """A uniqueness rule refused a write."""


class Invalid(StoreError):
    """A value breaks a rule of the data model."""


def is_outage(exc: BaseException) -> bool:
    """The database went away (a refused or reset connection, a statement timed out,
    the driver's own errors): said in one line, not a traceback; the one rule of the
    store's writes and the CLI's last resort. Judged without importing the driver
    (``--version`` does not load it)."""
    if isinstance(exc, BrokenPipeError):  # our stdout went away, not the database
        return False
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    package = type(exc).__module__.split(".")[0]
    name = type(exc).__name__
    if package == "sqlalchemy":  # not its ProgrammingError & co: those are bugs to see
        return name in _SA_OUTAGES or bool(getattr(exc, "connection_invalidated", False))
    return package == "asyncpg" and ("Connect" in name or name == "InterfaceError")


_SA_OUTAGES = frozenset(
    {"OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError"}
)
