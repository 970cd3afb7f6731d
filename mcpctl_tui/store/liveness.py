"""The one rule for "is this provider (its virtual LLM and agent rows) alive".

Rules:

- A provider publishes its heartbeat interval with its rows (``heartbeat_interval``).
  It is dead after three missed beats of that interval, bounded by the configured
  heartbeat timeout: ``deadline = min(3 * interval, timeout)``. A row without a published
  interval (an older provider, a public row) is judged by the timeout alone.
- A row is live while it is active and its last beat is within the deadline
  (``row_is_live``): registration, dispatch, the GC, deletes and the UI's agent status all
  ask this module, in Python (``is_live``) or in SQL (``heard_within``), so an agent shows
  inactive exactly when a send would be refused and when the GC would retire it.
- ``live_until`` says when a live row stops being live if nothing more is heard: the UI
  schedules its next look for then, so a provider dying shows without any store write.
- The timeout's default lives in ``config.py`` (one definition); callers pass the bound.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, extract, func, literal, or_

from mcpctl_tui.store.types import LlmStatus, UtcDateTime, utcnow

MISSED_BEATS = 3


def deadline(interval: float | None, timeout: float) -> float:
    """Seconds of silence after which a publisher is gone."""
    if interval is None or interval <= 0:
        return timeout
    return min(MISSED_BEATS * interval, timeout)


def live_until(
    last_beat: datetime | None, *, interval: float | None, timeout: float
) -> datetime | None:
    """When a publisher last heard at ``last_beat`` stops counting as live (None: never
    heard, so not live now either)."""
    if last_beat is None:
        return None
    return last_beat + timedelta(seconds=deadline(interval, timeout))


def is_live(
    last_beat: datetime | None,
    now: datetime | None = None,
    *,
    interval: float | None,
    timeout: float,
) -> bool:
    """Heard from within the deadline."""
    until = live_until(last_beat, interval=interval, timeout=timeout)
    return until is not None and (now or utcnow()) <= until


def row_is_live(
    status: LlmStatus,
    last_beat: datetime | None,
    now: datetime | None = None,
    *,
    interval: float | None,
    timeout: float,
) -> bool:
    """A published row is live while active and heard from within the deadline (a row
    still marked active whose provider died counts as gone before the GC says so)."""
    return status == LlmStatus.ACTIVE and is_live(
        last_beat, now, interval=interval, timeout=timeout
    )


def heard_within(model: Any, now: datetime, timeout: float, dialect: str) -> ColumnElement[bool]:
    """``is_live`` as a SQL condition on ``model`` (``Llm`` or ``Agent``): the timeout
    bound (index friendly), and, where an interval is published, three beats of it."""
    last = model.last_heartbeat_at
    interval = model.heartbeat_interval
    at = literal(now, UtcDateTime())
    if dialect == "sqlite":
        elapsed: ColumnElement[Any] = (func.julianday(at) - func.julianday(last)) * 86400.0
    else:
        elapsed = extract("epoch", at - last)
    return and_(
        last.is_not(None),
        last >= now - timedelta(seconds=timeout),
        or_(interval.is_(None), interval <= 0, elapsed <= MISSED_BEATS * interval),
    )
