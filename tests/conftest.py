from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mcpctl_tui.store.engine import Store
from tests.support.databases import BACKENDS, fresh_db_url, open_migrated


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the real user's config or data dir."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("MCPCTL_TUI_DB", raising=False)
    monkeypatch.delenv("MCPCTL_TUI_CONFIG", raising=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend (not yet migrated)."""
    async with fresh_db_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """A migrated, empty store on each backend."""
    s = await open_migrated(db_url)
    try:
        yield s
    finally:
        await s.close()
