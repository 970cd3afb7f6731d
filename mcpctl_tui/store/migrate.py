"""Schema migrations on open: Alembic, run from code, cheap when there is nothing to do.

Opening a store calls ``upgrade_to_head``. The common case (database already at head) costs
one query and never loads Alembic's script directory: the head revision is read from the
file names in ``migrations/versions`` (``NNNN_slug.py``, revision id == stem; a test checks
this agrees with Alembic's own view). Otherwise the upgrade runs under a cross-process lock
(PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock, BEGIN IMMEDIATE),
re-reads the revision under that lock (another process may have just done the work), and
runs every step in one transaction: both backends have transactional DDL, so a failed
upgrade leaves the database as it was.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mcpctl_tui.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key shared by every mcpctl-tui process ("mcpctlmg" as a bigint).
PG_MIGRATION_LOCK_KEY = int.from_bytes(b"mcpctlmg", "big") & 0x7FFF_FFFF_FFFF_FFFF

_REVISION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")


class SchemaError(StoreError):
    """The database's schema cannot be used by this version of mcpctl-tui."""


class SchemaTooNew(SchemaError):
    """The database is at a revision this code does not know (a newer mcpctl-tui wrote it)."""

    def __init__(self, revision: str, head: str) -> None:
        if _number(revision) > _number(head):
            why = f"newer than this mcpctl-tui knows (head {head}); upgrade mcpctl-tui"
        else:
            why = f"unknown to this mcpctl-tui (head {head}); was it written by another build?"
        super().__init__(f"database schema is at revision {revision}, {why}")
        self.revision = revision
        self.head = head


class UnversionedSchema(SchemaError):
    """Tables exist but no revision is recorded: not a database this program created."""

    def __init__(self, tables: list[str]) -> None:
        shown = ", ".join(sorted(tables)[:5])
        super().__init__(
            f"database has tables ({shown}) but no mcpctl-tui schema revision; "
            "point --db at an empty database or one created by mcpctl-tui"
        )


def _number(revision: str) -> int:
    m = re.match(r"^(\d+)", revision)
    return int(m.group(1)) if m else -1


@cache
def known_revisions() -> tuple[str, ...]:
    """Every revision this code knows, oldest first, from the file names alone (no Alembic)."""
    stems = sorted(p.name[:-3] for p in VERSIONS_DIR.iterdir() if _REVISION_FILE.match(p.name))
    if not stems:
        raise RuntimeError(f"no migration revisions found in {VERSIONS_DIR}")
    return tuple(stems)


def head_revision() -> str:
    """The newest revision this code knows."""
    return known_revisions()[-1]


def is_known_revision(revision: str) -> bool:
    return revision in known_revisions()


def _read_version_sync(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision, or None for a database with no revision recorded."""
    try:
        async with engine.connect() as conn:
            return (await conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except DBAPIError:
        # No version table (fresh database); confirm rather than guess from the error text.
        async with engine.connect() as conn:
            return await conn.run_sync(_read_version_sync)


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision (a no-op costing one query when it is)."""
    head = head_revision()
    try:
        async with engine.connect() as conn:
            version = (
                await conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")
            ).scalar()
        if version == head:
            return
    except DBAPIError:
        pass  # no version table yet: a fresh database, or not ours; decided under the lock
    await upgrade_to(engine, head)


async def upgrade_to(engine: AsyncEngine, revision: str) -> None:
    """Upgrade to ``revision`` (tests use it to build databases at older revisions)."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade_locked, revision)


def _set_sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    # Must run outside a transaction (SQLite ignores it inside one), hence the raw cursor.
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cur.close()


def _upgrade_locked(conn: Connection, target: str) -> None:
    if conn.dialect.name != "sqlite":
        with conn.begin():
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK_KEY})")
            _upgrade_in_transaction(conn, target)
        return
    # Batch mode rebuilds tables (create copy, drop, rename); with foreign keys on, the drop
    # would cascade into the children. Off for the upgrade, checked before commit, back on.
    _set_sqlite_foreign_keys(conn, on=False)
    try:
        conn.execution_options(sqlite_immediate=True)  # BEGIN IMMEDIATE: the write lock
        with conn.begin():
            _upgrade_in_transaction(conn, target)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise SchemaError(f"migration left {len(broken)} broken foreign keys: {broken[:3]}")
    finally:
        _set_sqlite_foreign_keys(conn, on=True)


def _upgrade_in_transaction(conn: Connection, target: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    current = _read_version_sync(conn)
    if current == target:
        return  # another process finished it while we waited for the lock
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    if current is not None:
        known = {s.revision for s in script.walk_revisions()}
        if current not in known:
            raise SchemaTooNew(current, script.get_current_head() or target)
    else:
        tables = [t for t in inspect(conn).get_table_names() if t != VERSION_TABLE]
        if tables:
            raise UnversionedSchema(tables)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def alembic_config() -> Config:
    """An Alembic Config for this package, e.g. for ``alembic.command.revision`` when writing
    a new revision (developers only; opening a store never needs it)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg
