"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database, per test.

PostgreSQL runs whenever MCPCTL_TUI_TEST_PG_URL is set; under CI it must be set (no
silent skip). Each PostgreSQL test gets its own database (CREATE DATABASE is ~50 ms
here), so tests, subprocesses and parallel workers never share state. ``dump`` reads
every row of every table, to show that something left the database untouched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.models import Base

PG_ENV = "MCPCTL_TUI_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def pg_base_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} is not set under CI: the PostgreSQL half must run")
    return url


def _asyncpg_dsn(url: str) -> str:
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_pg_database(base_url: str, *, template: str | None = None) -> AsyncIterator[str]:
    """Create a throw-away database next to ``base_url``'s (a copy of the database
    ``template`` when given); yield its async URL; drop it."""
    name = f"mcpctl_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(base_url))
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()
    url = make_url(base_url).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(base_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def throwaway_db(
    backend: str, pg_url: str | None, name: str = "bench.db"
) -> AsyncIterator[str]:
    """A throw-away empty database outside pytest (the benchmarks): a SQLite file in a
    temporary directory, or a fresh database on ``pg_url``'s server; gone afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield f"sqlite+aiosqlite:///{d}/{name}"
        return
    assert pg_url, "a PostgreSQL server URL is needed"
    async with fresh_pg_database(pg_url) as url:
        yield url


@asynccontextmanager
async def fresh_db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    base = pg_base_url()
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    async with fresh_pg_database(base) as url:
        yield url


_TEMPLATE: dict[str, Path] = {}  # this process's migrated, empty SQLite file


async def open_migrated(url: str) -> Store:
    """``open_store(url)``, faster for a new SQLite file: a copy of a database this process
    migrated once (the migrations themselves are tested in tests/store/test_migrations.py;
    hundreds of tests need only their result). Other URLs are opened as they are."""
    from mcpctl_tui.config import sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        template = _TEMPLATE.get("sqlite")
        if template is None:
            template = Path(tempfile.mkdtemp(prefix="mcpctl-template-")) / "head.db"
            await (await open_store(f"sqlite+aiosqlite:///{template}")).close()
            _TEMPLATE["sqlite"] = template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
    return await open_store(url)


Dump = dict[str, list[tuple[Any, ...]]]


async def dump_store(store: Store) -> Dump:
    """Every row of every table (every column, timestamps included), in primary-key order."""
    out: Dump = {}
    async with store.session() as s:
        for table in Base.metadata.sorted_tables:
            q = select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(r) for r in (await s.execute(q)).all()]
    return out


async def dump_url(url: str) -> Dump:
    store = await open_store(url)
    try:
        return await dump_store(store)
    finally:
        await store.close()


def dump(url: str) -> Dump:
    return asyncio.run(dump_url(url))
