"""Racing chat senders: several OS processes send to one thread through ``ChatService``.

The race test and ``bench/store.py`` run the append path the app runs: each send stores
the user turn and its reply's placeholder in one transaction (``lock_thread`` +
``insert_turns``), streams the reply from the ``echo`` LLM (no network) and fills the
placeholder (``finish_message``).

A sender process is ``python -m tests.support.chat_race URL AGENT THREAD_ID NAME SENDS``:
it opens its own store and service, prints ``ready``, waits for a line on stdin, sends
``NAME:0`` … ``NAME:{SENDS-1}`` one after the other (each driven to its end), then prints
the wall-clock time its last send returned. ``race_problems`` says what, if anything,
the thread afterwards gets wrong.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.llm.echo import ECHO_SEPARATOR
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.messages import Turn
from mcpctl_tui.store.types import MessageRole, MessageStatus

READY = "ready"


def sent_texts(name: str, sends: int) -> list[str]:
    """What sender ``name`` sends, in order."""
    return [f"{name}:{i}" for i in range(sends)]


async def send_all(store: Store, agent: str, thread_id: int, texts: Sequence[str]) -> None:
    """Send each text to ``agent`` in ``thread_id``, one after the other, each to its end."""
    async with ChatService(store) as service:
        for text in texts:
            ended = await service.run_one_inference(agent, text, thread_id=thread_id)
            if ended.status != MessageStatus.COMPLETE:
                raise RuntimeError(f"send {text!r} ended {ended.status}: {ended.error}")


def race_problems(
    turns: Sequence[Turn], senders: dict[str, list[str]], after: int | None = None
) -> list[str]:
    """What the thread gets wrong after ``senders`` (name -> texts, in order) all sent to it
    alone; [] when nothing: turn indexes exactly 0..N-1, every user text and every reply
    stored exactly once, each user turn immediately followed by its own reply (the echo
    LLM answers with the text it was given), nothing left pending, each turn following
    the one before it on one branch (the first one turn ``after``), and each sender's
    turns in its own order."""
    problems: list[str] = []
    expected = sorted(t for texts in senders.values() for t in texts)
    start = 0 if after is None else after + 1
    if [t.turn_index for t in turns] != list(range(start, start + len(turns))):
        problems.append(f"turn indexes are not {start}..{start + len(turns) - 1}")
    if len(turns) != 2 * len(expected):
        problems.append(f"{len(turns)} turns stored for {len(expected)} sends")
    users = [t for t in turns if t.role == MessageRole.USER]
    if sorted(t.content for t in users) != expected:
        problems.append("the user turns are not each sent text exactly once")
    pending = [t.turn_index for t in turns if t.status != MessageStatus.COMPLETE]
    if pending:
        problems.append(f"turns not complete: {pending[:10]}")
    for i in range(0, len(turns) - 1, 2):
        ask, reply = turns[i], turns[i + 1]
        answered = reply.content.split(ECHO_SEPARATOR, 1)[-1]
        if ask.role != MessageRole.USER or reply.role != MessageRole.ASSISTANT:
            problems.append(f"turns {i}, {i + 1} are {ask.role}, {reply.role}")
            break
        if answered != ask.content:
            problems.append(f"turn {i + 1} answers {answered!r}, not {ask.content!r}")
            break
    for follows, turn in zip([after, *(t.turn_index for t in turns)], turns, strict=False):
        if turn.parent_index != follows or not turn.on_path or turn.branches != 1:
            problems.append(f"turn {turn.turn_index} does not follow {follows} alone")
            break
    for name, texts in senders.items():
        mine = [t.content for t in users if t.content.startswith(f"{name}:")]
        if mine != texts:
            problems.append(f"sender {name}'s turns are out of its order")
    return problems


async def _main(url: str, agent: str, thread_id: int, name: str, sends: int) -> None:
    store = await open_store(url)
    try:
        print(READY, flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # the go signal: all start at once
        await send_all(store, agent, thread_id, sent_texts(name, sends))
        print(time.time(), flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    url, agent, thread_id, name, sends = sys.argv[1:6]
    asyncio.run(_main(url, agent, int(thread_id), name, int(sends)))
