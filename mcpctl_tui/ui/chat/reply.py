"""One reply as the chat panel runs it: the engine's events into the live turn.

The engine (``ChatService``) stores the turn; this shows it. Text goes to the turn's
Markdown stream as it arrives; tool-call fragments are merged by the engine's own
``ToolCallAccumulator``, so a turn reads the same live and reloaded; the figures go to
the status line. However the reply ends (finished, refused, failed, cancelled by Esc),
``run`` closes the engine's generator (which stores a cancelled turn as cancelled, its
partial text kept), marks the turn as the store has it and reports the end to the host.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mcpctl_tui.chat.errors import ChatError
from mcpctl_tui.chat.events import ChatEvent, TurnEnded, TurnStarted
from mcpctl_tui.llm.events import (
    ErrorKind,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    Waiting,
    WaitStage,
)
from mcpctl_tui.llm.tools import ToolCallAccumulator
from mcpctl_tui.store.types import MessageStatus
from mcpctl_tui.ui.chat.stream import CoalescingMarkdownStream
from mcpctl_tui.ui.chat.turns import AssistantTurn, ReplyMarkdown, UserTurn
from mcpctl_tui.ui.data import StoreError, StoreUnavailable
from mcpctl_tui.ui.state import ReplyStats
from mcpctl_tui.ui.text import clean

_STATE = {
    MessageStatus.COMPLETE: "done",
    MessageStatus.CANCELLED: "cancelled",
    MessageStatus.ERROR: "error",
}


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    status: MessageStatus
    error: str | None  # as stored (the engine's message), else what failed here
    began: bool  # the engine stored the user turn: False means nothing was written
    text: str  # the reply's text as shown
    offline: bool  # the virtual LLM's publisher never answered
    # The store was away before anything was written (and nothing can have landed):
    # the same send may go again when it is back.
    store_away: bool = False

    @property
    def unanswered(self) -> bool:
        """Nothing was written, or nothing came back: the question may be typed again."""
        return not self.began or (self.offline and not self.text)


class ReplyHost(Protocol):
    """What the panel does as a reply goes."""

    def reply_started(self, started: TurnStarted) -> None: ...

    def reply_stats(self, stats: ReplyStats) -> None: ...


class Reply:
    """The live turn of one send or regenerate, fed by ``run``."""

    def __init__(
        self, turn: AssistantTurn, host: ReplyHost, *, asked: UserTurn | None = None
    ) -> None:
        self.turn = turn
        self.asked = asked  # the question shown with it (None: a regenerate)
        self.host = host
        self.stream: CoalescingMarkdownStream = ReplyMarkdown.get_stream(turn.markdown)
        self.stats = ReplyStats(state="streaming")
        self.end: ReplyEnd | None = None  # set once the reply ended, however it ended

    def _set_stats(self, stats: ReplyStats) -> None:
        self.stats = stats
        self.host.reply_stats(stats)

    def _answered(self) -> None:
        """Something came back: the wait is over."""
        if self.stats.waiting:
            self._set_stats(replace(self.stats, waiting="", since=None))

    async def run(self, events: AsyncIterator[ChatEvent]) -> None:
        """Show ``events`` until they end; ``end`` then says how (also when cancelled,
        which propagates once the turn is marked)."""
        started = time.monotonic()
        first: float | None = None  # ms to the first text: on the status line at the end
        tools = ToolCallAccumulator()
        ended: TurnEnded | None = None
        failure: str | None = None
        status = MessageStatus.CANCELLED  # unless the engine says how it ended
        began = False
        store_away = False
        usage: tuple[int | None, int | None] = (None, None)
        self._set_stats(self.stats)
        try:
            async for event in events:
                match event:
                    case TextDelta(text=text):
                        if first is None:
                            first = (time.monotonic() - started) * 1000
                            self._answered()
                        self.stream.feed(clean(text))
                    case Waiting(stage=WaitStage.STORE) as waiting:  # the reply came
                        self._set_stats(
                            replace(
                                self.stats,
                                state="store unavailable",
                                waiting=clean(waiting.label),
                                since=time.monotonic(),
                            )
                        )
                    case Waiting() as waiting:
                        self._set_stats(
                            replace(self.stats, waiting=clean(waiting.label), since=started)
                        )
                    case TurnStarted() as turn_started:
                        began = True
                        self.turn.turn_index = turn_started.assistant_turn_index
                        if self.asked is not None:
                            self.asked.turn_index = turn_started.assistant_turn_index - 1
                        self.turn.model = turn_started.model or None
                        self.turn.personality = turn_started.personality
                        self.turn.set_status(MessageStatus.PENDING)
                        self.stats = replace(self.stats, prices=turn_started.prices)
                        self.host.reply_started(turn_started)
                    case ToolCallDelta() as delta:
                        self._answered()
                        tools.add(delta)
                    case ThinkingDelta():
                        self._answered()
                    case Usage(input_tokens=inp, output_tokens=out):
                        usage = (inp, out)
                    case TurnEnded() as turn_ended:
                        ended, status = turn_ended, turn_ended.status
                    case _:
                        pass
        except StoreUnavailable as exc:
            status, failure = MessageStatus.ERROR, str(exc)
            store_away = not began and exc.retryable
        except (ChatError, StoreError) as exc:
            status, failure = MessageStatus.ERROR, str(exc)
        except Exception as exc:  # a bug below us: shown on the turn, never a crash
            status, failure = MessageStatus.ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            # Runs on Esc too (the worker is cancelled): closing the engine's generator
            # stores the turn as cancelled; the partial reply stays on screen, marked.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            self.stats = replace(
                self.stats, ttft_ms=first, input_tokens=usage[0], output_tokens=usage[1]
            )
            if store_away:  # nothing to mark: the turn waits to be sent again
                await self.stream.close()
                self.end = ReplyEnd(status, failure, False, "", False, store_away=True)
            else:
                self.end = await self._end(status, ended, failure, tools, began)

    def again(self) -> Reply:
        """The same turns on screen, for the same send tried again."""
        return Reply(self.turn, self.host, asked=self.asked)

    async def _end(
        self,
        status: MessageStatus,
        ended: TurnEnded | None,
        failure: str | None,
        tools: ToolCallAccumulator,
        began: bool,
    ) -> ReplyEnd:
        text = await self.stream.close()
        if not text:
            self.turn.markdown.display = False
        calls: list[dict[str, Any]] | None = ended.tool_calls if ended is not None else None
        if not calls and tools:
            calls = tools.result()
        if calls:
            await self.turn.set_tool_calls(calls)
        # The error as stored, shown as a reloaded turn shows it: the message names what
        # went wrong already ("HTTP 429 …", "publisher offline").
        error = ended.error if ended is not None and ended.error else failure
        self.turn.set_status(status, error)
        stats = replace(
            self.stats, state=_STATE.get(status, ""), waiting="", since=None, ended=began
        )
        if ended is not None:
            stats = replace(
                stats,
                input_tokens=ended.input_tokens,
                output_tokens=ended.output_tokens,
                ttft_ms=ended.ttft_ms,
                tokens_per_s=ended.tokens_per_s,
            )
        self._set_stats(stats)
        offline = ended is not None and ended.error_kind == ErrorKind.OFFLINE
        return ReplyEnd(status, error, began, text, offline)


def live_turns(reply: Reply | None) -> list[AssistantTurn | UserTurn]:
    """The turns a streaming reply owns (a sync leaves them alone)."""
    if reply is None:
        return []
    return [reply.turn] if reply.asked is None else [reply.asked, reply.turn]
