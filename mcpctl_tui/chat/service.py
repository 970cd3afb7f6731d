"""ChatService: send a message to an agent, stream the reply, keep the thread.

A turn, as ``send`` runs it:
  1. ``prepare_context`` (4 reads) — bad input (unknown agent, thread or personality)
     raises here, before anything is written;
  2. a new thread if none was given (title from the first user message);
  3. the user turn and a ``pending`` assistant placeholder are stored BEFORE the request
     goes out (two appends; the placeholder reserves the reply's place in the thread, so
     a racing writer cannot slip in between question and answer, and a crashed process
     leaves a visible ``pending`` turn instead of nothing);
  4. ``TurnStarted`` (thread and message ids), then the deltas as they arrive;
  5. when the reply ends, ONE write fills the placeholder: ``complete``, ``error`` (with
     the message) or ``cancelled`` (task cancelled or the generator closed), the partial
     text kept in all three, with thinking, tool_calls, usage and timing; then
     ``TurnEnded`` (not for cancelled: a cancelled generator cannot yield).

Text is gathered as a list of parts joined once; nothing is written per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from mcpctl_tui.chat.context import ChatContext, ChatOverrides, prepare_context
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
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.secrets import KeyRefError, resolve_key_ref
from mcpctl_tui.store import queries
from mcpctl_tui.store.chat_queries import delete_turns_after, merge_agent_default_params
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.types import LlmKind, MessageRole, MessageStatus

log = logging.getLogger(__name__)

TITLE_LIMIT = 80
NOT_WIRED = "virtual LLM dispatcher not wired"


class VirtualDispatcher(Protocol):
    """The dispatch side of virtual LLMs, as the chat engine calls it.

    ``enqueue_infer_task`` queues ``request`` for the virtual LLM row ``llm_id`` and yields
    the same typed events as a public adapter, ending after exactly one ``Finish`` or
    ``StreamError`` (e.g. ``StreamError(OFFLINE, "publisher offline …")``). Closing the
    generator or cancelling the consuming task cancels the task.
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


@dataclass(slots=True)
class _Reply:
    """What the stream has produced so far (parts, not a growing string)."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tools: ToolCallAccumulator = field(default_factory=ToolCallAccumulator)
    input_tokens: int | None = None
    output_tokens: int | None = None
    ttft: float | None = None
    chunks: int = 0
    finish_reason: str | None = None
    error: StreamError | None = None


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
        self._client = http_client
        self._owns_client = http_client is None

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> ChatService:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            from mcpctl_tui.llm.http import make_client

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
        return await prepare_context(self.store, agent, thread_id, personality, overrides)

    # --- one inference, nothing stored ---------------------------------------------

    async def stream_inference(self, ctx: ChatContext) -> AsyncIterator[StreamEvent]:
        """The raw event stream for ``ctx`` (history already ends with the new turn).

        Never raises for configuration, provider or network trouble: those end the stream
        with a ``StreamError``. Only cancellation propagates.
        """
        request = ctx.request()
        if ctx.llm_kind == LlmKind.VIRTUAL:
            if self.virtual is None:
                yield StreamError(ErrorKind.CONFIG, f"{NOT_WIRED} (LLM {ctx.llm.name} is virtual)")
                return
            events = self.virtual.enqueue_infer_task(ctx.llm.id, request)
        else:
            from mcpctl_tui.llm.registry import get_adapter

            try:
                adapter = get_adapter(ctx.llm.type)
                # Resolved now, at call time, and held only in this request's Endpoint.
                api_key = resolve_key_ref(ctx.llm.api_key_ref)
            except (KeyRefError, ValueError) as exc:
                yield StreamError(ErrorKind.CONFIG, f"LLM {ctx.llm.name}: {exc}")
                return
            endpoint = Endpoint(ctx.llm.type, ctx.llm.url, ctx.llm.model, api_key)
            events = adapter.stream(endpoint, request, client=self._http())
        # aclosing: a consumer that stops early closes the HTTP response now, not at GC.
        async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
            async for event in stream:
                yield event

    # --- a stored turn ---------------------------------------------------------------

    async def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Send ``text`` to ``agent`` (id or name) and stream the stored reply.

        Raises before writing anything for bad input (``NotFound``, ``UnknownPersonality``).
        """
        t0 = time.perf_counter()
        ctx = await self.prepare(agent, thread_id, personality, overrides)
        new_thread = ctx.thread_id is None
        if ctx.thread_id is None:
            title = make_title(text)
            async with self.store.transaction() as s:
                tid = (await queries.create_thread(s, ctx.agent.id, title)).id
        else:
            tid, title = ctx.thread_id, ctx.thread_title or ""
        user = await queries.append_message(
            self.store,
            tid,
            queries.NewMessage(
                role=MessageRole.USER,
                content=text,
                personality=ctx.personality,
                model=ctx.llm.model,
            ),
        )
        ctx = ctx.with_message(Message(role=MessageRole.USER, content=text))
        async for event in self._reply(ctx, tid, title, new_thread, user.id, (), t0):
            yield event

    async def regenerate(
        self,
        thread_id: int,
        *,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Answer the thread's last user turn again: the turns after it are deleted (their
        ids are in ``TurnStarted.replaced_message_ids``) and a new reply is streamed."""
        t0 = time.perf_counter()
        async with self.store.session() as s:
            thread = await s.get(ChatThread, thread_id)
            if thread is None:
                raise NotFound("thread", thread_id)
            last_user = await _last_user_turn(s, thread_id)
            agent_id, title = thread.agent_id, thread.title
        if last_user is None:
            raise ChatError(f"thread {thread_id} has no user turn to answer again")
        # Validate the personality before deleting anything.
        await self.prepare(agent_id, thread_id, personality, overrides)
        replaced = await delete_turns_after(self.store, thread_id, last_user)
        ctx = await self.prepare(agent_id, thread_id, personality, overrides)
        async for event in self._reply(ctx, thread_id, title, False, None, tuple(replaced), t0):
            yield event

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
        assert ended is not None  # send always ends with TurnEnded unless cancelled
        return ended

    async def save_overrides(self, agent: int | str, overrides: ChatOverrides) -> dict[str, Any]:
        """``/save``: merge the per-call params into agent.default_params; the new params.

        Only params are saved; a per-call system replacement or append stays per-call
        (it is not a parameter, and editing the agent's prompt is the editor's job).
        """
        ctx = await self.prepare(agent)
        return await merge_agent_default_params(self.store, ctx.agent.id, overrides.params)

    # --- internals -------------------------------------------------------------------

    async def _reply(
        self,
        ctx: ChatContext,
        thread_id: int,
        title: str,
        new_thread: bool,
        user_message_id: int | None,
        replaced: tuple[int, ...],
        t0: float,
    ) -> AsyncIterator[ChatEvent]:
        placeholder = await queries.append_message(
            self.store,
            thread_id,
            queries.NewMessage(
                role=MessageRole.ASSISTANT,
                status=MessageStatus.PENDING,
                personality=ctx.personality,
                model=ctx.llm.model,
            ),
        )
        yield TurnStarted(
            thread_id=thread_id,
            thread_title=title,
            new_thread=new_thread,
            user_message_id=user_message_id,
            assistant_message_id=placeholder.id,
            agent=ctx.agent.name,
            personality=ctx.personality,
            model=ctx.llm.model,
            llm=ctx.llm.name,
            llm_kind=ctx.llm_kind,
            replaced_message_ids=replaced,
        )
        r = _Reply()
        try:
            async with contextlib.aclosing(self.stream_inference(ctx)) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        r.text.append(event.text)
                    elif isinstance(event, ThinkingDelta):
                        r.thinking.append(event.text)
                    elif isinstance(event, ToolCallDelta):
                        r.tools.add(event)
                    elif isinstance(event, Usage):
                        # Some providers send usage twice (Anthropic: cumulative); keep
                        # the latest value of each field.
                        if event.input_tokens is not None:
                            r.input_tokens = event.input_tokens
                        if event.output_tokens is not None:
                            r.output_tokens = event.output_tokens
                        yield event
                        continue
                    elif isinstance(event, Finish):
                        r.finish_reason = event.reason
                        break
                    elif isinstance(event, StreamError):
                        r.error = event
                        break
                    else:  # pragma: no cover - the union is closed
                        continue
                    r.chunks += 1
                    if r.ttft is None:
                        r.ttft = time.perf_counter()
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            await _shielded(self._finish(thread_id, placeholder.id, r, MessageStatus.CANCELLED, t0))
            raise
        except Exception as exc:  # a bug below us: record it on the turn, do not crash the UI
            log.exception("chat stream failed")
            r.error = StreamError(ErrorKind.PROTOCOL, f"internal error: {type(exc).__name__}")
        status = MessageStatus.ERROR if r.error is not None else MessageStatus.COMPLETE
        msg = await _shielded(self._finish(thread_id, placeholder.id, r, status, t0))
        yield msg

    async def _finish(
        self, thread_id: int, message_id: int, r: _Reply, status: MessageStatus, t0: float
    ) -> TurnEnded:
        now = time.perf_counter()
        text = "".join(r.text)
        thinking = "".join(r.thinking)
        tool_calls = r.tools.calls() or None
        ttft_ms = (r.ttft - t0) * 1000 if r.ttft is not None else None
        duration_ms = (now - t0) * 1000
        usage = (
            {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens}
            if r.input_tokens is not None or r.output_tokens is not None
            else None
        )
        error = r.error.message if r.error is not None else None
        if status == MessageStatus.CANCELLED:
            error = None
        await queries.finish_message(
            self.store,
            message_id,
            content=text,
            status=status,
            error=error,
            thinking=thinking or None,
            tool_calls=tool_calls,
            usage=usage,
            timing={"ttft_ms": ttft_ms, "duration_ms": duration_ms},
        )
        return TurnEnded(
            thread_id=thread_id,
            assistant_message_id=message_id,
            status=status,
            text=text,
            thinking=thinking,
            tool_calls=tool_calls,
            error=error,
            error_kind=r.error.kind if r.error is not None else None,
            finish_reason=r.finish_reason,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            ttft_ms=ttft_ms,
            duration_ms=duration_ms,
            chunks=r.chunks,
        )


async def _shielded(aw: Awaitable[TurnEnded]) -> TurnEnded:
    """Finish the write even if the caller is cancelled (again) while it runs."""
    return await asyncio.shield(aw)


async def _last_user_turn(s: Any, thread_id: int) -> int | None:
    for m in reversed(await queries.all_messages(s, thread_id)):
        if m.role == MessageRole.USER:
            return m.turn_index
    return None
