"""What an operator meets at the command line: regressions from the QA walkthrough.

Each test is one finding: a traceback, a multi-line error, a value that could not be
stored or re-applied, or output that ran together.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from mcpctl_tui.config import ConfigError, load_settings, resolve_db_url
from tests.test_cli_chat import Result


async def run_cli(*args: str, env: dict[str, str]) -> Result:
    """The CLI as a subprocess with no ``--db`` (so the config file is read)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mcpctl_tui",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


# --- the config file and the database URL -------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"db: [unclosed\n", "is not valid YAML (line 2): while parsing a flow sequence: "),
        (b"\xff\xfedb: x\n", "is not UTF-8 text (byte 0)"),
        (b"1: x\nfoo: 2\n", "unknown key(s) 1, foo"),
        (b"heartbeat_interval: yes\n", "'heartbeat_interval' must be a positive number"),
    ],
)
def test_broken_config_file_is_one_clear_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


async def test_broken_config_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    for content in (b"db: [unclosed\n", b"\xff\xfe"):
        path.write_bytes(content)
        for args in (("get", "llm"), ("db", "current"), ("chat", "a", "-m", "x")):
            res = await run_cli(*args, env={"MCPCTL_TUI_CONFIG": str(path)})
            assert res.code == 1 and res.out == ""
            assert res.err.count("\n") == 1, res.err  # one line, no traceback
            assert res.err.startswith(f"Error: config file {path} ")


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+aiosqlite:///file:x?mode=memory"],
)
def test_an_in_memory_database_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `apply` to it printed "created" and kept nothing.
    with pytest.raises(ConfigError, match=r"^--db: .* in-memory SQLite database"):
        resolve_db_url(url)
    monkeypatch.setenv("MCPCTL_TUI_DB", url)
    with pytest.raises(ConfigError, match=r"^\$MCPCTL_TUI_DB: "):
        resolve_db_url()
    assert resolve_db_url("sqlite:///relative.db") == "sqlite+aiosqlite:///relative.db"


async def test_in_memory_database_through_the_cli(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("kind: project\nname: p\n")
    res = await run_cli("--db", "sqlite://", "apply", "-f", str(manifest), env={})
    assert res.code == 1 and res.out == ""
    assert res.err.count("\n") == 1 and "in-memory SQLite database" in res.err
