"""A SQLite store the operator cannot write (the file, or the directory its journal goes
in) is one line at start for every verb that writes, the TUI included, before anything
is typed or sent; the verbs that only read still read it; nothing is changed."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_runs import invoke_cli, run_cli

MANIFEST = "kind: llm\nname: x\ntype: echo\n---\nkind: agent\nname: a\nllm: x\n"

WRITERS = [
    ("apply", "-f", "m.yaml"),
    ("chat", "a", "-m", "hi"),
    ("delete", "agent", "a"),
    ("gc",),
    ("db", "upgrade"),
    (),  # the TUI
]


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "m.yaml").write_text(MANIFEST)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert invoke_cli(url, "apply", "-f", str(tmp_path / "m.yaml")).exit_code == 0
    assert invoke_cli(url, "chat", "a", "-m", "first").exit_code == 0
    yield tmp_path
    tmp_path.chmod(0o755)
    (tmp_path / "s.db").chmod(0o644)


def chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


def touch(path: Path) -> None:
    path.write_bytes(b"")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def writers_refused(directory: Path, why: str) -> None:
    url = f"sqlite:///{directory / 's.db'}"
    before = digest(directory / "s.db")
    for argv in WRITERS:
        args = [directory / a if a == "m.yaml" else a for a in argv]
        res = await run_cli(url, *map(str, args), unprivileged=True)
        assert res.code == 1 and "Traceback" not in res.err, (argv, res.err)
        assert res.err.startswith(f"Error: {why}"), (argv, res.err)
        assert res.err.count("\n") == 1 and "fix its permissions" in res.err
    assert digest(directory / "s.db") == before


async def readers_read(directory: Path) -> None:
    url = f"sqlite:///{directory / 's.db'}"
    got = await run_cli(url, "get", "agents", unprivileged=True)
    assert got.code == 0 and got.out.splitlines()[1].split()[:2] == ["a", "x"], got
    history = await run_cli(url, "history", "1", unprivileged=True)
    assert history.code == 0 and "first" in history.out, history


async def test_a_read_only_file_refuses_writers_and_serves_readers(store_dir: Path) -> None:
    db = store_dir / "s.db"
    chmod(db, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    await writers_refused(store_dir, f"the database file {db} is read-only (Permission denied)")
    await readers_read(store_dir)


async def test_a_read_only_directory_refuses_writers(store_dir: Path) -> None:
    chmod(store_dir, 0o555)
    why = f"the directory {store_dir} of the database is not writable (Permission denied)"
    await writers_refused(store_dir, why)
    # Closed cleanly, the WAL's files are gone and SQLite cannot make them: reading is
    # refused the same way. With them there (another process has it open), it reads.
    assert not (store_dir / "s.db-shm").exists()
    url = f"sqlite:///{store_dir / 's.db'}"
    for argv in (("get", "agents"), ("history", "1"), ("--readonly",)):
        res = await run_cli(url, *argv, unprivileged=True)
        assert res.code == 1 and res.err.startswith(f"Error: {why}"), (argv, res.err)
    chmod(store_dir, 0o755)
    for name in ("s.db-shm", "s.db-wal"):
        touch(store_dir / name)
    chmod(store_dir, 0o555)
    await readers_read(store_dir)


async def test_a_writable_store_is_not_refused(store_dir: Path) -> None:
    url = f"sqlite:///{store_dir / 's.db'}"
    res = await run_cli(url, "chat", "a", "-m", "again", unprivileged=True)
    assert res.code == 0, res.err
