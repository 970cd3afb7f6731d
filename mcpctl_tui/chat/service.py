"""ChatService: send a message to an agent, stream the reply, keep the thread.

A turn, as ``send`` runs it:
  1. ONE write transaction (``_begin_send``): ``prepare_context`` (three reads; bad
     input — unknown agent, thread or personality — raises here and the transaction rolls
     back, so nothing is written), ``admit`` (an LLM that cannot be asked now — key
     reference unresolved, publisher offline — raises ``Refused``, also with nothing
     written: no empty thread is left behind), a new thread if none was given (title from the first
     user message), the user turn and a ``pending`` placeholder for the reply. All of it
     is stored BEFORE the request goes out. The placeholder reserves the reply's place in
     the thread (a racing writer cannot slip in between question and answer; a collision
     on the turn index is retried) and a crashed process leaves a visible ``pending``
     turn rather than nothing;
  2. the streaming half (``chat/turn.py``): ``TurnStarted``, the deltas, the placeholder
     filled once as the reply ends, ``TurnEnded``.

Nothing stored is overwritten (store/branches.py): ``send`` with ``edit_turn`` asks an
edited question beside an earlier one, and ``regenerate`` answers a question again beside
its reply (the last one, or any with ``at_turn``); either starts a branch, in the same one
transaction as a send, so a refusal leaves the thread as it was.
``stream_inference`` is one inference with nothing stored; it never raises for
configuration, provider or network trouble, those end the stream with a ``StreamError``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import IntegrityError

from mcpctl_tui.chat.context import ChatContext, ChatOverrides, check_params, prepare_context
from mcpctl_tui.chat.errors import ChatError, Refused
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.chat.sanitize import one_line
from mcpctl_tui.chat.turn import (
    DEFAULT_MAX_REPLY,
    DEFAULT_STORE_RETRY,
    Begun,
    TurnLimits,
    stream_turn,
)
from mcpctl_tui.config import ConfigError, Settings, load_settings
from mcpctl_tui.llm.events import ErrorKind, StreamError, StreamEvent
from mcpctl_tui.llm.registry import get_adapter
from mcpctl_tui.llm.request import Endpoint, InferenceRequest, Message
from mcpctl_tui.secrets import DEFAULT_KEY_REFS, KeyRefError, resolve_key_ref
from mcpctl_tui.store.agents import merge_agent_default_params
from mcpctl_tui.store.branches import branch_beside, branch_from, last_question
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import NotFound
from mcpctl_tui.store.messages import NewMessage, insert_turns, lock_thread
from mcpctl_tui.store.models import ChatThread
from mcpctl_tui.store.rows import is_unique_violation
from mcpctl_tui.store.threads import create_thread, rename_thread
from mcpctl_tui.store.types import LlmKind, MessageRole, MessageStatus
from mcpctl_tui.virtual.dispatch import VirtualLlmService
from mcpctl_tui.virtual.task_rows import LlmLiveness

if TYPE_CHECKING:  # httpx loads with the first adapter that dials, not with the service
    import httpx

TITLE_LIMIT = 80
NOT_WIRED = "virtual LLM dispatcher not wired"
_BEGIN_ATTEMPTS = 5


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

    def refusal(self, row: LlmLiveness) -> StreamError | None:
        """Why ``row`` would be refused now (publisher offline …), else None."""


def make_title(text: str) -> str:
    """A thread title from the first user message: its first line, one line, bounded."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, TITLE_LIMIT)
    return "(empty message)"


async def _one(event: StreamEvent) -> AsyncGenerator[StreamEvent, None]:
    yield event


class ChatService:
    """The chat engine. One per process is enough; it owns an HTTP client unless given one."""

    def __init__(
        self,
        store: Store,
        *,
        virtual: VirtualDispatcher | None = None,
        http_client: httpx.AsyncClient | None = None,
        key_refs: Sequence[str] = DEFAULT_KEY_REFS,
        max_reply: int = DEFAULT_MAX_REPLY,
        store_retry: float = DEFAULT_STORE_RETRY,
    ) -> None:
        self.store = store
        self.key_refs = tuple(key_refs)  # the API key references this user resolves
        self.limits = TurnLimits(max_reply, store_retry)  # what bounds each turn
        self.virtual = virtual
        self._owns_virtual = False
        self._client = http_client
        self._owns_client = http_client is None

    @classmethod
    def wired(cls, store: Store, *, http_client: httpx.AsyncClient | None = None) -> ChatService:
        """A service that reaches public and virtual LLMs alike (it owns the dispatcher),
        resolving the key references the config file allows (the default if unreadable)."""
        try:
            settings = load_settings()
        except ConfigError:
            settings = Settings()
        service = cls(
            store,
            virtual=VirtualLlmService(store),
            http_client=http_client,
            key_refs=settings.key_refs,
            max_reply=int(settings.max_reply_mib * 2**20),
            store_retry=settings.store_retry,
        )
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
        """The context a message would be sent with (the UI previews it; nothing written)."""
        return await prepare_context(self.store, agent, thread_id, personality, overrides)

    async def list_models(self, llm_type: str, url: str, api_key_ref: str | None) -> list[str]:
        """The models a server offers (the LLM editor's "test connection"); nothing is
        stored. ``ModelListError`` or ``KeyRefError``, one line each."""
        endpoint = Endpoint(
            type=llm_type, url=url, model="", api_key=resolve_key_ref(api_key_ref, self.key_refs)
        )
        from mcpctl_tui.llm.models import list_models

        return await list_models(endpoint, client=self._http())

    # --- one inference, nothing stored ---------------------------------------------

    def admit(self, ctx: ChatContext) -> Endpoint | None:
        """The pre-check of a turn: raise ``Refused`` (one line) when ``ctx``'s LLM cannot
        be asked now: a virtual LLM with no dispatcher or an offline publisher (the
        dispatcher's own rule), a public one of unknown type or whose API key reference
        does not resolve. ``send`` and ``regenerate`` call it BEFORE anything is written,
        so a refused chat leaves no empty thread and no dangling user turn. For a public
        LLM it returns the endpoint, its key resolved once for the turn."""
        llm = ctx.llm
        if llm.kind != LlmKind.VIRTUAL:
            return self._endpoint(ctx)
        if self.virtual is None:
            raise Refused(f"{NOT_WIRED} (LLM {llm.name} is virtual)")
        why = self.virtual.refusal(llm.liveness())
        if why is not None:
            raise Refused(why.message, why.kind)
        return None

    def _endpoint(self, ctx: ChatContext) -> Endpoint:
        llm = ctx.llm
        try:
            get_adapter(llm.type)
            # Resolved now, at call time, and held only in this request's Endpoint.
            api_key = resolve_key_ref(llm.api_key_ref, self.key_refs)
        except (KeyRefError, ValueError) as exc:
            raise Refused(f"LLM {llm.name}: {exc}") from None
        return Endpoint(llm.type, llm.url, llm.model, api_key)

    def stream_inference(
        self, ctx: ChatContext, endpoint: Endpoint | None = None
    ) -> AsyncIterator[StreamEvent]:
        """The raw event stream for ``ctx`` (its history ends with the turn to answer);
        ``endpoint``: a public LLM's, from ``admit`` (else resolved here).

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
            endpoint = endpoint or self._endpoint(ctx)
        except Refused as exc:
            return _one(StreamError(exc.kind, str(exc)))
        adapter = get_adapter(endpoint.type)
        return adapter.stream(endpoint, request, client=self._http() if adapter.dials else None)

    # --- a stored turn ---------------------------------------------------------------

    def send(
        self,
        agent: int | str,
        text: str,
        *,
        thread_id: int | None = None,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        edit_turn: int | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Send ``text`` to ``agent`` (id or name) in ``thread_id`` (None: a new thread)
        and stream the stored reply: ``TurnStarted``, deltas, ``TurnEnded``. With
        ``edit_turn`` (a question of the thread) ``text`` is asked in its place, on a new
        branch; the turns that left the current path are in
        ``TurnStarted.replaced_message_ids``.

        Bad input raises from the first ``anext`` (``NotFound``, ``UnknownPersonality``,
        ``Invalid`` for a turn that is not a question) with nothing written.
        """
        if edit_turn is not None and thread_id is None:
            raise ChatError("editing a turn needs its thread")

        async def begin() -> Begun:
            t0 = time.perf_counter()
            for attempt in range(_BEGIN_ATTEMPTS):
                try:
                    return await self._begin_send(
                        agent, text, thread_id, personality, overrides, t0, edit_turn
                    )
                except IntegrityError as exc:  # a racing writer took the turn index
                    if not is_unique_violation(exc) or attempt == _BEGIN_ATTEMPTS - 1:
                        raise
            raise AssertionError("unreachable")

        return stream_turn(self.store, begin, self.stream_inference, self.limits)

    def regenerate(
        self,
        thread_id: int,
        *,
        personality: str | None = None,
        overrides: ChatOverrides | None = None,
        at_turn: int | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Answer the question of the reply ``at_turn`` again (None: the last question of
        the current path), with this personality and these overrides, on a new branch:
        the turns that left the current path are in ``TurnStarted.replaced_message_ids``
        (kept in the store) and a new reply is streamed."""

        async def begin() -> Begun:
            return await self._begin_regenerate(thread_id, at_turn, personality, overrides)

        return stream_turn(self.store, begin, self.stream_inference, self.limits)

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
        edit_turn: int | None,
    ) -> Begun:
        left: list[int] = []
        async with self.store.transaction() as s:
            if thread_id is not None and not await lock_thread(s, thread_id):
                raise NotFound("thread", thread_id)
            if thread_id is not None and edit_turn is not None:
                _, left = await branch_beside(s, thread_id, edit_turn, MessageRole.USER)
            ctx = await prepare_context(s, agent, thread_id, personality, overrides)
            # Before any write (a refusal rolls back to nothing). A keyring lookup here
            # holds SQLite's write lock for its few milliseconds; the key is then not
            # resolved again for the request.
            endpoint = self.admit(ctx)
            if ctx.thread_id is None:
                title = make_title(text)
                tid = (await create_thread(s, ctx.agent.id, title)).id
            else:
                tid, title = ctx.thread_id, ctx.thread_title or ""
            first = ctx.next_turn_index
            user_id, placeholder_id = await insert_turns(
                s,
                tid,
                first,
                [
                    NewMessage(
                        role=MessageRole.USER,
                        content=text,
                        personality=ctx.personality,
                        model=ctx.llm.model,
                    ),
                    self._placeholder(ctx),
                ],
                ctx.path_end,
            )
        ctx = ctx.with_message(Message(role=MessageRole.USER, content=text))
        started = self._started(
            ctx, tid, title, thread_id is None, user_id, placeholder_id, first + 1, left
        )
        return Begun(ctx, started, t0, endpoint)

    async def _begin_regenerate(
        self,
        thread_id: int,
        at_turn: int | None,
        personality: str | None,
        overrides: ChatOverrides | None,
    ) -> Begun:
        t0 = time.perf_counter()
        async with self.store.transaction() as s:
            if not await lock_thread(s, thread_id):
                raise NotFound("thread", thread_id)
            thread = await s.get(ChatThread, thread_id)
            assert thread is not None  # locked above, in this transaction
            if at_turn is not None:
                _, left = await branch_beside(s, thread_id, at_turn, MessageRole.ASSISTANT)
            else:
                question = await last_question(s, thread_id)
                if question is None:
                    raise ChatError(f"thread {thread_id} has no user turn to answer again")
                left = await branch_from(s, thread_id, question)
            ctx = await prepare_context(s, thread.agent_id, thread_id, personality, overrides)
            endpoint = self.admit(ctx)  # a refusal rolls the branch back: nothing changed
            index = ctx.next_turn_index
            (placeholder_id,) = await insert_turns(
                s, thread_id, index, [self._placeholder(ctx)], ctx.path_end
            )
        started = self._started(
            ctx, thread_id, thread.title, False, None, placeholder_id, index, left
        )
        return Begun(ctx, started, t0, endpoint)

    @staticmethod
    def _placeholder(ctx: ChatContext) -> NewMessage:
        return NewMessage(
            role=MessageRole.ASSISTANT,
            status=MessageStatus.PENDING,
            personality=ctx.personality,
            model=ctx.llm.model,
            llm=ctx.llm.name,
        )

    @staticmethod
    def _started(
        ctx: ChatContext,
        thread_id: int,
        title: str,
        new_thread: bool,
        user_id: int | None,
        assistant_id: int,
        assistant_index: int,
        replaced: list[int] | None = None,
    ) -> TurnStarted:
        return TurnStarted(
            thread_id=thread_id,
            thread_title=title,
            new_thread=new_thread,
            user_message_id=user_id,
            assistant_message_id=assistant_id,
            assistant_turn_index=assistant_index,
            agent=ctx.agent.name,
            personality=ctx.personality,
            model=ctx.llm.model,
            llm=ctx.llm.name,
            llm_kind=ctx.llm_kind,
            prices=ctx.llm.prices,
            replaced_message_ids=tuple(replaced or ()),
        )
