from __future__ import annotations

import pytest
from sqlalchemy import text

from mcpctl_tui.config import ConfigError, normalize_db_url
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.errors import StoreUnavailable


async def test_sqlite_pragmas_on_every_connection(store: Store) -> None:
    if not store.is_sqlite:
        pytest.skip("SQLite only")
    async with store.session() as s:
        assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await s.execute(text("PRAGMA busy_timeout"))).scalar() == 30000


async def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(
        StoreUnavailable, match=r"cannot open database postgresql\+asyncpg://u:\*\*\*@127.0.0.1:1/x"
    ):
        await open_store("postgresql://u:secret@127.0.0.1:1/x")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_plain_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert normalize_db_url(given) == expected


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="unsupported database URL scheme 'mysql'"):
        normalize_db_url("mysql://x/y")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_store_gone_while_committing_says_the_write_may_have_landed(
    store: Store, db_url: str
) -> None:
    """Only a write that cannot have landed may simply be sent again (the app's retry of
    a send): one cut in its body did not land; one cut as it commits may have."""
    from tests.support.tcp_proxy import proxy_to, url_through

    proxy = await proxy_to(db_url)
    through = await open_store(url_through(db_url, proxy.port))
    try:
        with pytest.raises(StoreUnavailable) as in_body:
            async with through.transaction() as s:
                await s.execute(text("SELECT 1"))
                proxy.cut()
                await s.execute(text("SELECT 2"))
        assert in_body.value.away and in_body.value.retryable
        proxy.restore()
        with pytest.raises(StoreUnavailable) as at_commit:
            async with through.transaction() as s:
                await s.execute(text("SELECT 1"))
                proxy.cut()
        assert at_commit.value.maybe_written and not at_commit.value.retryable
    finally:
        proxy.restore()
        await through.close()
