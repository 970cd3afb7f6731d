"""When a virtual row's publisher counts as live: one rule for registration, dispatch,
status and deletes (it lives in the store layer so ``store.deletes`` can use it too)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mcpctl_tui.store.types import LlmStatus, utcnow


def is_live(
    status: LlmStatus,
    last_heartbeat_at: datetime | None,
    heartbeat_timeout: float,
    now: datetime | None = None,
) -> bool:
    """A publisher is live while active and heard from within the heartbeat timeout (a
    row still marked active whose provider died counts as gone before the GC says so)."""
    now = now or utcnow()
    return (
        status == LlmStatus.ACTIVE
        and last_heartbeat_at is not None
        and last_heartbeat_at >= now - timedelta(seconds=heartbeat_timeout)
    )
