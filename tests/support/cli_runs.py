"""Running the command line in tests: in-process through click, or as a real subprocess.

``invoke_cli`` runs ``mcpctl-tui --db URL ARGS…`` in this process (stdout and stderr kept
apart; it runs its own event loop, so an async test calls it through a thread).
``run_cli`` runs ``python -m mcpctl_tui`` as a subprocess to its end (60 s at most) and
``spawn_cli`` starts one for a test to drive (stdin, signals); without a URL there is no
``--db`` and the program resolves its database itself (config file, environment).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from click.testing import CliRunner
from click.testing import Result as InvokeResult

from mcpctl_tui.cli import main


def invoke_cli(url: str, *args: str, input: str | bytes | None = None) -> InvokeResult:
    """``mcpctl-tui --db URL ARGS…`` in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(main, ["--db", url, *args], input=input, catch_exceptions=False)


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_argv(url: str | None, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "mcpctl_tui", *(["--db", url] if url else []), *args]


# Root writes through any file mode: without these two capabilities it is held to the
# permission bits like any operator (and a non-root run needs nothing).
UNPRIVILEGED = (
    [
        "setpriv",
        "--inh-caps=-dac_override,-dac_read_search",
        "--bounding-set=-dac_override,-dac_read_search",
    ]
    if os.geteuid() == 0
    else []
)


async def run_cli(
    url: str | None,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    unprivileged: bool = False,
) -> Result:
    """``mcpctl-tui [--db URL] ARGS…`` as a subprocess, to its end; ``env`` adds to ours;
    ``unprivileged``: held to file permissions even when the tests run as root."""
    proc = await asyncio.create_subprocess_exec(
        *(UNPRIVILEGED if unprivileged else []),
        *cli_argv(url, args),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), 60
    )
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def spawn_cli(url: str | None, *args: str) -> asyncio.subprocess.Process:
    """``mcpctl-tui [--db URL] ARGS…`` started, its stdin, stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        *cli_argv(url, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
