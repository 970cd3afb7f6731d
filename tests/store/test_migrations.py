"""Alembic migrations: head equals the models, the seed history upgrades with its rows,
the no-op open is one query, racing first opens, and databases this code cannot use."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mcpctl_tui.cli import main as cli_main
from mcpctl_tui.store.changes import Change, watch
from mcpctl_tui.store.engine import Store, open_store
from mcpctl_tui.store.migrate import (
    VERSIONS_DIR,
    SchemaTooNew,
    UnversionedSchema,
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    upgrade_to,
    upgrade_to_head,
)
from mcpctl_tui.store.models import Base
from mcpctl_tui.store.search import SEARCH_OBJECTS
from tests.support import REPO_ROOT

REV2 = "0002_personalities"


def _diff(conn: Connection) -> list[Any]:
    # The search index lives beside the models (migration 0008): not a difference.
    opts = {"include_name": lambda name, *_: name not in SEARCH_OBJECTS}
    return list(compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata))


async def test_head_schema_equals_the_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    assert await current_revision(store.engine) == head_revision()


def test_file_names_give_alembic_s_history() -> None:
    """The fast path reads the head from file names; this keeps that honest."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == list(known_revisions())
    assert script.get_heads() == [head_revision()]
    assert known_revisions()[:3] == ("0001_v1_base", REV2, "0003_agent_lifecycle")
    for prev, rev in itertools.pairwise(revisions):
        assert rev.down_revision == prev.revision
    for rev in revisions:
        assert rev.path is not None
        assert Path(rev.path).stem == rev.revision
        assert Path(rev.path).parent == VERSIONS_DIR


async def _seed_at_revision_2(engine: AsyncEngine) -> None:
    """Rows as a revision-2 database holds them (raw SQL: the models are the head shape)."""
    now = "2024-05-01 10:00:00"
    stmts = [
        "INSERT INTO llm (id, name, type, model, created_at, updated_at) "
        f"VALUES (1, 'gpt', 'openai', 'gpt-4o', '{now}', '{now}')",
        f"INSERT INTO project (id, name, created_at) VALUES (1, 'proj', '{now}')",
        "INSERT INTO agent (id, name, llm_id, project_id, default_params, extras, created_at,"
        " updated_at) VALUES "
        f"(1, 'alice', 1, 1, '{{\"temperature\": 0.2}}', '{{}}', '{now}', '{now}'),"
        f"(2, 'bob', 1, NULL, '{{}}', '{{\"x\": [1, 2]}}', '{now}', '{now}')",
        "INSERT INTO prompt (id, name, content, priority, project_id, agent_id, created_at) VALUES"
        f" (1, 'global', 'be nice', 5, NULL, NULL, '{now}'),"
        f" (2, 'proj', 'project rule', 3, 1, NULL, '{now}'),"
        f" (3, 'direct', 'alice only', 1, NULL, 1, '{now}')",
        "INSERT INTO personality (id, name, description, agent_id, priority, created_at) VALUES"
        f" (1, 'terse', 'short answers', 1, 2, '{now}'), (2, 'chatty', '', 1, 1, '{now}')",
        "INSERT INTO personality_prompt (personality_id, prompt_id, priority) VALUES"
        " (1, 3, 9), (2, 1, NULL)",
        "UPDATE agent SET default_personality_id = 1 WHERE id = 1",
        "INSERT INTO chat_thread (id, agent_id, title, created_at, last_turn_at) VALUES"
        f" (1, 1, 'first', '{now}', '{now}'), (2, 2, 'second', '{now}', '{now}')",
    ]
    msgs = []
    for i in range(6):
        msgs.append(
            f"({1 + i % 2}, {i // 2}, '{'user' if i // 2 % 2 == 0 else 'assistant'}', "
            f"'message {i}', 'complete', '{now}')"
        )
    stmts.append(
        "INSERT INTO chat_message (thread_id, turn_index, role, content, status, created_at)"
        " VALUES " + ", ".join(msgs)
    )
    async with engine.begin() as conn:
        for stmt in stmts:
            await conn.exec_driver_sql(stmt)
        if engine.dialect.name == "postgresql":  # explicit ids above: move the sequences on
            for table in ("llm", "project", "agent", "prompt", "personality", "chat_thread"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )


COUNTED = (
    "llm",
    "project",
    "agent",
    "prompt",
    "personality",
    "personality_prompt",
    "chat_thread",
    "chat_message",
)


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            t: (await conn.exec_driver_sql(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in COUNTED
        }


async def test_upgrade_from_revision_2_backfills_and_keeps_every_row(db_url: str) -> None:
    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, REV2)
        assert await current_revision(store.engine) == REV2
        await _seed_at_revision_2(store.engine)
        before = await _counts(store.engine)
        assert before == {
            "llm": 1,
            "project": 1,
            "agent": 2,
            "prompt": 3,
            "personality": 2,
            "personality_prompt": 2,
            "chat_thread": 2,
            "chat_message": 6,
        }

        await upgrade_to_head(store.engine)

        assert await current_revision(store.engine) == head_revision()
        assert await _counts(store.engine) == before
        async with store.engine.connect() as conn:
            agents = (
                await conn.exec_driver_sql(
                    "SELECT name, kind, status, provider_session_id, last_heartbeat_at,"
                    " inactive_since, default_personality_id, project_id FROM agent ORDER BY id"
                )
            ).all()
            assert [tuple(a) for a in agents] == [
                ("alice", "public", "active", None, None, None, 1, 1),
                ("bob", "public", "active", None, None, None, None, None),
            ]
            prompts = (
                await conn.exec_driver_sql(
                    "SELECT name, content, priority, project_id, agent_id FROM prompt ORDER BY id"
                )
            ).all()
            assert [tuple(p) for p in prompts] == [
                ("global", "be nice", 5, None, None),
                ("proj", "project rule", 3, 1, None),
                ("direct", "alice only", 1, None, 1),
            ]
            contents = (
                await conn.exec_driver_sql(
                    "SELECT thread_id, turn_index, content FROM chat_message"
                    " ORDER BY thread_id, turn_index"
                )
            ).all()
            assert [tuple(m) for m in contents] == [
                (1, 0, "message 0"),
                (1, 1, "message 2"),
                (1, 2, "message 4"),
                (2, 0, "message 1"),
                (2, 1, "message 3"),
                (2, 2, "message 5"),
            ]
            assert await conn.run_sync(_diff) == []
    finally:
        await store.close()

    # The rules survive the table rebuilds: RESTRICT, then the agent cascade.
    store = await open_store(db_url)
    try:
        with pytest.raises(IntegrityError):
            async with store.transaction() as s:
                await s.execute(text("DELETE FROM llm WHERE id = 1"))
        with pytest.raises(IntegrityError):
            async with store.transaction() as s:
                await s.execute(text("UPDATE agent SET kind = 'bogus' WHERE id = 1"))
        async with store.transaction() as s:
            await s.execute(text("DELETE FROM agent WHERE id = 1"))
        after = await _counts(store.engine)
        assert after["personality"] == 0
        assert after["personality_prompt"] == 0
        assert after["prompt"] == 2  # the agent-direct prompt went with alice
        assert after["chat_thread"] == 1
        assert after["chat_message"] == 3
    finally:
        await store.close()


REV4 = "0004_inference_tasks"


async def test_upgrade_from_revision_4_adds_the_change_feed(db_url: str) -> None:
    """A populated 0004 database reaches head: rows kept, no interval published yet (the
    timeout alone judges those rows), and writes now reach the change feed."""
    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, REV4)
        await _seed_at_revision_2(store.engine)
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO llm (name, type, model, kind, provider_session_id, status,"
                " last_heartbeat_at, created_at, updated_at) VALUES ('virt', 'echo', '',"
                " 'virtual', 's1', 'active', '2024-05-01 10:00:00', '2024-05-01 10:00:00',"
                " '2024-05-01 10:00:00')"
            )
        before = await _counts(store.engine)
        await upgrade_to_head(store.engine)
        assert await current_revision(store.engine) == head_revision()
        assert await _counts(store.engine) == before
        async with store.engine.connect() as conn:
            rows = (
                await conn.exec_driver_sql(
                    "SELECT name, kind, heartbeat_interval FROM llm ORDER BY id"
                )
            ).all()
            assert [tuple(r) for r in rows] == [("gpt", "public", None), ("virt", "virtual", None)]
            agents = (await conn.exec_driver_sql("SELECT heartbeat_interval FROM agent")).all()
            assert [tuple(a) for a in agents] == [(None,), (None,)]
            assert await conn.run_sync(_diff) == []
    finally:
        await store.close()

    store = await open_store(db_url)
    other = await open_store(db_url)
    try:
        async with watch(store, poll_interval=0.05) as changes:
            async with other.transaction() as s:
                await s.execute(text("UPDATE chat_message SET content = 'edited' WHERE id = 1"))
            async with asyncio.timeout(5):
                change = await anext(changes)
            assert change.touches_thread(1)
            if not store.is_sqlite:  # the triggers name the thread
                assert change == Change(frozenset({"chat_message"}), frozenset({1}))
    finally:
        await other.close()
        await store.close()


async def test_open_at_head_costs_one_query(store: Store) -> None:
    statements: list[str] = []

    def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", _count)
    try:
        await upgrade_to_head(store.engine)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", _count)
    # PRAGMAs on a new SQLite connection go through the raw cursor, not counted here.
    assert [s for s in statements if s not in ("BEGIN", "BEGIN IMMEDIATE")] == [
        "SELECT version_num FROM alembic_version"
    ]


async def test_a_newer_database_is_refused(store: Store) -> None:
    async with store.transaction() as s:
        await s.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(SchemaTooNew) as err:
        await open_store(store.url)
    assert str(err.value) == (
        f"database schema is at revision 0099_from_the_future, newer than this mcpctl-tui "
        f"knows (head {head_revision()}); upgrade mcpctl-tui"
    )
    # Nothing was changed by the refusal.
    assert await current_revision(store.engine) == "0099_from_the_future"

    async with store.transaction() as s:
        await s.execute(text("UPDATE alembic_version SET version_num = '0002_a_fork'"))
    with pytest.raises(SchemaTooNew, match="0002_a_fork, unknown to this mcpctl-tui"):
        await open_store(store.url)


async def test_tables_without_a_revision_are_refused(db_url: str) -> None:
    store = await open_store(db_url, migrate=False)
    try:
        async with store.transaction() as s:
            await s.execute(text("CREATE TABLE something_else (id INTEGER PRIMARY KEY)"))
        with pytest.raises(UnversionedSchema, match=r"has tables \(something_else\)"):
            await upgrade_to_head(store.engine)
    finally:
        await store.close()


OPENER = """
import asyncio, sys, time
from mcpctl_tui.store.engine import open_store
async def go():
    while time.time() < float(sys.argv[2]):
        await asyncio.sleep(0.002)
    store = await open_store(sys.argv[1])
    await store.close()
asyncio.run(go())
"""


async def test_processes_racing_to_open_a_fresh_database(db_url: str) -> None:
    start_at = time.time() + 1.5  # every process imported and waiting, then all at once
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OPENER,
            db_url,
            str(start_at),
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await p.communicate() for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    store = await open_store(db_url, migrate=False)
    try:
        assert await current_revision(store.engine) == head_revision()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await store.close()


async def test_db_current_and_upgrade_commands(db_url: str) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(cli_main, ["--db", db_url, "db", *args])

    def in_thread(*args: str) -> Any:  # the CLI runs its own event loop
        return asyncio.to_thread(cli, *args)

    r = await in_thread("current")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("none (empty database")

    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, REV2)
    finally:
        await store.close()
    r = await in_thread("current")
    assert r.output == (
        f"{REV2} (not head: head is {head_revision()}; run `mcpctl-tui db upgrade`)\n"
    )

    r = await in_thread("upgrade")
    assert r.exit_code == 0, r.output
    head = head_revision()
    assert r.output == f"database upgraded from {REV2} to {head} (head {head})\n"
    r = await in_thread("current")
    assert r.output == f"{head_revision()} (head)\n"
    r = await in_thread("upgrade")
    assert r.output == f"database is at the newest revision ({head_revision()})\n"


STARTUP_PROBE = """
import asyncio, sys
from mcpctl_tui.store.engine import open_store
async def go():
    store = await open_store(sys.argv[1])
    await store.close()
asyncio.run(go())
print("alembic" in sys.modules)
"""


async def test_opening_a_database_at_head_does_not_load_alembic(store: Store) -> None:
    """Start-up cost: at head, Alembic (and its script directory) is never imported."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STARTUP_PROBE,
        store.url,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "False"


async def test_upgrade_from_revision_7_indexes_the_turns_already_stored(db_url: str) -> None:
    """A populated 0007 database reaches head with every old turn searchable, and the
    index then follows new writes."""
    from mcpctl_tui.store.search import search_turns

    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, "0007_caller_heartbeat")
        await _seed_at_revision_2(store.engine)
        before = await _counts(store.engine)
        await upgrade_to_head(store.engine)
        assert await _counts(store.engine) == before
        async with store.session() as s:
            hits = await search_turns(s, "message", limit=1000)
            assert sorted(h.snippet for h in hits) == sorted(
                f"message {i}" for i in range(before["chat_message"])
            )
            (hit,) = await search_turns(s, '"message 3"')
            assert (hit.thread_id, hit.turn_index) == (2, 1)
        async with store.transaction() as s:
            await s.execute(text("UPDATE chat_message SET content = 'edited' WHERE id = 1"))
        async with store.session() as s:
            assert [h.message_id for h in await search_turns(s, "edited")] == [1]
    finally:
        await store.close()


async def test_upgrade_from_revision_8_gives_replies_their_llm(db_url: str) -> None:
    """0009: a stored reply gets its agent's LLM when its model is that LLM's (or was not
    recorded); a reply of another model stays unknown; questions get none; no LLM is
    priced; the running usage sums are built from the stored replies."""
    from mcpctl_tui.store.usage import tally_by

    store = await open_store(db_url, migrate=False)
    try:
        await upgrade_to(store.engine, "0008_turn_search")
        await _seed_at_revision_2(store.engine)
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO chat_message (thread_id, turn_index, role, content, status, model,"
                " created_at, usage) VALUES (1, 3, 'assistant', 'more', 'complete', 'gpt-4o',"
                " '2024-05-01 10:00:00', '{\"input_tokens\": 30, \"output_tokens\": 12}')"
            )
            await conn.exec_driver_sql(
                "UPDATE chat_message SET model = 'llama3' WHERE thread_id = 2 AND turn_index = 1"
            )
        before = await _counts(store.engine)
        await upgrade_to_head(store.engine)
        assert await _counts(store.engine) == before
        async with store.engine.connect() as conn:
            rows = (
                await conn.exec_driver_sql(
                    "SELECT thread_id, turn_index, role, llm FROM chat_message"
                    " ORDER BY thread_id, turn_index"
                )
            ).all()
            prices = (await conn.exec_driver_sql("SELECT price_input, price_output FROM llm")).all()
        assert [tuple(r) for r in rows] == [
            (1, 0, "user", None),
            (1, 1, "assistant", "gpt"),  # no model recorded: the agent's LLM
            (1, 2, "user", None),
            (1, 3, "assistant", "gpt"),  # its model is the agent's LLM's
            (2, 0, "user", None),
            (2, 1, "assistant", None),  # another model: not guessed
            (2, 2, "user", None),
        ]
        assert [tuple(p) for p in prices] == [(None, None)]
        # The running sums start from what was stored: thread 1's two replies (one
        # without usage: unknown), thread 2's reply of an unknown LLM.
        async with store.session() as s:
            by_llm = await tally_by(s, "llm")
            by_day = await tally_by(s, "day")
        gpt, unknown = by_llm["gpt"], by_llm[None]
        assert (gpt.replies, gpt.input_tokens, gpt.output_tokens, gpt.unknown) == (2, 30, 12, 1)
        assert (unknown.replies, unknown.unknown, unknown.unpriced) == (1, 1, 0)
        assert list(by_day) == ["2024-05-01"]
    finally:
        await store.close()
