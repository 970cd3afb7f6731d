"""What really serves a published LLM on the provider's machine.

Two kinds: a public adapter (any type the adapter registry knows, with url/model/key ref)
or a local command that reads the request JSON on stdin and writes reply text to stdout
as it goes. Both are async generators of typed stream events that end with exactly one
``Finish`` or ``StreamError``; cancelling the consumer stops the upstream (the adapter
closes its HTTP response, the command is killed).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import httpx

from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    Waiting,
    WaitStage,
    first_byte_from,
)
from mcpctl_tui.llm.registry import UnknownLlmType, get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest
from mcpctl_tui.secrets import ANY_KEY_REF, KeyRefError, resolve_key_ref
from mcpctl_tui.virtual.codec import encode_request
from mcpctl_tui.virtual.provider_config import COMMAND_TYPE, UpstreamConfig

READ_SIZE = 65536


class Upstream(Protocol):
    def stream(self, request: InferenceRequest) -> AsyncIterator[StreamEvent]: ...


class AdapterUpstream:
    """A public wire format, reached from the provider's machine."""

    def __init__(self, config: UpstreamConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client

    async def stream(self, request: InferenceRequest) -> AsyncIterator[StreamEvent]:
        try:
            adapter = get_adapter(self.config.type)
        except UnknownLlmType as exc:
            yield StreamError(ErrorKind.CONFIG, f"upstream: {exc}")
            return
        try:
            # The provider's own file: the operator's references, not a shared store's.
            key = resolve_key_ref(self.config.api_key_ref, ANY_KEY_REF)
        except KeyRefError as exc:
            yield StreamError(ErrorKind.CONFIG, str(exc))
            return
        endpoint = Endpoint(self.config.type, self.config.url, self.config.model, key)
        yield first_byte_from(self.config.url)  # relayed: the caller shows what it waits for
        # aclosing: stopping here (a cancelled task) closes the HTTP response at once.
        async with contextlib.aclosing(
            adapter.stream(endpoint, request, client=self.client)
        ) as gen:  # type: ignore[type-var]
            async for event in gen:
                yield event


def _die_with_parent_fn() -> Callable[[], None] | None:
    """Linux: the command gets SIGKILL when the provider dies, even by kill -9 (which
    no cleanup of ours survives), so an upstream never outlives its provider. Resolved
    here, in the parent: the child only calls it between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigkill = 1, int(signal.SIGKILL)

    def die_with_parent() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return die_with_parent


_DIE_WITH_PARENT = _die_with_parent_fn()


class CommandUpstream:
    """A local program: request JSON on stdin, reply text on stdout as it is produced."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        self.argv = argv

    async def stream(self, request: InferenceRequest) -> AsyncIterator[StreamEvent]:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=_DIE_WITH_PARENT,
            )
        except OSError as exc:
            yield StreamError(
                ErrorKind.CONFIG, f"upstream command {self.argv[0]!r} cannot start: {exc.strerror}"
            )
            return
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        yield Waiting(WaitStage.FIRST_BYTE, f"command {os.path.basename(self.argv[0])}")
        stderr_task = asyncio.create_task(proc.stderr.read())
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(json.dumps(encode_request(request)).encode())
                await proc.stdin.drain()
                proc.stdin.close()
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            while True:
                data = await proc.stdout.read(READ_SIZE)
                if not data:
                    break
                text = decoder.decode(data)
                if text:
                    yield TextDelta(text)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield TextDelta(tail)
            code = await proc.wait()
            stderr = (await stderr_task).decode("utf-8", "replace").strip()
            if code == 0:
                yield Finish("stop")
            else:
                last = stderr.splitlines()[-1] if stderr else "no message on stderr"
                yield StreamError(
                    ErrorKind.PROVIDER, f"upstream command exited with status {code}: {last}"
                )
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())
            stderr_task.cancel()


def make_upstream(config: UpstreamConfig, client: httpx.AsyncClient | None = None) -> Upstream:
    if config.type == COMMAND_TYPE:
        return CommandUpstream(config.command)
    return AdapterUpstream(config, client)
