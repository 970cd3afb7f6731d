"""Tokens and cost: what a reply, a thread, an agent or an LLM used, and what it cost.

Rules kept here:

- What counts is a reply: an assistant turn that is not pending and either has usage or
  produced text (a request refused before any reply, a 401, is not a reply). The rule
  is kept in SQL by the triggers of migration 0009, which maintain the running sums
  every figure here is read from: ``reply_usage`` per thread, LLM and UTC day, and
  ``agent_usage`` per agent, LLM and day.
- A reply's usage is known when its provider gave both counts; a reply without them
  counts as *unknown*, never as zero: ``Tally.unknown`` says how many, and every figure
  shown says that it is a lower bound ("12.3k+?").
- A reply is priced at read time with the current prices of the LLM that answered it
  (``chat_message.llm``, migration 0009); a reply whose LLM has no prices, or whose LLM
  is not known, is *unpriced* (``Tally.unpriced``), never free. Costs in different
  currencies are never added: ``Tally.costs`` holds one amount per currency.
- The sums are read from the running sums, never from the turns: an agent's column
  covers every reply it ever had at the cost of a row per LLM and day.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.models import Agent, AgentUsage, Llm, ReplyUsage
from mcpctl_tui.store.types import Prices

PER = 1_000_000  # prices are per million tokens (``Prices``, an LLM manifest's ``prices``)
DEFAULT_CURRENCY = "USD"
By = Literal["agent", "llm", "day", "thread"]
BY_CHOICES: tuple[str, ...] = ("agent", "llm", "day")


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure as a table cell reads (``text``) and sorts (``value``: "?" lowest)."""

    text: str
    value: float


@dataclass(frozen=True, slots=True)
class Tally:
    """What some replies used: known token sums, how many were unknown, costs by currency."""

    replies: int = 0
    input_tokens: int = 0  # over the replies whose usage is known
    output_tokens: int = 0
    unknown: int = 0  # replies without usage from their provider
    costs: tuple[tuple[str, float], ...] = ()  # (currency, amount), by currency
    unpriced: int = 0  # replies with usage whose LLM has no prices (or is not known)

    def __add__(self, other: Tally) -> Tally:
        costs: dict[str, float] = dict(self.costs)
        for cur, amount in other.costs:
            costs[cur] = costs.get(cur, 0.0) + amount
        return Tally(
            self.replies + other.replies,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.unknown + other.unknown,
            tuple(sorted(costs.items())),
            self.unpriced + other.unpriced,
        )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def tokens_text(self) -> str:
        """Total tokens, ``+?`` when some replies' usage is unknown, ``?`` when all are."""
        if self.replies == 0:
            return ""
        if self.unknown == self.replies:
            return "?"
        return short_count(self.tokens) + ("+?" if self.unknown else "")

    def cost_text(self) -> str:
        """The cost, ``+?`` when some replies are unpriced or unknown, ``?`` when none is
        priced; currencies side by side ("$1.20 + 0.40 EUR")."""
        if self.replies == 0:
            return ""
        if not self.costs:
            return "?"
        shown = " + ".join(money(amount, cur) for cur, amount in self.costs)
        return shown + ("+?" if self.unknown or self.unpriced else "")

    def tokens_figure(self) -> Figure | None:
        return Figure(self.tokens_text(), self.tokens) if self.replies else None

    def cost_figure(self) -> Figure | None:
        amount = sum(a for _, a in self.costs) if self.costs else -1.0
        return Figure(self.cost_text(), amount) if self.replies else None

    def as_json(self) -> dict[str, Any]:
        return {
            "replies": self.replies,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "unknownReplies": self.unknown,
            "cost": dict(self.costs),
            "unpricedReplies": self.unpriced,
        }


NOTHING = Tally()


def short_count(n: int) -> str:
    """12, 1.2k, 34k, 1.5M: a count in a few cells (999,999 reads 1.0M, not 1000k)."""
    if n < 1000:
        return str(n)
    unit, size = ("M", 1_000_000) if n >= 999_500 else ("k", 1000)
    value = n / size
    return f"{value:.1f}{unit}" if value < 9.95 else f"{value:.0f}{unit}"


def money(amount: float, currency: str) -> str:
    """``$0.0123``, ``$4.20``, ``0.50 EUR``: cents once a figure reaches one unit, four
    decimals below it (a reply costs fractions of a cent)."""
    digits = f"{amount:,.2f}" if amount >= 1 else f"{amount:.4f}"
    return f"${digits}" if currency == "USD" else f"{digits} {currency}"


def reply_cost_text(
    input_tokens: int | None,
    output_tokens: int | None,
    prices: Prices | None,
    *,
    short: bool = False,
) -> str:
    """One reply's usage for a status line: "in 12 · out 340 tok · $0.0041" (``short``:
    "$0.0041", or "352 tok" unpriced); without usage from the provider, "tokens unknown"
    ("tok ?"), never 0."""
    if input_tokens is None or output_tokens is None:
        return "tok ?" if short else "tokens unknown"
    cost = (
        money(prices.cost(input_tokens, output_tokens), prices.currency)
        if prices is not None
        else None
    )
    if short:
        return cost or f"{input_tokens + output_tokens} tok"
    text = f"in {input_tokens} · out {output_tokens} tok"
    return f"{text} · {cost}" if cost else text


# --- the sums ---------------------------------------------------------------------------

_PRICED = and_(Llm.price_input.is_not(None), Llm.price_output.is_not(None))


def _sum_if(cond: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0)


def tally_query(
    by: By,
    *,
    since: datetime | None = None,
    thread_ids: Sequence[int] | Select[Any] | BindParameter[Any] | None = None,
) -> Select[Any]:
    """``tally_by``'s statement: per key and currency, the sums and the priced cost."""
    _R: Any = ReplyUsage if by == "thread" else AgentUsage
    # The agent's name; the LLM's ('' not known: None below); the day; the thread.
    key: Any = Agent.name if by == "agent" else getattr(_R, f"{by}_id" if by == "thread" else by)
    known = _R.replies - _R.unknown
    cost = (_R.input_tokens * Llm.price_input + _R.output_tokens * Llm.price_output) / PER
    q = (
        select(
            key,
            Llm.price_currency,
            func.sum(_R.replies),
            func.sum(_R.input_tokens),
            func.sum(_R.output_tokens),
            func.sum(_R.unknown),
            _sum_if(_PRICED, cost),
            _sum_if(~_PRICED, known),
            _sum_if(_PRICED, known),
        )
        .select_from(_R)
        .outerjoin(Llm, Llm.name == _R.llm)
        .group_by(key, Llm.price_currency)
    )
    if by == "agent":
        q = q.join(Agent, Agent.id == _R.agent_id)
    if since is not None:
        q = q.where(_R.day >= since.astimezone(UTC).strftime("%Y-%m-%d"))
    if thread_ids is not None:
        if by != "thread":
            raise ValueError("thread_ids narrows the sums by thread only")
        q = q.where(_R.thread_id.in_(thread_ids))
    return q


@functools.cache
def _threads_page_query() -> Select[Any]:
    return tally_query("thread", thread_ids=bindparam("ids", expanding=True))


async def tally_by(
    s: AsyncSession,
    by: By,
    *,
    since: datetime | None = None,
    thread_ids: Sequence[int] | Select[Any] | None = None,
) -> dict[Any, Tally]:
    """Every reply's usage summed by agent name, LLM name (None: not known), UTC day
    ("2026-12-01") or thread id. ``since`` counts whole UTC days: from the start of its
    day (the running sums' grain); ``thread_ids`` narrows to those threads.

    Read from the running sums (``agent_usage``; ``reply_usage`` by thread), never from
    the turns themselves."""
    out: dict[Any, Tally] = {}
    params: dict[str, Any] = {}
    if by == "thread" and since is None and isinstance(thread_ids, Sequence):
        q = _threads_page_query()  # a thread list's page: built once, ids bound
        params["ids"] = list(thread_ids)
    else:
        q = tally_query(by, since=since, thread_ids=thread_ids)
    for k, cur, n, inp, outp, unknown, amount, unpriced, priced in await s.execute(q, params):
        if not n:
            continue
        costs = ((cur or DEFAULT_CURRENCY, float(amount)),) if priced else ()
        part = Tally(int(n), int(inp), int(outp), int(unknown), costs, int(unpriced))
        if by == "llm":
            k = k or None
        out[k] = out.get(k, NOTHING) + part
    return out


def total(tallies: Iterable[Tally]) -> Tally:
    out = NOTHING
    for t in tallies:
        out = out + t
    return out


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One line of ``mcpctl-tui usage``: its key (agent, LLM or day) and its tally."""

    key: str
    tally: Tally = field(default=NOTHING)


async def usage_rows(s: AsyncSession, by: By, since: datetime | None) -> list[UsageRow]:
    """The usage report's lines, by key (a reply of an unknown LLM under "(unknown)")."""
    found = await tally_by(s, by, since=since)
    rows = [UsageRow("(unknown)" if k is None else str(k), t) for k, t in found.items()]
    return sorted(rows, key=lambda r: r.key)
