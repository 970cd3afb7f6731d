"""The dispatch side: send an inference to a virtual LLM through the store, stream it back.

``VirtualLlmService.enqueue_infer_task`` inserts an ``inference_task`` and yields the
same typed events as a public adapter while the provider's chunks land. It implements
the chat engine's ``VirtualDispatcher`` protocol, so
``ChatService(store, virtual=VirtualLlmService(store))`` chats with virtual LLMs like
with public ones.

Waking: on PostgreSQL one LISTEN connection per service routes NOTIFYs (per task id) to
the waiting generators; on SQLite the generator polls briefly. Either way it re-reads the
store after every wake, so a lost wake-up only costs a poll interval.

Nothing hangs: a publisher that is offline fails at once; a task nobody claims within
``claim_timeout`` fails; a provider that stops heartbeating mid-stream fails the task
after three missed beats of its published interval, at most ``heartbeat_timeout``
(store/liveness.py), with what it streamed kept; a caller that stops listening cancels
the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from mcpctl_tui.config import DEFAULT_HEARTBEAT_TIMEOUT, ConfigError, Settings, load_settings
from mcpctl_tui.llm.events import ErrorKind, StreamError, StreamEvent, Waiting, WaitStage
from mcpctl_tui.llm.request import InferenceRequest
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.listen import Listener
from mcpctl_tui.store.liveness import row_is_live
from mcpctl_tui.store.models import TASK_FINISHED, Llm, TaskStatus
from mcpctl_tui.store.types import LlmKind, LlmStatus, utcnow
from mcpctl_tui.virtual import task_rows
from mcpctl_tui.virtual.codec import CodecError, decode_event, encode_request, is_terminal
from mcpctl_tui.virtual.notify import CHUNK_CHANNEL, SqliteChangeWatch, wait_event
from mcpctl_tui.virtual.task_rows import LlmLiveness, store_reason

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    # No heartbeat for this long: the publisher is gone, whatever interval it published
    # (the GC's bound too; store/liveness.py).
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    # A task no provider claims within this long fails.
    claim_timeout: float = 60.0
    # SQLite: how often a waiting stream looks for new chunks.
    poll_interval: float = 0.004
    # ... growing while nothing arrives, up to this (a slow model costs fewer reads).
    max_poll_interval: float = 0.01
    # How often the task's status and the publisher's heartbeat are checked while
    # no chunk arrives (both backends).
    status_interval: float = 0.25
    # PostgreSQL: wake anyway this often in case a notification was lost.
    fallback_interval: float = 0.5
    # PostgreSQL: keep the LISTEN connection this long after the last stream ends (the
    # next turn then starts without LISTEN round trips).
    listen_linger: float = 30.0
    # Keep a task's chunks once its stream was read to the end (else they are dropped in
    # the background; the task row stays for the GC's finished-task bound).
    keep_chunks: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DispatchOptions:
        """Defaults, with the heartbeat and claim timeouts of the config file (if it is
        readable)."""
        if settings is None:
            try:
                settings = load_settings()
            except ConfigError:
                settings = Settings()
        return cls(
            heartbeat_timeout=settings.heartbeat_timeout, claim_timeout=settings.claim_timeout
        )


# Yielded once the task is queued; the provider that takes it relays what it waits for next.
CLAIM_WAIT = Waiting(WaitStage.CLAIM, "a provider")


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never seen"
    secs = max(0, int((utcnow() - when).total_seconds()))
    if secs < 120:
        span = f"{secs} s"
    elif secs < 7200:
        span = f"{secs // 60} min"
    else:
        span = f"{secs // 3600} h"
    return f"last seen {when.isoformat(timespec='seconds')} ({span} ago)"


def _offline(row: LlmLiveness) -> StreamError:
    return StreamError(
        ErrorKind.OFFLINE,
        f"publisher offline: virtual LLM {row.name} "
        f"(provider session {row.provider_session_id or '-'}) {_ago(row.last_heartbeat_at)}",
    )


class VirtualLlmService:
    """Dispatches inferences for kind=virtual LLMs to their provider sessions."""

    def __init__(self, store: Store, options: DispatchOptions | None = None) -> None:
        self.store = store
        self.options = options or DispatchOptions.from_settings()
        self._listener = Listener(store, (CHUNK_CHANNEL,))
        self._streams = 0
        self._linger: asyncio.Task[None] | None = None
        self._cleanup: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        if self._cleanup:
            await asyncio.gather(*self._cleanup, return_exceptions=True)
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        with contextlib.suppress(StoreError, SQLAlchemyError, OSError):
            await self._listener.close()

    async def _listen(self) -> None:
        # The LISTEN connection is held while streams are open and for a linger period
        # after, never longer: a service nobody closes (a one-shot CLI chat) keeps no
        # connection checked out once it is idle.
        self._streams += 1
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        try:
            await self._listener.start()
        except (StoreError, SQLAlchemyError, OSError) as exc:
            log.warning("LISTEN failed, polling instead: %s", exc)

    async def _unlisten(self) -> None:
        self._streams -= 1
        if self._streams == 0 and self._listener.active:
            self._linger = asyncio.create_task(self._close_after(self.options.listen_linger))

    async def _close_after(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            # Also on cancellation at loop shutdown, unless a new stream took it over.
            if self._streams == 0:
                with contextlib.suppress(Exception):
                    await self._listener.close()

    async def __aenter__(self) -> VirtualLlmService:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def _is_live(self, status: LlmStatus, last: datetime | None, interval: float | None) -> bool:
        return row_is_live(status, last, interval=interval, timeout=self.options.heartbeat_timeout)

    async def enqueue_infer_task(
        self, llm: int | Llm, request: InferenceRequest
    ) -> AsyncIterator[StreamEvent]:
        """Queue ``request`` for the virtual LLM ``llm`` (row or id) and stream the reply.

        Ends after exactly one ``Finish`` or ``StreamError``; never raises for a provider
        or store problem (only cancellation propagates, after the task is cancelled).
        """
        llm_id = llm if isinstance(llm, int) else llm.id
        await self._listen()
        wake = asyncio.Event()
        task_id: int | None = None
        finished = False
        try:
            try:
                # The liveness check and the insert are one statement (time to first
                # token); only a refusal pays for a second read, to say why.
                task_id = await task_rows.insert_task(
                    self.store,
                    llm_id,
                    encode_request(request),
                    live_within=self.options.heartbeat_timeout,
                )
                if task_id is None:
                    finished = True
                    yield await self._refusal(llm_id)
                    return
                self._listener.subscribe(CHUNK_CHANNEL, task_id, wake)
                yield CLAIM_WAIT
                async with contextlib.aclosing(self._follow(task_id, wake)) as events:
                    async for event in events:
                        if is_terminal(event):
                            finished = True
                        yield event
                        if finished:
                            return
            except (StoreError, SQLAlchemyError, OSError) as exc:
                finished = True  # nothing more to tell the provider through a failing store
                yield StreamError(ErrorKind.NETWORK, f"store unavailable: {store_reason(exc)}")
        finally:
            try:
                if task_id is not None:
                    self._listener.unsubscribe(CHUNK_CHANNEL, task_id, wake)
                    if not finished:
                        # The caller went away (cancel, aclose, break): stop the provider.
                        with contextlib.suppress(StoreError, SQLAlchemyError, OSError):
                            await asyncio.shield(
                                task_rows.finish_task(
                                    self.store,
                                    task_id,
                                    TaskStatus.CANCELLED,
                                    "cancelled by the caller",
                                )
                            )
                    elif not self.options.keep_chunks:
                        self._drop_chunks_later(task_id)
            finally:
                await self._unlisten()

    def _drop_chunks_later(self, task_id: int) -> None:
        # In the background: the caller has its last event and should not wait for this.
        async def drop() -> None:
            with contextlib.suppress(StoreError, SQLAlchemyError, OSError):
                await task_rows.delete_chunks(self.store, task_id)

        t = asyncio.create_task(drop())
        self._cleanup.add(t)
        t.add_done_callback(self._cleanup.discard)

    def refusal(self, row: LlmLiveness) -> StreamError | None:
        """Why an inference for ``row`` would be refused now (not virtual, or its publisher
        is offline), else None: the one rule, which the chat engine also asks before it
        stores anything (``ChatService`` refuses the send then; no empty thread is left)."""
        if row.kind != LlmKind.VIRTUAL:
            return StreamError(ErrorKind.CONFIG, f"LLM {row.name} is not a virtual LLM")
        return (
            None
            if self._is_live(row.status, row.last_heartbeat_at, row.heartbeat_interval)
            else _offline(row)
        )

    async def _refusal(self, llm_id: int) -> StreamError:
        """Why the task was not queued: no such LLM, not virtual, or its publisher is offline."""
        row = await task_rows.llm_liveness(self.store, llm_id)
        if row is None:
            return StreamError(ErrorKind.NOT_FOUND, f"LLM {llm_id} not found")
        # The insert's liveness check refused: offline, even if it beat just now.
        return self.refusal(row) or _offline(row)

    async def _follow(self, task_id: int, wake: asyncio.Event) -> AsyncGenerator[StreamEvent, None]:
        opts = self.options
        pg = self._listener.active
        wait = opts.fallback_interval if pg else opts.poll_interval
        last_seq = 0
        started = quiet_since = time.monotonic()
        next_check = started + opts.status_interval
        next_beat = started + opts.heartbeat_timeout / 6
        watch = None if pg else SqliteChangeWatch(self.store, force_every=opts.status_interval)
        # PostgreSQL: nothing can have landed before the NOTIFY that announces it.
        first = pg
        while True:
            if first:
                rows = []
                first = False
            elif watch is None or watch.changed():
                rows = await task_rows.read_chunks(self.store, task_id, last_seq)
            else:
                rows = []
            if not pg:
                # Fast until the first token (time to first token is what users feel),
                # then slower while a slow model thinks between tokens.
                if rows or (last_seq == 0 and time.monotonic() - started < 1.0):
                    wait = opts.poll_interval
                else:
                    wait = min(wait * 1.5, opts.max_poll_interval)
            if rows:
                quiet_since = time.monotonic()
            for seq, payload in rows:
                last_seq = seq
                for raw in payload:
                    try:
                        event = decode_event(raw)
                    except CodecError as exc:
                        event = StreamError(ErrorKind.PROTOCOL, str(exc))
                    yield event
                    if is_terminal(event):
                        return
            now = time.monotonic()
            if now >= next_beat:  # the provider stops a task nobody reads
                next_beat = now + opts.heartbeat_timeout / 6
                with contextlib.suppress(StoreError, SQLAlchemyError, OSError):
                    await task_rows.caller_beat(self.store, task_id)
            if not rows and now >= next_check:
                next_check = now + opts.status_interval
                failure = await self._check(task_id, now - started, now - quiet_since)
                if failure is not None:
                    # Chunks may have landed between the read and the check.
                    for _seq, payload in await task_rows.read_chunks(self.store, task_id, last_seq):
                        for raw in payload:
                            with contextlib.suppress(CodecError):
                                event = decode_event(raw)
                                yield event
                                if is_terminal(event):
                                    return
                    yield failure
                    return
            if pg:
                await wait_event(wake, max(0.001, min(wait, next_check - time.monotonic())))
            else:
                await asyncio.sleep(wait)

    async def _check(self, task_id: int, waited: float, silent: float) -> StreamError | None:
        """The error that ends this stream now, or None to keep waiting. ``silent``: for
        how long no chunk came; a running task quiet past the heartbeat timeout has
        stalled, whatever its session's liveness (a provider that lost the store
        mid-stream and gave the task up beats again once the store is back)."""
        state = await task_rows.task_state(self.store, task_id)
        if state is None:
            return StreamError(ErrorKind.PROVIDER, f"inference task {task_id} was deleted")
        if state.status in TASK_FINISHED:
            if state.status == TaskStatus.COMPLETED:
                return StreamError(ErrorKind.PROTOCOL, "task completed without a finish event")
            kind = ErrorKind.PROVIDER if state.status == TaskStatus.ERROR else ErrorKind.NETWORK
            return StreamError(kind, state.error or f"inference task {state.status.value}")
        llm_name = state.llm_name
        live = self._is_live(
            state.llm_status, state.llm_last_heartbeat_at, state.llm_heartbeat_interval
        )
        if state.status == TaskStatus.PENDING:
            if waited < self.options.claim_timeout:
                return None
            why = "publisher offline" if not live else "the provider is busy or not serving it"
            message = (
                f"no provider claimed the inference for virtual LLM {llm_name} within "
                f"{self.options.claim_timeout:g} s ({why}; provider session "
                f"{state.llm_session or '-'} {_ago(state.llm_last_heartbeat_at)})"
            )
            if await task_rows.finish_task(
                self.store, task_id, TaskStatus.ERROR, message, only_from=[TaskStatus.PENDING]
            ):
                return StreamError(ErrorKind.TIMEOUT, message)
            return None  # claimed just now
        # claimed or running: is its provider still alive, and still writing?
        stalled = state.status == TaskStatus.RUNNING and silent > self.options.heartbeat_timeout
        if live and state.llm_session == state.claimed_by and not stalled:
            return None
        if stalled:
            message = (
                f"provider session {state.claimed_by} of virtual LLM {llm_name} wrote "
                f"nothing for {silent:.0f} s mid-stream; gave the reply up"
            )
            if await task_rows.finish_task(
                self.store, task_id, TaskStatus.ERROR, message, only_from=[TaskStatus.RUNNING]
            ):
                return StreamError(ErrorKind.TIMEOUT, message)
            return None
        message = (
            f"provider session {state.claimed_by} of virtual LLM {llm_name} stopped "
            f"responding mid-stream ({_ago(state.llm_last_heartbeat_at)})"
        )
        if await task_rows.finish_task(
            self.store,
            task_id,
            TaskStatus.ERROR,
            message,
            only_from=[TaskStatus.CLAIMED, TaskStatus.RUNNING],
        ):
            return StreamError(ErrorKind.OFFLINE, message)
        return None
