"""The serving side: a provider session publishes LLMs and serves their inference tasks.

One process, three loops on one event loop:

- heartbeat: touches (and revives) the session's rows every ``heartbeat_interval``;
- claim: takes pending tasks of its own LLMs while a concurrency slot is free (woken by
  NOTIFY on PostgreSQL, short polling on SQLite) and serves each in its own task;
- watch: stops the upstream of any task the caller cancelled (or the GC failed).

Each served task streams its upstream's events into a ``ChunkWriter`` that batches them:
the first event is written at once (time to first token), and whatever arrives while a
write is in flight goes out in the next one, so the batch size follows the store's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from mcpctl_tui.config import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT
from mcpctl_tui.llm.events import ErrorKind, Finish, StreamError, StreamEvent
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreError
from mcpctl_tui.store.listen import Listener
from mcpctl_tui.store.models import TaskStatus
from mcpctl_tui.virtual import task_rows
from mcpctl_tui.virtual.codec import CodecError, clean_text, decode_request, encode_event
from mcpctl_tui.virtual.gc import GcBounds, sweep_forever
from mcpctl_tui.virtual.notify import (
    CANCEL_CHANNEL,
    TASK_CHANNEL,
    SqliteChangeWatch,
    sleep_unless,
    wait_event,
)
from mcpctl_tui.virtual.provider_config import COMMAND_TYPE, ProviderConfig
from mcpctl_tui.virtual.registration import (
    Offline,
    Registration,
    RegistrationRefused,
    go_offline,
    heartbeat,
    register,
)
from mcpctl_tui.virtual.task_rows import store_reason
from mcpctl_tui.virtual.upstream import Upstream, make_upstream

log = logging.getLogger(__name__)

WRITE_RETRIES = 5
GIVE_UP_RETRY_FOR = 3600.0  # seconds a given-up task keeps trying to be marked failed
_GIVEN_UP: set[asyncio.Task[None]] = set()  # those tries (referenced: not collected)
# Claim retries while the store is unreachable: 0.5 s, doubling, at most 10 s.
CLAIM_RETRY_MIN = 0.5
CLAIM_RETRY_MAX = 10.0


@dataclass(frozen=True, slots=True)
class ProviderOptions:
    # A foreign row whose heartbeat is older than this counts as gone (adoptable).
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    # SQLite has no NOTIFY: how often an idle provider looks for pending tasks.
    poll_interval: float = 0.005
    # How often running tasks are checked for a cancel (PostgreSQL also gets a NOTIFY).
    cancel_check_interval: float = 0.1
    # PostgreSQL: look anyway this often in case a notification was lost.
    fallback_interval: float = 1.0
    # Events per chunk row at most.
    max_batch: int = 4096
    # The lifecycle sweep this long-running process also runs (0: none).
    gc_interval: float = 60.0
    gc_bounds: GcBounds | None = None


class ChunkWriter:
    """Batches one task's events into ordered chunk rows; the last one finishes the task."""

    def __init__(
        self, store: Store, task_id: int, session_id: str, max_batch: int, after_seq: int = 0
    ) -> None:
        self._store = store
        self._task_id = task_id
        self._session_id = session_id
        self._max_batch = max_batch
        self._buf: list[list[Any]] = []
        self._final: tuple[TaskStatus, str | None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._seq = after_seq
        self.lost = False  # the task is no longer ours (cancelled, failed, taken back)
        self.chunks_written = 0
        self._runner = asyncio.create_task(self._run(), name=f"chunk-writer-{task_id}")

    @property
    def done(self) -> bool:
        return self._runner.done()

    @property
    def finished(self) -> bool:
        return self._final is not None

    def put(self, event: StreamEvent) -> bool:
        """Queue an event; False once the task is lost or already finished."""
        if self.lost or self._final is not None:
            return False
        self._buf.append(encode_event(event))
        if isinstance(event, Finish):
            self._final = (TaskStatus.COMPLETED, None)
        elif isinstance(event, StreamError):
            self._final = (TaskStatus.ERROR, clean_text(event.message))
        self._wake.set()
        return True

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buf:
                batch = self._buf[: self._max_batch]
                del self._buf[: self._max_batch]
                last = not self._buf and self._final is not None
                status, error = self._final if last and self._final else (None, None)
                ok = await self._append(batch, status, error)
                if not ok:
                    self.lost = True
                    return
                self._seq += 1
                self.chunks_written += len(batch)
            if self._closing or self._final is not None:
                return

    async def _append(
        self, batch: list[list[Any]], status: TaskStatus | None, error: str | None
    ) -> bool:
        # A store hiccup (PostgreSQL restart, a long SQLite lock) gets a few retries; after
        # that the task is failed if possible so its caller is not left waiting.
        for attempt in range(WRITE_RETRIES):
            try:
                return await task_rows.append_chunk(
                    self._store,
                    self._task_id,
                    self._session_id,
                    self._seq + 1,
                    batch,
                    final=status,
                    error=error,
                )
            except (StoreError, SQLAlchemyError, OSError) as exc:
                log.warning(
                    "task %d: chunk write failed (%s); retrying", self._task_id, store_reason(exc)
                )
                await asyncio.sleep(0.2 * (attempt + 1))
        # The task is given up; it is marked failed as soon as the store takes the write
        # (not left running under a session that beats again once the store is back).
        retry = asyncio.create_task(self._fail_when_back(), name=f"fail-{self._task_id}")
        _GIVEN_UP.add(retry)
        retry.add_done_callback(_GIVEN_UP.discard)
        return False

    async def _fail_when_back(self) -> None:
        delay = 0.5
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GIVE_UP_RETRY_FOR
        while loop.time() < deadline:
            try:
                await task_rows.finish_task(
                    self._store,
                    self._task_id,
                    TaskStatus.ERROR,
                    "provider could not write the reply to the store",
                    only_from=task_rows.SERVING_STATUSES,
                )
                return
            except (StoreError, SQLAlchemyError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        """Flush what is queued and stop."""
        self._closing = True
        self._wake.set()
        await self._runner

    async def abort(self) -> None:
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner


class ProviderSession:
    def __init__(
        self,
        store: Store,
        config: ProviderConfig,
        session_id: str,
        options: ProviderOptions | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.session_id = session_id
        self.options = options or ProviderOptions()
        self.registration: Registration | None = None
        self._upstreams: dict[int, Upstream] = {}
        self._serving: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(config.concurrency)
        self._claim_wake = asyncio.Event()
        self._cancel_wake = asyncio.Event()
        self._listener = Listener(store, (TASK_CHANNEL, CANCEL_CHANNEL))
        self._client: httpx.AsyncClient | None = None
        self.served = 0

    @property
    def llm_ids(self) -> list[int]:
        return list(self._upstreams)

    async def start(self) -> Registration:
        """Register the file's rows (or raise RegistrationRefused) and start listening."""
        if self._client is None and any(p.upstream.type != COMMAND_TYPE for p in self.config.llms):
            self._client = make_client()
        reg = await register(
            self.store,
            self.session_id,
            self.config,
            heartbeat_timeout=self.options.heartbeat_timeout,
        )
        self._apply(reg)
        await self._listener.start()
        self._listener.on_channel(TASK_CHANNEL, self._on_task)
        self._listener.on_channel(CANCEL_CHANNEL, self._on_cancel)
        return reg

    def _apply(self, reg: Registration) -> None:
        self.registration = reg
        by_name = {p.name: p for p in self.config.llms}
        self._upstreams = {
            llm_id: make_upstream(by_name[name].upstream, self._client)
            for name, llm_id in reg.llm_ids.items()
        }

    def _on_task(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            if int(payload) in self._upstreams:
                self._claim_wake.set()

    def _on_cancel(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            if int(payload) in self._serving:
                self._cancel_wake.set()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then go offline (rows inactive, tasks handed back)."""
        loops = [
            asyncio.create_task(self._heartbeat_loop(stop), name="provider-heartbeat"),
            asyncio.create_task(self._claim_loop(stop), name="provider-claim"),
            asyncio.create_task(self._watch_loop(stop), name="provider-watch"),
        ]
        if self.options.gc_interval > 0:
            bounds = self.options.gc_bounds or GcBounds(
                heartbeat_timeout=self.options.heartbeat_timeout
            )
            loops.append(
                asyncio.create_task(
                    sweep_forever(self.store, bounds, interval=self.options.gc_interval, stop=stop),
                    name="provider-gc",
                )
            )
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *loops], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            stop.set()
            stopper.cancel()
            await self.shutdown(loops)

    async def shutdown(self, loops: list[asyncio.Task[Any]] | None = None) -> Offline:
        # Rows go inactive and claimed tasks go back first ("at once"); the writers of
        # running tasks then find their tasks gone and stop.
        try:
            offline = await go_offline(self.store, self.session_id)
        except (StoreError, SQLAlchemyError, OSError) as exc:
            # The store is gone: the GC retires the rows once their heartbeat is stale.
            log.warning("could not mark the session offline: %s", store_reason(exc))
            offline = Offline(rows=0, requeued=0, failed=0)
        for t in [*(loops or []), *self._serving.values()]:
            t.cancel()
        await asyncio.gather(*(loops or []), *self._serving.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._listener.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        log.info(
            "provider %s offline: %d rows inactive, %d tasks requeued, %d failed",
            self.session_id,
            offline.rows,
            offline.requeued,
            offline.failed,
        )
        return offline

    # --- loops -----------------------------------------------------------------------

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        expected = (len(self.config.llms), len(self.config.agents))
        while not stop.is_set():
            await sleep_unless(stop, self.config.heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL)
            if stop.is_set():
                return
            try:
                await self._listener.ensure()
                beat = await heartbeat(self.store, self.session_id)
                if (beat.llms, beat.agents) != expected:
                    # A row was deleted by the GC or adopted: publish again.
                    try:
                        self._apply(
                            await register(
                                self.store,
                                self.session_id,
                                self.config,
                                heartbeat_timeout=self.options.heartbeat_timeout,
                            )
                        )
                    except RegistrationRefused as exc:
                        log.warning("%s", exc)
            except (StoreError, SQLAlchemyError, OSError) as exc:
                log.warning("heartbeat failed: %s", store_reason(exc))

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        sqlite = self.store.is_sqlite
        watch = SqliteChangeWatch(self.store) if sqlite else None
        retry = CLAIM_RETRY_MIN
        while not stop.is_set():
            idle_wait = (
                self.options.poll_interval
                if sqlite or not self._listener.active
                else self.options.fallback_interval
            )
            await self._slots.acquire()
            claimed = None
            try:
                ids = self.llm_ids
                if watch is None or (
                    watch.changed() and await task_rows.has_pending(self.store, ids)
                ):
                    claimed = await task_rows.claim_task(self.store, self.session_id, ids)
            except (StoreError, SQLAlchemyError, OSError) as exc:
                # The store is unreachable (or refusing): back off, keep trying, recover.
                self._slots.release()
                log.warning("claim failed (%s); retrying in %g s", store_reason(exc), retry)
                await sleep_unless(stop, retry)
                retry = min(retry * 2, CLAIM_RETRY_MAX)
                continue
            except BaseException:
                self._slots.release()
                raise
            retry = CLAIM_RETRY_MIN
            if claimed is None:
                self._slots.release()
                await wait_event(self._claim_wake, idle_wait)
                continue
            t = asyncio.create_task(self._serve_task(claimed), name=f"serve-{claimed.id}")
            self._serving[claimed.id] = t
            t.add_done_callback(functools.partial(self._task_done, claimed.id))

    def _task_done(self, task_id: int, _t: asyncio.Task[None]) -> None:
        self._serving.pop(task_id, None)
        self._slots.release()
        # A slot is free: look for more work at once.
        self._claim_wake.set()

    async def _watch_loop(self, stop: asyncio.Event) -> None:
        # Also: tasks whose caller stopped beating (killed without cancelling) are
        # cancelled here, checked a few times per heartbeat timeout.
        loop = asyncio.get_running_loop()
        next_unread_check = loop.time()
        while not stop.is_set():
            interval = (
                self.options.cancel_check_interval
                if self.store.is_sqlite or not self._listener.active
                else self.options.fallback_interval
            )
            await wait_event(self._cancel_wake, interval)
            if not self._serving:
                continue
            try:
                serving = list(self._serving)
                gone = await task_rows.not_serving(self.store, self.session_id, serving)
                if loop.time() >= next_unread_check:
                    next_unread_check = loop.time() + self.options.heartbeat_timeout / 6
                    gone += await task_rows.abandon_unread(
                        self.store, self.session_id, serving, self.options.heartbeat_timeout
                    )
            except (StoreError, SQLAlchemyError, OSError) as exc:
                log.warning("cancel check failed: %s", store_reason(exc))
                continue
            for task_id in gone:
                t = self._serving.get(task_id)
                if t is not None:
                    log.info("task %d cancelled; stopping its upstream", task_id)
                    t.cancel()

    async def _serve_task(self, claimed: task_rows.ClaimedTask) -> None:
        log.info("task %d (llm %d): claimed", claimed.id, claimed.llm_id)
        writer = ChunkWriter(
            self.store, claimed.id, self.session_id, self.options.max_batch, claimed.last_seq
        )
        try:
            try:
                request = decode_request(claimed.request)
            except CodecError as exc:
                writer.put(StreamError(ErrorKind.PROTOCOL, str(exc)))
                return
            upstream = self._upstreams.get(claimed.llm_id)
            if upstream is None:
                writer.put(StreamError(ErrorKind.CONFIG, "this provider no longer serves the LLM"))
                return
            gen = upstream.stream(request)
            try:
                async for event in gen:
                    if not writer.put(event) or writer.finished:
                        break
            except Exception as exc:  # an upstream bug must not take the provider down
                log.exception("upstream failed on task %d", claimed.id)
                writer.put(StreamError(ErrorKind.PROVIDER, f"provider upstream failed: {exc}"))
            finally:
                aclose = getattr(gen, "aclose", None)
                if aclose is not None:
                    await aclose()
            if not writer.finished and not writer.lost:
                writer.put(StreamError(ErrorKind.PROTOCOL, "upstream ended without a finish event"))
        except asyncio.CancelledError:
            await writer.abort()
            raise
        finally:
            if not writer.done:
                await writer.close()
            self.served += 1
            log.info(
                "task %d: %s after %d events",
                claimed.id,
                "stopped" if writer.lost else "done",
                writer.chunks_written,
            )
