"""Tokens and cost (store/usage.py) on both backends: a reply without usage is unknown and
never zero, a reply of an LLM without prices is unpriced, a reply keeps the LLM that
answered it when the agent is re-pinned, currencies are never added, and a real chat
over the OpenAI wire stores what its cost is computed from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from mcpctl_tui.chat.events import TurnEnded, TurnStarted
from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.messages import NewMessage, finish_message, insert_turns
from mcpctl_tui.store.models import Agent, AgentUsage, ChatMessage, ChatThread, ReplyUsage
from mcpctl_tui.store.types import MessageStatus, Prices, utcnow
from mcpctl_tui.store.usage import Tally, money, reply_cost_text, short_count, tally_by, usage_rows
from tests.support.llm_servers import LlmServer, openai_reply
from tests.support.seed import add_agent, add_llm, add_thread

CHEAP = Prices(0.5, 1.5)  # USD per million
DEAR = Prices(10.0, 30.0, "EUR")


def _reply(llm: str | None, usage: tuple[int, int] | None, **kw: Any) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": "assistant", "content": "an answer", "llm": llm}
    if usage is not None:
        turn["usage"] = {"input_tokens": usage[0], "output_tokens": usage[1]}
    return turn | kw


_ASK = {"role": "user", "content": "a question"}


async def _tallies(store: Store, by: Any, **kw: Any) -> dict[Any, Tally]:
    async with store.session() as s:
        return await tally_by(s, by, **kw)


async def test_unknown_usage_is_never_zero_and_non_replies_are_not_counted(store: Store) -> None:
    llm = await add_llm(store, "cheap", prices=CHEAP)
    agent = await add_agent(store, "a", llm.id)
    await add_thread(
        store,
        agent.id,
        [
            _ASK,
            _reply("cheap", (1000, 2000)),
            _ASK,
            _reply("cheap", None),  # the provider sent no usage: unknown
            _ASK,
            # refused before any reply (a 401): no text, no usage, not a reply
            _reply("cheap", None, content="", status=MessageStatus.ERROR, error="HTTP 401"),
            _ASK,
            _reply("cheap", None, status=MessageStatus.PENDING, content=""),  # in flight
        ],
    )
    (t,) = (await _tallies(store, "agent")).values()
    assert (t.replies, t.input_tokens, t.output_tokens, t.unknown, t.unpriced) == (
        2, 1000, 2000, 1, 0
    )  # fmt: skip
    assert t.costs == (("USD", pytest.approx((1000 * 0.5 + 2000 * 1.5) / 1e6)),)
    assert (t.tokens_text(), t.cost_text()) == ("3.0k+?", "$0.0035+?")
    # every reply unknown: "?" for both, not 0 and not $0
    other = await add_agent(store, "b", llm.id)
    await add_thread(store, other.id, [_ASK, _reply("cheap", None)])
    b = (await _tallies(store, "agent"))["b"]
    assert (b.replies, b.unknown, b.tokens_text(), b.cost_text()) == (1, 1, "?", "?")


async def test_replies_keep_their_llm_across_a_re_pin_and_currencies_stay_apart(
    store: Store,
) -> None:
    cheap = await add_llm(store, "cheap", prices=CHEAP)
    dear = await add_llm(store, "dear", prices=DEAR)
    await add_llm(store, "free-ish")  # no prices
    agent = await add_agent(store, "a", cheap.id)
    await add_thread(store, agent.id, [_ASK, _reply("cheap", (100_000, 10_000))])
    async with store.transaction() as s:  # re-pinned: older replies stay cheap's
        await s.execute(update(Agent).where(Agent.id == agent.id).values(llm_id=dear.id))
    await add_thread(
        store,
        agent.id,
        [_ASK, _reply("dear", (1000, 1000)), _ASK, _reply("free-ish", (5, 5))],
    )
    by_llm = await _tallies(store, "llm")
    assert by_llm["cheap"].costs == (("USD", pytest.approx(0.065)),)
    assert by_llm["dear"].costs == (("EUR", pytest.approx(0.04)),)
    assert by_llm["free-ish"].costs == () and by_llm["free-ish"].unpriced == 1
    assert by_llm["free-ish"].cost_text() == "?"  # unpriced is not free
    (a,) = (await _tallies(store, "agent")).values()
    assert a.tokens == 112_010 and a.unpriced == 1
    assert a.cost_text() == "0.0400 EUR + $0.0650+?"  # never summed across currencies
    assert money(1234.5, "USD") == "$1,234.50" and money(0.5, "EUR") == "0.5000 EUR"


async def test_a_reply_whose_llm_is_unknown_is_counted_but_not_priced(store: Store) -> None:
    llm = await add_llm(store, "cheap", prices=CHEAP)
    agent = await add_agent(store, "a", llm.id)
    await add_thread(store, agent.id, [_ASK, _reply(None, (10, 10)), _ASK, _reply("gone", (1, 1))])
    by_llm = await _tallies(store, "llm")
    assert set(by_llm) == {None, "gone"}  # a deleted LLM's name has no prices either
    async with store.session() as s:
        rows = await usage_rows(s, "llm", None)
    assert [(r.key, r.tally.unpriced) for r in rows] == [("(unknown)", 1), ("gone", 1)]


async def test_since_by_day_and_by_thread(store: Store) -> None:
    llm = await add_llm(store, "cheap", prices=CHEAP)
    agent = await add_agent(store, "a", llm.id)
    now = utcnow()
    then = now - timedelta(days=40)
    old = await add_thread(
        store, agent.id, [_ASK, _reply("cheap", (7, 7), created_at=then)], created_at=then
    )
    new = await add_thread(store, agent.id, [_ASK, _reply("cheap", (3, 3))], created_at=now)
    by_day = await _tallies(store, "day")
    assert by_day == {
        then.strftime("%Y-%m-%d"): by_day[min(by_day)],
        now.strftime("%Y-%m-%d"): by_day[max(by_day)],
    }
    assert by_day[min(by_day)].tokens == 14 and by_day[max(by_day)].tokens == 6
    recent = await _tallies(store, "agent", since=now - timedelta(days=30))
    assert recent["a"].tokens == 6
    only = await _tallies(store, "thread", thread_ids=[old.id])
    assert set(only) == {old.id} and only[old.id].tokens == 14
    assert new.id in await _tallies(store, "thread")


async def test_a_chat_stores_its_llm_and_usage_and_reports_its_cost(store: Store) -> None:
    """Through the engine over a real OpenAI-wire server: the reply records the LLM that
    answered and the usage the server sent; a server that sends none leaves it unknown."""
    async with LlmServer(
        [openai_reply(["hi"], usage=(1200, 400)), openai_reply(["x"], usage=None)]
    ) as srv:
        llm = await add_llm(store, "oa", type="openai", url=srv.url, model="m", prices=CHEAP)
        await add_agent(store, "a", llm.id)
        async with ChatService(store) as svc:
            events = [e async for e in svc.send("a", "question")]
            started = next(e for e in events if isinstance(e, TurnStarted))
            ended = next(e for e in events if isinstance(e, TurnEnded))
            assert started.prices == CHEAP
            assert (ended.input_tokens, ended.output_tokens) == (1200, 400)
            second = await svc.run_one_inference("a", "again", thread_id=started.thread_id)
            assert second.input_tokens is None
    assert reply_cost_text(1200, 400, started.prices) == "in 1200 · out 400 tok · $0.0012"
    assert reply_cost_text(None, None, CHEAP) == "tokens unknown"
    t = (await _tallies(store, "thread"))[started.thread_id]
    assert (t.replies, t.input_tokens, t.output_tokens, t.unknown) == (2, 1200, 400, 1)
    assert t.costs == (("USD", pytest.approx(CHEAP.cost(1200, 400))),)
    assert (await _tallies(store, "llm")).keys() == {"oa"}


def _scan(rows: list[Any]) -> dict[int, tuple[int, int, int, int]]:
    """The usage rule applied to the turns themselves, per thread: (replies, input,
    output, unknown); what the triggers' running sums must always equal."""
    out: dict[int, tuple[int, int, int, int]] = {}
    for m in rows:
        if m.role != "assistant" or m.status == MessageStatus.PENDING:
            continue
        if m.usage is None and m.content == "":
            continue
        u = m.usage or {}
        known = u.get("input_tokens") is not None and u.get("output_tokens") is not None
        r, i, o, k = out.get(m.thread_id, (0, 0, 0, 0))
        out[m.thread_id] = (
            r + 1,
            i + (u["input_tokens"] if known else 0),
            o + (u["output_tokens"] if known else 0),
            k + (0 if known else 1),
        )
    return out


async def _sums_match_the_turns(store: Store) -> None:
    """Both levels of running sums (per thread; per agent, LLM and day) equal the rule
    applied to every stored turn."""
    async with store.session() as s:
        rows = list((await s.execute(select(ChatMessage))).scalars())
        owner = dict((await s.execute(select(ChatThread.id, Agent.name).join(Agent))).all())
        by_thread = await tally_by(s, "thread")
        by_agent = await tally_by(s, "agent")
    scan = _scan(rows)
    got = {t: (x.replies, x.input_tokens, x.output_tokens, x.unknown) for t, x in by_thread.items()}
    assert got == scan
    per_agent: dict[str, tuple[int, ...]] = {}
    for thread, sums in scan.items():
        before = per_agent.get(owner[thread], (0, 0, 0, 0))
        per_agent[owner[thread]] = tuple(a + b for a, b in zip(before, sums, strict=True))
    got_agent = {
        a: (x.replies, x.input_tokens, x.output_tokens, x.unknown) for a, x in by_agent.items()
    }
    assert got_agent == per_agent


async def test_the_running_sums_follow_every_write(store: Store) -> None:
    """Inserts, a reply's finish, an edit, regenerate's delete, a thread's and an agent's
    delete (cascades): after each, the sums read equal the rule applied to every turn."""
    llm = await add_llm(store, "cheap", prices=CHEAP)
    agent = await add_agent(store, "a", llm.id)
    other = await add_agent(store, "b", llm.id)
    one = await add_thread(store, agent.id, [_ASK, _reply("cheap", (10, 20)), _ASK])
    two = await add_thread(store, other.id, [_ASK, _reply("cheap", None)])
    await _sums_match_the_turns(store)
    async with store.transaction() as s:  # a reply begins, then ends with usage
        (pid,) = await insert_turns(
            s, one.id, 3, [NewMessage(role="assistant", status=MessageStatus.PENDING, llm="cheap")]
        )
    await _sums_match_the_turns(store)
    usage = {"input_tokens": 5, "output_tokens": 7}
    await finish_message(
        store, pid, one.id, 3, content="ok", status=MessageStatus.COMPLETE, usage=usage
    )
    await _sums_match_the_turns(store)
    async with store.transaction() as s:  # edits: usage taken away, then the LLM renamed
        await s.execute(update(ChatMessage).where(ChatMessage.id == pid).values(usage=None))
        await s.execute(update(ChatMessage).where(ChatMessage.id == pid).values(llm="other"))
    await _sums_match_the_turns(store)
    async with store.transaction() as s:  # any writer: turns deleted on their own
        await s.execute(
            delete(ChatMessage).where(ChatMessage.thread_id == one.id, ChatMessage.turn_index > 2)
        )
    await _sums_match_the_turns(store)
    async with store.transaction() as s:
        await s.execute(delete(ChatThread).where(ChatThread.id == two.id))
    await _sums_match_the_turns(store)
    async with store.transaction() as s:
        await s.execute(delete(Agent).where(Agent.id == agent.id))
    await _sums_match_the_turns(store)
    async with store.session() as s:  # nothing left over: no rows that count nothing
        for table in (ReplyUsage, AgentUsage):
            assert (await s.execute(select(func.count()).select_from(table))).scalar() == 0


def test_counts_read_in_a_few_cells_without_rounding_into_the_next_unit() -> None:
    shown = [short_count(n) for n in (999, 1000, 9949, 9950, 12_345, 999_499, 999_999)]
    assert shown == ["999", "1.0k", "9.9k", "10k", "12k", "999k", "1.0M"]
