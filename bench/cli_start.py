"""CLI start-up: wall time of short commands, as ratios measured in the same run.

    .venv/bin/python -m bench.cli_start [--rounds 7]

Rows (median of ``--rounds`` runs each, all in one run: these machines are noisy):
  - ``python -c pass``: the interpreter alone, the floor;
  - ``store imports``: SQLAlchemy's ORM, asyncio, aiosqlite, click, YAML: the floor of
    any verb that reads the store;
  - ``eager imports``: importing every verb module, what each command paid before verbs
    were imported lazily (the "before" of ``--version``);
  - ``--version``, ``get agents`` and ``chat -m`` (echo LLM) on a fresh demo database;
  - the TUI on that database, on a pseudo-terminal: spawn to its newest thread's title
    in the output (start-up, the first load and the first frame; then it is killed).
Printed: ms, the ratio to the floor, and ``--version`` against the eager imports.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

# What any verb that reads the store pays before our code runs: the ORM, asyncio, the
# SQLite driver, click and the config's YAML (the floor for ``get`` and ``chat``).
STORE_FLOOR = "import sqlalchemy.orm, sqlalchemy.ext.asyncio, aiosqlite, click, yaml"

EAGER = (
    "import mcpctl_tui.cli, mcpctl_tui.cli.db, mcpctl_tui.cli.manifest, mcpctl_tui.cli.chat, "
    "mcpctl_tui.cli.threads, mcpctl_tui.cli.provider, mcpctl_tui.cli.gc, mcpctl_tui.cli.app, "
    "mcpctl_tui.llm.registry"
)


def timed(argv: list[str], rounds: int) -> float:
    """Median wall time of ``argv`` in ms (one untimed run first: the page cache)."""
    subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def first_paint(argv: list[str], marker: bytes, rounds: int) -> float:
    """Median ms from spawning the TUI on a pseudo-terminal (120x40) to ``marker`` (a row
    of the store's data) in its output: start-up, first load and first frame together."""

    def once() -> float:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the app, on the pty
            os.environ["TERM"] = "xterm-256color"
            os.execv(argv[0], argv)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        t0 = time.perf_counter()
        seen = b""
        try:
            while marker not in seen:
                ready, _, _ = select.select([fd], [], [], 10)
                if not ready:
                    raise RuntimeError(f"no {marker!r} on screen within 10 s")
                seen = seen[-4096:] + os.read(fd, 65536)
            return (time.perf_counter() - t0) * 1000
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)

    once()  # the page cache
    return statistics.median(once() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    py = sys.executable
    cli = [py, "-m", "mcpctl_tui"]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.sqlite3"
        subprocess.run(
            [*cli, "demo", "--no-open", "--path", str(db)], check=True, capture_output=True
        )
        url = ["--db", f"sqlite+aiosqlite:///{db}"]
        rows = {
            "python -c pass": timed([py, "-c", "pass"], rounds),
            "store imports (floor)": timed([py, "-c", STORE_FLOOR], rounds),
            "eager imports (before)": timed([py, "-c", EAGER], rounds),
            "--version": timed([*cli, "--version"], rounds),
            "get agents": timed([*cli, *url, "get", "agents"], rounds),
            "chat -m (echo)": timed([*cli, *url, "chat", "ops", "-m", "hi"], rounds),
            "TUI: import textual": timed([py, "-c", "import textual.app"], rounds),
            "TUI first paint (demo)": first_paint([*cli, *url], b"Health check", rounds),
        }
    floor = rows["python -c pass"]
    print(f"{'command':<24} {'ms':>8} {'x python':>9}")
    for name, ms in rows.items():
        print(f"{name:<24} {ms:8.1f} {ms / floor:9.2f}")
    ratio = rows["eager imports (before)"] / rows["--version"]
    print(f"--version is {ratio:.1f}x faster than importing every verb (the old start-up)")
    store = rows["store imports (floor)"]
    for verb in ("get agents", "chat -m (echo)"):
        print(f"{verb}: {rows[verb] / store:.2f}x the store imports alone")
    paint = rows["TUI first paint (demo)"]
    print(
        f"TUI first paint with the demo's agents and newest thread: {paint:.0f} ms "
        f"(target <= 500 ms); {paint / store:.2f}x the store imports alone"
    )


if __name__ == "__main__":
    main()
