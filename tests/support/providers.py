"""Real processes for the virtual-LLM tests: provider sessions and a command upstream.

``ProviderProc`` runs ``python -m mcpctl_tui --db URL provider serve -f FILE`` as a
subprocess and waits for its READY line. ``python -m tests.support.providers upstream`` is a
``command:`` upstream: it reads the request JSON on stdin and writes reply text to stdout
as it goes. Its behaviour follows the request's params:

- ``cmd_chunks`` (int): write the last user message this many times, one write each;
- ``cmd_first_delay`` (seconds): pause before the first write;
- ``cmd_delay`` (seconds): pause between writes;
- ``cmd_exit`` (int): exit with this status after writing (stderr names it);
- ``cmd_pidfile`` (path): write its pid there first (tests check it was killed);
- ``cmd_hex`` (list of hex strings): write these raw bytes instead, one write each
  (invalid UTF-8, NUL, split sequences: untrusted output);
- ``cmd_big`` (int): then write this many bytes of ``x`` in one go (one very long line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT


def upstream_argv() -> list[str]:
    return [sys.executable, "-m", "tests.support.providers", "upstream"]


def write_provider_file(
    path: Path,
    llms: Sequence[str | dict[str, Any]],
    agents: Sequence[dict[str, Any]] = (),
    *,
    concurrency: int = 4,
    state_file: Path | None = None,
) -> Path:
    """A provider file; a plain name publishes an LLM served by the command upstream."""
    import yaml  # here, not at the top: the upstream command imports this module too

    items = [
        {"name": x, "upstream": {"command": upstream_argv()}} if isinstance(x, str) else x
        for x in llms
    ]
    doc: dict[str, Any] = {"llms": items, "concurrency": concurrency}
    if agents:
        doc["agents"] = list(agents)
    if state_file is not None:
        doc["session"] = {"stateFile": str(state_file)}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


class ProviderProc:
    """A provider session subprocess."""

    def __init__(
        self,
        db_url: str,
        provider_file: Path,
        *,
        heartbeat_interval: float = 0.5,
        heartbeat_timeout: float = 10.0,
        extra: Sequence[str] = (),
    ) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "mcpctl_tui",
            "--db",
            db_url,
            "provider",
            "serve",
            "-f",
            str(provider_file),
            "--heartbeat-interval",
            str(heartbeat_interval),
            "--heartbeat-timeout",
            str(heartbeat_timeout),
            "-v",
            *extra,
        ]
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    async def start(self, *, expect_ready: bool = True, within: float = 30.0) -> ProviderProc:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=str(REPO_ROOT),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        if expect_ready:
            ready = asyncio.create_task(self._ready.wait())
            exited = asyncio.create_task(self.proc.wait())
            done, _ = await asyncio.wait(
                [ready, exited], timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
            ready.cancel()
            exited.cancel()
            if ready not in done:
                await self.stop()
                raise AssertionError(f"provider did not get ready:\n{self.stderr}")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode("utf-8", "replace")
            self.stderr_lines.append(text)
            if text.strip() == "READY":
                self._ready.set()

    async def wait(self, within: float = 30.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(within):
            code = await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._reader
        return code

    async def terminate(self, sig: int = signal.SIGTERM, within: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await self.wait(within)

    async def kill(self) -> int:
        return await self.terminate(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await self.terminate(within=15)
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()

    async def __aenter__(self) -> ProviderProc:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def eventually(
    predicate: Callable[[], Awaitable[bool] | bool], within: float = 10.0, step: float = 0.02
) -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(step)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; read its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _upstream_main() -> int:
    request = json.load(sys.stdin)
    params = request.get("params") or {}
    pidfile = params.get("cmd_pidfile")
    if pidfile:
        Path(pidfile).write_text(str(os.getpid()))
    last = next(
        (m["content"] for m in reversed(request.get("messages", [])) if m["role"] == "user"), ""
    )
    chunks = int(params.get("cmd_chunks", 1))
    delay = float(params.get("cmd_delay", 0))
    out = sys.stdout.buffer
    time.sleep(float(params.get("cmd_first_delay", 0)))
    if "cmd_hex" in params:
        for piece in params["cmd_hex"]:
            out.write(bytes.fromhex(piece))
            out.flush()
        out.write(b"x" * int(params.get("cmd_big", 0)))
        out.flush()
        return 0
    for _ in range(chunks):
        out.write(last.encode())
        out.flush()
        if delay:
            time.sleep(delay)
    code = int(params.get("cmd_exit", 0))
    if code:
        print(f"upstream failing on purpose with {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    if sys.argv[1:] == ["upstream"]:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        sys.exit(_upstream_main())
    sys.exit(f"usage: {sys.argv[0]} upstream")
