"""A stored turn's streaming half: relay the reply's events, then store the reply once.

``ChatService`` begins a turn (its user side and a ``pending`` placeholder are stored,
see ``chat/service.py``) and hands the ``Begun`` turn to ``stream_turn``, which:
  1. yields ``TurnStarted`` (thread and message ids), then the deltas as they arrive,
     with a ``Waiting`` before the first (what the reply waits for: a public LLM's host
     from here, a virtual LLM's claim and upstream from its dispatcher);
  2. when the reply ends, fills the placeholder in ONE write: ``complete``, ``error``
     (with the message) or ``cancelled`` (task cancelled or the generator closed), the
     partial text kept in all three, with thinking, tool_calls, usage and timing; then
     yields ``TurnEnded`` (not for cancelled: a cancelled generator cannot yield).

The placeholder is filled whatever happens: a consumer that closes the generator right
after ``TurnStarted``, a cancellation (the write is shielded) or a bug below us (stored
as an ``error`` turn, not raised into the UI). Only ``Finish`` and ``StreamError`` end the
stream; they are folded into ``TurnEnded``, not yielded.

Text is gathered as a list of parts joined once; nothing is written per chunk. Each
event crosses one generator of ours (``stream_turn``) on top of the adapter's, and the
per-event loop allocates nothing of its own: keep it so (``bench/stream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcpctl_tui.chat.context import ChatContext
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.llm.events import (
    ErrorKind,
    Finish,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    Waiting,
    WaitStage,
    first_byte_from,
)
from mcpctl_tui.llm.request import Endpoint
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.errors import StoreUnavailable, TurnGone
from mcpctl_tui.store.messages import finish_message
from mcpctl_tui.store.types import MessageStatus

log = logging.getLogger(__name__)

_BLOCK = 512

DEFAULT_MAX_REPLY = 8 * 1024 * 1024  # characters of one reply (text and thinking)
DEFAULT_STORE_RETRY = 30.0  # seconds a finished reply keeps trying a store gone away


@dataclass(frozen=True, slots=True)
class TurnLimits:
    """What bounds one turn (the config file's ``max_reply_mib`` and ``store_retry``)."""

    max_reply: int = DEFAULT_MAX_REPLY  # characters of text and thinking
    store_retry: float = DEFAULT_STORE_RETRY


def too_long(limit: int) -> StreamError:
    return StreamError(
        ErrorKind.TOO_LONG,
        f"the reply passed {limit / 2**20:g} MiB ('max_reply_mib' in the config file); "
        "what came is kept, the rest was not read",
    )


@dataclass(frozen=True, slots=True)
class Begun:
    """A turn whose user side is stored: what the streaming half needs."""

    ctx: ChatContext  # history ends with the message to answer
    started: TurnStarted
    t0: float
    endpoint: Endpoint | None = None  # a public LLM's, its key resolved by the pre-check


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


async def stream_turn(
    store: Store,
    begin: Callable[[], Awaitable[Begun]],
    stream_inference: Callable[[ChatContext, Endpoint | None], AsyncIterator[StreamEvent]],
    limits: TurnLimits = TurnLimits(),
) -> AsyncGenerator[ChatEvent, None]:
    """Begin the turn (``begin`` stores its user side), stream the reply from
    ``stream_inference`` and store it as it ends: ``TurnStarted``, deltas, ``TurnEnded``.

    A reply past ``limits.max_reply`` characters (text and thinking) is not read further:
    the turn ends as an error with what came kept (an endless upstream stored 124 MB
    rows). A store that went away when the reply ends is tried again for
    ``limits.store_retry`` seconds (the finish is guarded: never written twice)."""
    max_reply = limits.max_reply
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
    size = 0  # characters of text in ``blocks`` and of thinking: ``max_reply`` bounds it
    finish: str | None = None
    error: StreamError | None = None
    status = MessageStatus.COMPLETE
    try:
        # Inside the try: a consumer that closes us right here still gets the
        # placeholder finished (as cancelled), never left pending.
        yield started
        if b.endpoint is not None and b.endpoint.url:
            # A virtual LLM's dispatcher and provider say what they wait for themselves.
            yield first_byte_from(b.endpoint.url)
        async with _closing(stream_inference(b.ctx, b.endpoint)) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    if len(text) == _BLOCK:
                        block = "".join(text)
                        blocks.append(block)
                        text.clear()
                        size += len(block)
                        if size > max_reply:
                            error = too_long(max_reply)
                            break
                elif isinstance(event, ThinkingDelta):
                    thinking.append(event.text)
                    size += len(event.text)
                    if size > max_reply:
                        error = too_long(max_reply)
                        break
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
                elif isinstance(event, Waiting):
                    yield event
                    continue
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
        retrying = asyncio.Event()
        finishing = asyncio.ensure_future(
            finish_turn(
                store,
                started,
                status,
                _all_of(blocks, text),
                thinking,
                tools,
                usage,
                first,
                chunks,
                finish,
                error,
                b.t0,
                limits.store_retry,
                retrying,
            )
        )
        if status == MessageStatus.CANCELLED:
            await settle(finishing, cancelled=True)  # and the cancellation goes on
    if await _store_away(finishing, retrying):
        try:
            yield STORE_WAIT  # the caller says so while the finish is tried again
        except GeneratorExit:  # closed meanwhile: the reply is still stored if it can be
            with contextlib.suppress(asyncio.CancelledError):
                await settle(finishing, cancelled=True)
            raise
    ended = await settle(finishing)
    yield ended


T = TypeVar("T")

STORE_WAIT = Waiting(WaitStage.STORE, "unavailable; the reply is kept")


async def _store_away(finishing: asyncio.Future[TurnEnded], retrying: asyncio.Event) -> bool:
    """Whether the finish found the store away (and is trying it again), else it ended."""
    waiter = asyncio.ensure_future(retrying.wait())
    try:
        either: list[asyncio.Future[Any]] = [finishing, waiter]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await settle(finishing, cancelled=True)  # stored if it can be, then cancelled
        raise
    finally:
        waiter.cancel()
    return not finishing.done()


def _all_of(blocks: list[str], text: list[str]) -> list[str]:
    """Every piece of the reply in one list (``blocks`` itself: the finish clears it)."""
    blocks.extend(text)
    text.clear()
    return blocks


FINISH_GRACE = 1.0  # seconds a cancelled reply waits for the store to take it


async def settle(finishing: asyncio.Future[T], *, cancelled: bool = False) -> T:
    """The stored turn: the reply is stored even if the caller is cancelled (again) now.

    A cancelled caller (``cancelled``: the turn is ending because it was) waits at most
    ``FINISH_GRACE`` for the write (Ctrl-C ends a process promptly even when the store
    hangs), then gets ``CancelledError(NOT_STORED)``: a caller that says "partial reply
    kept" reads the error's ``args`` first.
    """
    loop = asyncio.get_running_loop()
    # From the first cancellation on (already under way, or arriving while we wait).
    deadline: float | None = loop.time() + FINISH_GRACE if cancelled else None
    while not finishing.done():
        try:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait_for(asyncio.shield(finishing), left)
        except asyncio.CancelledError:
            deadline = deadline or loop.time() + FINISH_GRACE
        except TimeoutError:
            raise asyncio.CancelledError(NOT_STORED) from None
    ended = finishing.result()  # what the finish raised, if it did
    if deadline is not None and not cancelled:
        raise asyncio.CancelledError  # stored; the cancellation goes on
    return ended


NOT_STORED = "the reply was not stored: the store did not answer in time"


async def finish_turn(
    store: Store,
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
    store_retry: float = 0.0,
    retrying: asyncio.Event | None = None,
) -> TurnEnded:
    """Fill the turn's placeholder in one write and say how the turn ended; a store that
    is unavailable is tried again, backing off, for ``store_retry`` seconds (``retrying``
    is set as it starts to)."""
    duration_ms = (time.perf_counter() - t0) * 1000
    text = "".join(text_parts)
    text_parts.clear()  # the pieces go now: a long reply is held once, not twice
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
    kind = error.kind if message is not None and error is not None else None
    loop = asyncio.get_running_loop()
    give_up, delay = loop.time() + store_retry, 0.25
    try:
        while True:
            try:
                await finish_message(
                    store,
                    started.assistant_message_id,
                    started.thread_id,
                    started.assistant_turn_index,
                    content=text,
                    status=status,
                    error=message,
                    thinking=thinking or None,
                    tool_calls=tool_calls,
                    usage=usage,
                    timing={"ttft_ms": ttft_ms, "duration_ms": duration_ms},
                )
                break
            except StoreUnavailable as exc:
                if loop.time() + delay > give_up:
                    raise
                if delay == 0.25:  # said once, not at every try
                    log.warning("%s; the reply is kept and tried again", exc)
                    if retrying is not None:
                        retrying.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
    except TurnGone as gone:
        # The text stays with the caller (on screen, on stdout); the store has no place
        # for it any more, and the sender is told so.
        status, message, kind = MessageStatus.ERROR, str(gone), ErrorKind.STORE
    return TurnEnded(
        thread_id=started.thread_id,
        assistant_message_id=started.assistant_message_id,
        status=status,
        text=text,
        thinking=thinking,
        tool_calls=tool_calls,
        error=message,
        error_kind=kind,
        finish_reason=finish,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        ttft_ms=ttft_ms,
        duration_ms=duration_ms,
        chunks=chunks,
    )
