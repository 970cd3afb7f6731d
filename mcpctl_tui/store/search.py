"""Full-text search over the stored turns (the index: migration ``0008_turn_search``).

Rules kept here:

- The query is the backend's own syntax first: FTS5's on SQLite (``"a phrase"``,
  ``prefix*``, ``AND``/``OR``/``NOT``), on PostgreSQL ``to_tsquery``'s when the text uses
  its operators (``deploy:* & !test``, ``disk <-> full``) and ``websearch_to_tsquery``'s
  otherwise (``"a phrase"``, ``or``, ``-word``). Text the backend refuses as a query is
  searched as plain words (every word, in any order): never an SQL error.
- Hits come newest first (by message id, which only grows): the first page stops at
  ``limit`` matches instead of ranking every match.
- The snippet marks each match; ``Hit.marks`` gives their spans in ``Hit.snippet``. The
  snippet is the stored text, untrusted: whoever shows it neutralises it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpctl_tui.store.models import Agent, ChatMessage, ChatThread, Llm

# What the index adds to the schema beside the models (the schema comparison skips them).
SEARCH_OBJECTS = frozenset(
    {
        "chat_message_fts",
        "chat_message_fts_data",
        "chat_message_fts_idx",
        "chat_message_fts_docsize",
        "chat_message_fts_config",
        "content_tsv",
        "ix_chat_message_content_tsv",
    }
)

OPEN, CLOSE = "\ue000", "\ue001"  # private-use marks around a match in the snippet
SNIPPET_WORDS = 16
_FTS = table("chat_message_fts", column("rowid"), column("content"))
_TSQUERY_SYNTAX = re.compile(r"[&|!()]|<\d*->|:\*")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored turn that matches: where it is and a snippet of it."""

    message_id: int
    thread_id: int
    turn_index: int
    role: str
    agent_id: int
    agent: str
    thread_title: str
    created_at: datetime
    snippet: str
    marks: tuple[tuple[int, int], ...]  # spans of ``snippet`` that matched


@dataclass(frozen=True, slots=True)
class SearchFilter:
    agent: str | None = None
    llm: str | None = None
    role: str | None = None
    since: datetime | None = None


EVERYWHERE = SearchFilter()


def plain_words(query: str) -> str:
    """``query`` as FTS5 plain words: each word quoted (so nothing in it is syntax)."""
    return " ".join(f'"{w}"' for w in _WORD.findall(query))


async def search_turns(
    s: AsyncSession,
    query: str,
    where: SearchFilter = EVERYWHERE,
    *,
    limit: int = 20,
    offset: int = 0,
) -> list[Hit]:
    """The turns matching ``query`` (see the module's rules), newest first."""
    if not query.strip():
        return []
    sqlite = (await s.connection()).dialect.name == "sqlite"
    if sqlite:  # FTS5's syntax, then the words alone
        attempts = [(query, True), (plain_words(query), True)]
    elif _TSQUERY_SYNTAX.search(query):  # to_tsquery's, then websearch's (never refused)
        attempts = [(query, True), (query, False)]
    else:
        attempts = [(query, False)]
    for n, (q, native) in enumerate(attempts):
        if not q:
            continue
        stmt = _filtered(_statement(sqlite, q, native), where).limit(limit).offset(offset)
        try:
            async with s.begin_nested():  # a refused query leaves the session usable
                if not sqlite:
                    stmt = await _few_matches(s, stmt, q, native)
                rows = (await s.execute(stmt)).all()
        except DBAPIError:
            if n == len(attempts) - 1:
                raise
            continue
        return [_hit(row) for row in rows]
    return []


def _statement(sqlite: bool, query: str, native: bool) -> Any:  # a Select of 9 columns
    m = ChatMessage
    if sqlite:
        snippet: ColumnElement[str] = func.snippet(
            literal_column("chat_message_fts"), 0, OPEN, CLOSE, "…", SNIPPET_WORDS
        )
        base = select(*_COLUMNS, snippet).select_from(_FTS).join(m, m.id == _FTS.c.rowid)
        return base.where(text("chat_message_fts MATCH :q").bindparams(q=query)).order_by(
            _FTS.c.rowid.desc()
        )
    tsquery = _tsquery(query, native)
    options = (
        f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS - 1}"
    )
    headline: ColumnElement[str] = func.ts_headline("simple", m.content, tsquery, options)
    return (
        select(*_COLUMNS, headline)
        .where(literal_column("chat_message.content_tsv").op("@@")(tsquery))
        .order_by(m.id.desc())
    )


def _tsquery(query: str, native: bool) -> ColumnElement[Any]:
    return (
        func.to_tsquery("simple", query) if native else func.websearch_to_tsquery("simple", query)
    )


FEW = 2000  # matches a word may have and still be read through the GIN index


async def _few_matches(s: AsyncSession, stmt: Select[Any], query: str, native: bool) -> Any:
    """PostgreSQL: ``stmt`` for a query with few matches, narrowed to their ids.

    Newest first by id is fast for a common word (the primary key walked backwards finds
    a page of matches at once) and slow for a rare one (the walk reads the whole table:
    390 ms on a million turns), and the planner takes the walk for both. Its estimate
    tells them apart (a common word is in its statistics; a rare one gets a guess of a
    few thousand rows): for a query estimated at few matches, they are read through the
    index, up to ``FEW``, and the page is read among those ids alone."""
    m = ChatMessage
    matches = literal_column("chat_message.content_tsv").op("@@")(_tsquery(query, native))
    function = "to_tsquery" if native else "websearch_to_tsquery"
    explain = text(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM chat_message"
        f" WHERE content_tsv @@ {function}('simple', CAST(:q AS text))"
    )
    plan: Any = (await s.execute(explain.bindparams(q=query))).scalar_one()
    doc = json.loads(plan) if isinstance(plan, str) else plan
    if doc[0]["Plan"]["Plan Rows"] > 4 * FEW:
        return stmt  # a common word
    ids = list((await s.execute(select(m.id).where(matches).limit(FEW))).scalars())
    return stmt.where(m.id.in_(ids)) if len(ids) < FEW else stmt


_COLUMNS = (
    ChatMessage.id,
    ChatMessage.thread_id,
    ChatMessage.turn_index,
    ChatMessage.role,
    Agent.id,
    Agent.name,
    ChatThread.title,
    ChatMessage.created_at,
)


def _filtered(stmt: Select[Any], where: SearchFilter) -> Select[Any]:
    m = ChatMessage
    stmt = stmt.join(ChatThread, ChatThread.id == m.thread_id).join(
        Agent, Agent.id == ChatThread.agent_id
    )
    if where.agent is not None:
        stmt = stmt.where(Agent.name == where.agent)
    if where.llm is not None:
        stmt = stmt.join(Llm, Llm.id == Agent.llm_id).where(Llm.name == where.llm)
    if where.role is not None:
        stmt = stmt.where(m.role == where.role)
    if where.since is not None:
        stmt = stmt.where(m.created_at >= where.since)
    return stmt


def _hit(row: Any) -> Hit:
    message_id, thread_id, turn_index, role, agent_id, agent, title, created_at, marked = row
    snippet, marks = unmark(marked or "")
    return Hit(
        message_id, thread_id, turn_index, role, agent_id, agent, title, created_at, snippet, marks
    )


def unmark(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The snippet without its marks, and the spans they marked."""
    out: list[str] = []
    marks: list[tuple[int, int]] = []
    at, start = 0, None
    for part in re.split(f"([{OPEN}{CLOSE}])", marked):
        if part == OPEN:
            start = at
        elif part == CLOSE:
            if start is not None and at > start:
                marks.append((start, at))
            start = None
        else:
            out.append(part)
            at += len(part)
    return "".join(out), tuple(marks)
