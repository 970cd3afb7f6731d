"""Start-up: ``--version`` and ``get`` import only what they use (a real subprocess each).

Verb modules are imported when their verb runs (``mcpctl_tui/cli/__init__.py``); a
module-level import of the store, the adapters or Textual in the wrong place shows here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from mcpctl_tui.store.engine import Store
from tests.support.seed import add_llm_agent

HEAVY = ("textual", "sqlalchemy", "httpx", "asyncpg", "aiosqlite", "prompt_toolkit")


def _imported_after(argv: list[str]) -> set[str]:
    """The heavy modules in sys.modules once ``mcpctl-tui ARGV`` has run in a fresh
    interpreter (its output is swallowed; the exit code must be 0)."""
    probe = (
        "import sys, json, contextlib, io\n"
        "from mcpctl_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try: main({argv!r})\n"
        "    except SystemExit as e: assert not e.code, e.code\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_version_imports_no_store_no_ui() -> None:
    assert _imported_after(["--version"]) == set()


def test_help_lists_every_verb() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mcpctl_tui", "--help"], capture_output=True, text=True, timeout=60
    )
    listed = out.stdout.split("Commands:")[1]
    for verb in ("apply", "chat", "db", "delete", "demo", "gc", "get", "history", "provider"):
        assert f"  {verb} " in listed


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_get_agents_imports_no_ui_no_http(store: Store, db_url: str) -> None:
    imported = await asyncio.to_thread(_imported_after, ["--db", db_url, "get", "agents"])
    assert "sqlalchemy" in imported  # it reads the store (the probe can fail)
    assert imported.isdisjoint({"textual", "httpx", "prompt_toolkit"})


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_chat_on_the_echo_llm_imports_no_http_no_ui(store: Store, db_url: str) -> None:
    """The HTTP adapters load with the first LLM that dials; echo never does."""
    await add_llm_agent(store, agent="a")  # an echo LLM
    imported = await asyncio.to_thread(_imported_after, ["--db", db_url, "chat", "a", "-m", "hi"])
    assert "sqlalchemy" in imported
    assert imported.isdisjoint({"textual", "httpx", "prompt_toolkit"})
