"""ChatService: send a message to an agent, stream the reply, keep the thread.

A turn, as ``send`` runs it:
  1. ONE write transaction: ``prepare_context`` (three reads; bad input — unknown agent,
     thread or personality — raises here and the transaction rolls back, so nothing is
     written), a new thread if none was given (title from the first user message), the
     user turn and a ``pending`` placeholder for the reply. All of it is stored BEFORE the
     request goes out. The placeholder reserves the reply's place in the thread (a racing
     writer cannot slip in between question and answer) and a crashed process leaves a
     visible ``pending`` turn rather than nothing;
  2. ``TurnStarted`` (thread and message ids), then the deltas as they arrive;
  3. when the reply ends, ONE write fills the placeholder: ``complete``, ``error`` (with
     the message) or ``cancelled`` (task cancelled or the generator closed), the partial
     text kept in all three, with thinking, tool_calls, usage and timing; then
     ``TurnEnded`` (not for cancelled: a cancelled generator cannot yield).

Text is gathered as a list of parts joined once; nothing is written per chunk. Each
event crosses one generator of ours (``_turn``) on top of the adapter's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy.exc import IntegrityError

from mcpctl_tui.chat.context import ChatContext, ChatOverrides, check_params, prepare_context
from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.chat.sanitize import one_line
from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from mcpctl_tui.llm.http import make_client
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.secrets import KeyRefError, resolve_key_ref
from mcpctl_tui.store.agents import merge_agent_default_params
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.messages import (
    NewMessage,
    all_messages,
    delete_turns_after,
    finish_message,
    insert_turns,
    lock_thread,
)
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.rows import is_unique_violation
from mcpctl_tui.store.threads import create_thread, rename_thread
from mcpctl_tui.store.types import LlmKind, MessageRole, MessageStatus
from mcpctl_tui.virtual.dispatch import VirtualLlmService

log = logging.getLogger(__name__)

TITLE_LIMIT = 80
NOT_WIRED = "virtual LLM dispatcher not wired"
_BEGIN_ATTEMPTS = 5
_BLOCK = 512


class VirtualDispatcher(Protocol):
    """The dispatch side of virtual LLMs, as the chat engine calls it.

    ``enqueue_infer_task`` queues ``request`` for the virtual LLM row ``llm_id`` and yields
    the same typed events as a public adapter, ending after exactly one ``Finish`` or
    ``StreamError`` (e.g. ``StreamError(OFFLINE, "publisher offline …")``). Closing the
    generator (``aclose``) or cancelling the consuming task cancels the task.
    """

    def enqueue_infer_task(
        self, llm_id: int, request: InferenceRequest
    ) -> AsyncIterator[StreamEvent]: ...


def make_title(text: str) -> str:
    """A thread title from the first user message: its first line, one line, bounded."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, TITLE_LIMIT)
    return "(empty message)"


async def _one(event: StreamEvent) -> AsyncGenerator[StreamEvent, None]:
    yield event


@contextlib.asynccontextmanager
async def _closing(events: AsyncIterator[StreamEvent]) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    """Close the adapter's generator on the way out (a consumer that stops early closes
    the HTTP response now, not when the GC finalises the generator)."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True, slots=True)
class _Begun:
    """A turn whose user side is stored: what the streaming half needs."""

    ctx: ChatContext  # history ends with the message to answer
    started: TurnStarted
    t0: float


class ChatService:
    """The chat engine. One per process is enough; it owns an HTTP client unless given one."""

    def __init__(
        self,
        store: Store,
        *,
        virtual: VirtualDispatcher | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.virtual = virtual
        self._owns_virtual = False
        self._client = http_client
        self._owns_client = http_client is None

    @classmethod
    def wired(cls, store: Store, *, http_client: httpx.AsyncClient | None = None) -> ChatService:
        """A service that reaches public and virtual LLMs alike (it owns the dispatcher)."""
        service = cls(store, virtual=VirtualLlmService(store), http_client=http_client)
        service._owns_virtual = True
        return service

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._owns_virtual and self.virtual is not None:
            closer = getattr(self.virtual, "aclose", None)
            if closer is not None:
                await closer()

    async def __aenter__(self) -> ChatService:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client()
        return self._client

    # --- context -------------------------------------------------------------------

    async def prepare(
        self,
        agent: int | str,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> ChatContext:
        """The context a message would be sent with (the UI previews it; nothing written)."""
        return await prepare_context(self.store, agent, thread_id, personality, overrides)

    # --- one inference, nothing stored ---------------------------------------------

    def stream_inference(self, ctx: ChatContext) -> AsyncIterator[StreamEvent]:
        """The raw event stream for ``ctx`` (its history ends with the turn to answer).

        Never raises for configuration, provider or network trouble: those end the stream
        with a ``StreamError`` (a missing API key names its reference; a virtual LLM with
        no dispatcher says "virtual LLM dispatcher not wired"). Only cancellation
        propagates. The adapter's own generator is returned, not wrapped (one layer less
        per event on the hot path).
        """
        request = ctx.request()
        if ctx.llm_kind == LlmKind.VIRTUAL:
            if self.virtual is None:
                return _one(
                    StreamError(ErrorKind.CONFIG, f"{NOT_WIRED} (LLM {ctx.llm.name} is virtual)")
                )
            return self.virtual.enqueue_infer_task(ctx.llm.id, request)
        try:
            adapter = get_adapter(ctx.llm.type)
            # Resolved now, at call time, and held only in this request's Endpoint.
            api_key = resolve_key_ref(ctx.llm.api_key_ref)
        except (KeyRefError, ValueError) as exc:
            return _one(StreamError(ErrorKind.CONFIG, f"LLM {ctx.llm.name}: {exc}"))
        endpoint = Endpoint(ctx.llm.type, ctx.llm.url, ctx.llm.model, api_key)
        return adapter.stream(endpoint, request, client=self._http())

    # --- a stored turn ---------------------------------------------------------------

    def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Send ``text`` to ``agent`` (id or name) in ``thread_id`` (None: a new thread)
        and stream the stored reply: ``TurnStarted``, deltas, ``TurnEnded``.

        Bad input raises from the first ``anext`` (``NotFound``, ``UnknownPersonality``)
        with nothing written.
        """

        async def begin() -> _Begun:
            t0 = time.perf_counter()
            for attempt in range(_BEGIN_ATTEMPTS):
                try:
                    return await self._begin_send(
                        agent, text, thread_id, personality, overrides, t0
                    )
                except IntegrityError as exc:  # a racing writer took the turn index
                    if not is_unique_violation(exc) or attempt == _BEGIN_ATTEMPTS - 1:
                        raise
            raise AssertionError("unreachable")

        return self._turn(begin)

    def regenerate(
        self,
        thread_id: int,
        *,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Answer the thread's last user turn again: the turns after it are deleted (their
        ids are in ``TurnStarted.replaced_message_ids``) and a new reply is streamed."""

        async def begin() -> _Begun:
            return await self._begin_regenerate(thread_id, personality, overrides)

        return self._turn(begin)

    async def run_one_inference(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> TurnEnded:
        """``send`` without streaming: the whole reply, stored, as its ``TurnEnded``."""
        ended: TurnEnded | None = None
        async for event in self.send(
            agent, text, thread_id=thread_id, personality=personality, overrides=overrides
        ):
            if isinstance(event, TurnEnded):
                ended = event
        assert ended is not None  # a turn that is not cancelled always ends with TurnEnded
        return ended

    async def save_overrides(self, agent: int | str, overrides: ChatOverrides) -> dict[str, Any]:
        """``/save``: merge the per-call params into agent.default_params; the new params.

        Only params are saved; a per-call system replacement or append stays per-call
        (it is not a parameter, and editing the agent's prompt is the editor's job).
        """
        check_params(overrides.params)  # a literal key or NaN must not reach default_params
        ctx = await self.prepare(agent)
        return await merge_agent_default_params(self.store, ctx.agent.id, overrides.params)

    async def rename_thread(self, thread_id: int, title: str) -> None:
        """Give a thread a new title (``/save TITLE``); renaming is not a turn."""
        async with self.store.transaction() as s:
            await rename_thread(s, thread_id, title)

    # --- internals -------------------------------------------------------------------

    async def _begin_send(
        self,
        agent: int | str,
        text: str,
        thread_id: int | None,
        personality: str | None,
        overrides: ChatOverrides | None,
        t0: float,
    ) -> _Begun:
        async with self.store.transaction() as s:
            if thread_id is not None and not await lock_thread(s, thread_id):
                raise NotFound("thread", thread_id)
            ctx = await prepare_context(s, agent, thread_id, personality, overrides)
            if ctx.thread_id is None:
                title = make_title(text)
                tid = (await create_thread(s, ctx.agent.id, title)).id
            else:
                tid, title = ctx.thread_id, ctx.thread_title or ""
            user_id, placeholder_id = await insert_turns(
                s,
                tid,
                ctx.next_turn_index,
                [
                    NewMessage(
                        role=MessageRole.USER,
                        content=text,
                        personality=ctx.personality,
                        model=ctx.llm.model,
                    ),
                    self._placeholder(ctx),
                ],
            )
        ctx = ctx.with_message(Message(role=MessageRole.USER, content=text))
        started = self._started(ctx, tid, title, thread_id is None, user_id, placeholder_id)
        return _Begun(ctx, started, t0)

    async def _begin_regenerate(
        self, thread_id: int, personality: str | None, overrides: ChatOverrides | None
    ) -> _Begun:
        t0 = time.perf_counter()
        async with self.store.session() as s:
            thread = await s.get(ChatThread, thread_id)
            if thread is None:
                raise NotFound("thread", thread_id)
            agent_id, title = thread.agent_id, thread.title
            last_user = next(
                (
                    m.turn_index
                    for m in reversed(await all_messages(s, thread_id))
                    if m.role == MessageRole.USER
                ),
                None,
            )
        if last_user is None:
            raise ChatError(f"thread {thread_id} has no user turn to answer again")
        # Validate the personality before deleting anything.
        await self.prepare(agent_id, thread_id, personality, overrides)
        replaced = await delete_turns_after(self.store, thread_id, last_user)
        async with self.store.transaction() as s:
            await lock_thread(s, thread_id)
            ctx = await prepare_context(s, agent_id, thread_id, personality, overrides)
            (placeholder_id,) = await insert_turns(
                s, thread_id, ctx.next_turn_index, [self._placeholder(ctx)]
            )
        started = self._started(ctx, thread_id, title, False, None, placeholder_id, replaced)
        return _Begun(ctx, started, t0)

    @staticmethod
    def _placeholder(ctx: ChatContext) -> NewMessage:
        return NewMessage(
            role=MessageRole.ASSISTANT,
            status=MessageStatus.PENDING,
            personality=ctx.personality,
            model=ctx.llm.model,
        )

    @staticmethod
    def _started(
        ctx: ChatContext,
        thread_id: int,
        title: str,
        new_thread: bool,
        user_id: int | None,
        assistant_id: int,
        replaced: list[int] | None = None,
    ) -> TurnStarted:
        return TurnStarted(
            thread_id=thread_id,
            thread_title=title,
            new_thread=new_thread,
            user_message_id=user_id,
            assistant_message_id=assistant_id,
            agent=ctx.agent.name,
            personality=ctx.personality,
            model=ctx.llm.model,
            llm=ctx.llm.name,
            llm_kind=ctx.llm_kind,
            replaced_message_ids=tuple(replaced or ()),
        )

    async def _turn(
        self, begin: Callable[[], Awaitable[_Begun]]
    ) -> AsyncGenerator[ChatEvent, None]:
        b = await begin()
        started = b.started
        # The hot loop: locals, no per-event allocation of ours, parts joined once.
        # Deltas go to ``text``; every BLOCK of them is joined into one string in
        # ``blocks``: linear time (each character is copied twice) and memory near the
        # reply's own size, instead of one str object (~50 bytes) per delta.
        text: list[str] = []
        blocks: list[str] = []
        thinking: list[str] = []
        tools = ToolCallAccumulator()
        usage: list[int | None] = [None, None]  # input, output: the latest of each
        first: float | None = None
        chunks = 0
        finish: str | None = None
        error: StreamError | None = None
        status = MessageStatus.COMPLETE
        try:
            # Inside the try: a consumer that closes us right here still gets the
            # placeholder finished (as cancelled), never left pending.
            yield started
            async with _closing(self.stream_inference(b.ctx)) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                        if len(text) == _BLOCK:
                            blocks.append("".join(text))
                            text.clear()
                    elif isinstance(event, ThinkingDelta):
                        thinking.append(event.text)
                    elif isinstance(event, ToolCallDelta):
                        tools.add(event)
                    elif isinstance(event, Usage):
                        # Some providers send usage more than once (Anthropic: cumulative).
                        if event.input_tokens is not None:
                            usage[0] = event.input_tokens
                        if event.output_tokens is not None:
                            usage[1] = event.output_tokens
                        yield event
                        continue
                    elif isinstance(event, Finish):
                        finish = event.reason
                        break
                    else:  # StreamError
                        error = event
                        break
                    chunks += 1
                    if first is None:
                        first = time.perf_counter()
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            status = MessageStatus.CANCELLED
            raise
        except Exception as exc:  # a bug below us: record it on the turn, do not crash the UI
            log.exception("chat stream failed")
            error = StreamError(ErrorKind.PROTOCOL, f"internal error: {type(exc).__name__}")
        finally:
            if error is not None and status != MessageStatus.CANCELLED:
                status = MessageStatus.ERROR
            # Shielded: the reply is stored even if the caller is cancelled (again) now.
            ended = await asyncio.shield(
                self._finish(
                    started,
                    status,
                    [*blocks, *text],
                    thinking,
                    tools,
                    usage,
                    first,
                    chunks,
                    finish,
                    error,
                    b.t0,
                )
            )
        yield ended

    async def _finish(
        self,
        started: TurnStarted,
        status: MessageStatus,
        text_parts: list[str],
        thinking_parts: list[str],
        tools: ToolCallAccumulator,
        usage_pair: list[int | None],
        first: float | None,
        chunks: int,
        finish: str | None,
        error: StreamError | None,
        t0: float,
    ) -> TurnEnded:
        duration_ms = (time.perf_counter() - t0) * 1000
        text = "".join(text_parts)
        thinking = "".join(thinking_parts)
        tool_calls = tools.result() if tools else None
        ttft_ms = (first - t0) * 1000 if first is not None else None
        input_tokens, output_tokens = usage_pair
        usage = (
            {"input_tokens": input_tokens, "output_tokens": output_tokens}
            if input_tokens is not None or output_tokens is not None
            else None
        )
        message = error.message if error is not None and status == MessageStatus.ERROR else None
        await finish_message(
            self.store,
            started.assistant_message_id,
            content=text,
            status=status,
            error=message,
            thinking=thinking or None,
            tool_calls=tool_calls,
            usage=usage,
            timing={"ttft_ms": ttft_ms, "duration_ms": duration_ms},
        )
        return TurnEnded(
            thread_id=started.thread_id,
            assistant_message_id=started.assistant_message_id,
            status=status,
            text=text,
            thinking=thinking,
            tool_calls=tool_calls,
            error=message,
            error_kind=error.kind if message is not None and error is not None else None,
            finish_reason=finish,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            ttft_ms=ttft_ms,
            duration_ms=duration_ms,
            chunks=chunks,
        )
