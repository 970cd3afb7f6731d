"""Opening a store: engine, session factories, SQLite pragmas, migrations on open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm.exc import StaleDataError

from mcpctl_tui.config import normalize_db_url, redact_url
from mcpctl_tui.store import sqlite_driver
from mcpctl_tui.store.errors import Conflict, StoreUnavailable, is_outage
from mcpctl_tui.store.migrate import upgrade_to_head

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT = 10.0  # seconds to connect (or to wait for a pooled connection)
PG_COMMAND_TIMEOUT = 60.0  # seconds any one statement may take before it is given up


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so "begin" below decides how to BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Without these the FK rules are silently not enforced and concurrent writers fail fast.
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads then writes cannot wait for the write lock
        # (SQLite returns BUSY at once); writers ask for it up front instead.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass(slots=True)
class Store:
    """An open database: an engine and two session factories (read, write)."""

    url: str
    engine: AsyncEngine
    _read: async_sessionmaker[AsyncSession]
    _write: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def session(self) -> AsyncSession:
        """A session for reads (and writes that cannot race)."""
        return self._read()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on exit, rolled back on error.

        On SQLite it takes the write lock at BEGIN (BEGIN IMMEDIATE) so read-then-write
        sequences from several processes queue behind the busy timeout instead of failing.

        A database that refuses the write (locked past the busy timeout, disk full, read
        only, gone) raises ``StoreUnavailable`` with the driver's one-line reason, so
        callers can say it and carry on instead of failing the operator's action; one
        that went away while committing says what it wrote ``maybe_written``.
        """
        committing = False  # past the body: a failure now may come after the server committed
        try:
            async with self._write() as session, session.begin():
                yield session
                committing = True
        except StaleDataError:
            # A row this write changes was changed or deleted by another process after it
            # was read (apply racing a delete): nothing was written; trying again sees it.
            raise Conflict(
                "another process changed or deleted what this write was changing; "
                "nothing was written, try again"
            ) from None
        except (OperationalError, InterfaceError, OSError, TimeoutError, DBAPIError) as exc:
            if not is_outage(exc) and not isinstance(exc, OperationalError | OSError):
                raise  # a bug to see (ProgrammingError & co), not an outage
            if isinstance(exc, BrokenPipeError):  # our stdout, not the database
                raise
            raise StoreUnavailable(
                f"cannot write to the database: {_short_reason(exc)}",
                away=not self.is_sqlite,  # a file is not away: it refuses (read only, full)
                maybe_written=committing,
            ) from exc

    async def close(self) -> None:
        await self.engine.dispose()


def create_engine_for(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalize_db_url(url)
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the database's directory {folder}: {exc.strerror}"
                ) from None
        connect_args = {
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "async_creator_fn": sqlite_driver.connect,
        }
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_pragmas(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_timeout", PG_CONNECT_TIMEOUT)
    # Timeouts the URL gives (connect_timeout=5 becomes timeout=5, config.py) win over
    # ours; asyncpg wants them as numbers, the URL has text.
    given = {
        k: float(str(sa_url.query[k])) for k in ("timeout", "command_timeout") if k in sa_url.query
    }
    sa_url = sa_url.difference_update_query(list(given))
    connect_args = {
        # A server that stops answering must not hang a chat forever: connecting, and
        # every statement, give up with an error the caller can say in one line.
        "timeout": PG_CONNECT_TIMEOUT,
        "command_timeout": PG_COMMAND_TIMEOUT,
        # The server drops a client whose machine vanished instead of holding its locks.
        "server_settings": {
            "tcp_keepalives_idle": "30",
            "tcp_keepalives_interval": "10",
            "tcp_keepalives_count": "3",
        },
        **given,
        **kwargs.pop("connect_args", {}),
    }
    return create_async_engine(sa_url, connect_args=connect_args, **kwargs)


async def open_store(url: str, *, migrate: bool = True, **engine_kwargs: Any) -> Store:
    """Open (and by default migrate to head) the database at ``url``.

    Raises StoreUnavailable with a readable message when the database cannot be reached.
    """
    url = normalize_db_url(url)
    engine = create_engine_for(url, **engine_kwargs)
    store = Store(
        url=url,
        engine=engine,
        _read=async_sessionmaker(engine, expire_on_commit=False),
        _write=async_sessionmaker(
            engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        ),
    )
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        if migrate:
            await upgrade_to_head(engine)
    except (OperationalError, DBAPIError, OSError) as exc:
        await engine.dispose()
        raise StoreUnavailable(
            f"cannot open database {redact_url(url)}: {_short_reason(exc)}"
        ) from None
    except BaseException:
        await engine.dispose()
        raise
    return store


def _short_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
