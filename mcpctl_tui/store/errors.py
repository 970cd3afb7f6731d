"""Errors the store raises with messages fit for an operator."""

from __future__ import annotations

from mcpctl_tui.store.engine import StoreError


class NotFound(StoreError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!s} not found")
        self.kind = kind
        self.key = key


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
