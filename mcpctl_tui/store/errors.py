"""Errors the store raises, each with a message fit for an operator.

Every store failure is a ``StoreError``, so callers can say it and carry on without a
traceback. This module imports nothing of the store: the engine, the migrations and the
query modules all raise these.
"""

from __future__ import annotations


class StoreError(Exception):
    """A store-level failure with a message fit for an operator (no traceback needed)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


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
