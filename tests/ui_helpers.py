"""Shared pieces of the UI tests: a seeded SQLite store, a fixed clock, helpers to wait.

UI tests run on SQLite only (one file per test): the store layer is tested on both
backends elsewhere.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import Agent, Llm
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def sqlite_url(tmp_path: Path, name: str = "ui.db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


async def add_llm_agent(
    store: Store,
    *,
    llm: str,
    agent: str,
    type: str = "openai",
    url: str = "",
    model: str = "test-model",
    kind: LlmKind = LlmKind.PUBLIC,
    status: LlmStatus = LlmStatus.ACTIVE,
) -> int:
    # A virtual LLM's publisher is heard from just now: an "active" row nobody heartbeats
    # shows (and is refused) as offline.
    beat = utcnow() if kind == LlmKind.VIRTUAL else None
    async with store.transaction() as s:
        row = Llm(
            name=llm,
            type=type,
            url=url,
            model=model,
            kind=kind,
            status=status,
            last_heartbeat_at=beat,
        )
        s.add(row)
        await s.flush()
        a = Agent(name=agent, llm_id=row.id, kind=kind, status=status)
        s.add(a)
        await s.flush()
        return a.id


async def wait_for(cond: Callable[[], Any], limit: float = 10.0) -> None:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > limit:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def screen_text(app: Any) -> str:
    """What is on screen, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


_SVG_TEXT = re.compile(r'<text [^>]*clip-path="url\(#[\w-]*line-(\d+)\)"[^>]*>([^<]*)</text>')


def screen_rows(app: Any) -> list[str]:
    """What is on screen, one string per row (from the SVG screenshot): what shows
    through from below a dialog is in it, what the dialog covers is not."""
    rows = [""] * app.size.height
    for row, text in _SVG_TEXT.findall(app.export_screenshot()):
        rows[int(row)] += html.unescape(text).replace("\xa0", " ")
    return rows


async def open_seeded(path: Path, seed: Callable[[Store], Any]) -> str:
    """Create a SQLite store at ``path``, run ``seed`` on it, close it; the URL."""
    url = f"sqlite+aiosqlite:///{path}"
    store = await open_store(url)
    try:
        await seed(store)
    finally:
        await store.close()
    return url
