"""Full-text search over stored turns, on both backends: words, phrases and prefixes in
each backend's syntax, text that is not valid syntax searched as plain words (never an
SQL error), filters, newest first, marked snippets; the index follows inserts, a reply's
finish, deletes and cascades."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from mcpctl_tui.chat.service import ChatService
from mcpctl_tui.store.engine import Store
from mcpctl_tui.store.models import Agent, ChatMessage
from mcpctl_tui.store.search import EVERYWHERE, Hit, SearchFilter, search_turns, unmark
from mcpctl_tui.store.types import utcnow
from tests.support.seed import add_agent, add_llm, add_thread


async def _find(store: Store, query: str, where: SearchFilter = EVERYWHERE) -> list[Hit]:
    async with store.session() as s:
        return await search_turns(s, query, where)


def _texts(hits: list[Hit]) -> list[str]:
    return [h.snippet for h in hits]


@pytest.fixture
async def seeded(store: Store) -> Store:
    a = await add_llm(store, "llm-a")
    b = await add_llm(store, "llm-b")
    ops = await add_agent(store, "ops", a.id)
    writer = await add_agent(store, "writer", b.id)
    old = utcnow() - timedelta(days=10)
    await add_thread(
        store,
        ops.id,
        [
            {"role": "user", "content": "the disk is full on node seven", "created_at": old},
            {"role": "assistant", "content": "Deploying the cleanup job.", "created_at": old},
        ],
        title="disk",
    )
    await add_thread(
        store,
        writer.id,
        [
            {"role": "user", "content": "write a poem about a full moon"},
            {"role": "assistant", "content": "The moon is full, the disk of night."},
        ],
        title="poem",
    )
    return store


async def test_words_phrases_and_prefixes(seeded: Store, backend: str) -> None:
    assert _texts(await _find(seeded, "full")) == [
        "The moon is full, the disk of night.",
        "write a poem about a full moon",
        "the disk is full on node seven",
    ]
    assert _texts(await _find(seeded, "disk full")) == [  # every word, any order
        "The moon is full, the disk of night.",
        "the disk is full on node seven",
    ]
    assert _texts(await _find(seeded, '"disk is full"')) == ["the disk is full on node seven"]
    prefix = "deploy*" if backend == "sqlite" else "deploy:*"
    assert _texts(await _find(seeded, prefix)) == ["Deploying the cleanup job."]
    assert _texts(await _find(seeded, "DEPLOYING")) == ["Deploying the cleanup job."]
    assert await _find(seeded, "deploy") == []  # words, not stems
    assert await _find(seeded, "   ") == []


@pytest.mark.parametrize(
    "query",
    ['"unclosed disk', "disk AND", "full) (", "disk & & full", "NOT", "!!", "a:b:c", "*", "'"],
)
async def test_text_that_is_not_query_syntax_is_searched_as_words(
    seeded: Store, query: str
) -> None:
    hits = await _find(seeded, query)  # never an SQL error
    words = set(re.findall(r"\w+", query.lower()))
    for h in hits:
        assert words & set(re.findall(r"\w+", h.snippet.lower())), h


async def test_filters_and_hits(seeded: Store) -> None:
    (hit,) = await _find(seeded, "full", SearchFilter(agent="ops"))
    assert (hit.agent, hit.thread_title, hit.turn_index, hit.role) == ("ops", "disk", 0, "user")
    assert hit.snippet[slice(*hit.marks[0])].lower() == "full"
    assert _texts(await _find(seeded, "full", SearchFilter(llm="llm-b"))) == [
        "The moon is full, the disk of night.",
        "write a poem about a full moon",
    ]
    assert _texts(await _find(seeded, "full", SearchFilter(role="assistant"))) == [
        "The moon is full, the disk of night."
    ]
    recent = SearchFilter(since=utcnow() - timedelta(days=7))
    assert [h.thread_title for h in await _find(seeded, "disk", recent)] == ["poem"]
    async with seeded.session() as s:
        page = await search_turns(s, "full", limit=2, offset=2)
    assert _texts(page) == ["the disk is full on node seven"]


async def test_the_index_follows_finishes_deletes_and_cascades(seeded: Store) -> None:
    async with ChatService(seeded) as chat:  # a placeholder, then its finish
        ended = await chat.run_one_inference("ops", "where is the zeppelin")
    hits = await _find(seeded, "zeppelin")
    assert [h.role for h in hits] == ["assistant", "user"]
    assert hits[0].message_id == ended.assistant_message_id
    async with seeded.transaction() as s:
        await s.execute(
            update(ChatMessage)
            .where(ChatMessage.id == ended.assistant_message_id)
            .values(content="gone now")
        )
    assert [h.role for h in await _find(seeded, "zeppelin")] == ["user"]
    assert len(await _find(seeded, "gone")) == 1
    async with seeded.transaction() as s:  # the agent's threads and turns go with it
        await s.execute(delete(Agent).where(Agent.name == "ops"))
    assert await _find(seeded, "zeppelin") == []
    assert [h.agent for h in await _find(seeded, "disk")] == ["writer"]


def test_unmark_gives_the_spans() -> None:
    assert unmark("a \ue000full\ue001 b \ue000x\ue001") == ("a full b x", ((2, 6), (9, 10)))
