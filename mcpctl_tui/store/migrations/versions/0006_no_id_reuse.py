"""No id is ever handed out twice: SQLite tables become AUTOINCREMENT.

Without AUTOINCREMENT SQLite gives a new row ``max(rowid) + 1``, so deleting the newest
rows lets their ids come back: a reply still streaming for a deleted thread (or a turn
replaced by a regenerate) could then be finished into a new, unrelated row with the same
id. Each table with an integer ``id`` is rebuilt with AUTOINCREMENT by SQLite's own
procedure (foreign keys off around it: see store/migrate.py): the same CREATE TABLE with
the key inline, the rows copied (which records the highest id in ``sqlite_sequence``),
the old table dropped, the new one renamed, its indexes made again from their own SQL.
Every index and constraint comes back as it was (a test compares the schema before and
after). Done in SQL, not Alembic's batch copy: it runs on every new database, so it must
cost milliseconds. PostgreSQL sequences never go back: nothing to do.

Revision ID: 0006_no_id_reuse
Revises: 0005_change_feed
"""

from __future__ import annotations

import re

from alembic import op

revision = "0006_no_id_reuse"
down_revision = "0005_change_feed"
branch_labels = None
depends_on = None

TABLES = (
    "llm",
    "project",
    "agent",
    "prompt",
    "personality",
    "personality_prompt",
    "chat_thread",
    "chat_message",
    "inference_task",
)

_HEAD = re.compile(r'^CREATE TABLE "?(\w+)"? \(')
_ID = re.compile(r"\bid INTEGER NOT NULL,")
_PK = re.compile(r",\s*CONSTRAINT \w+ PRIMARY KEY \(id\)")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in TABLES:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
        if "AUTOINCREMENT" in sql:
            continue
        new, heads = _HEAD.subn(f'CREATE TABLE "_new_{table}" (', sql, count=1)
        new, ids = _ID.subn("id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", new, count=1)
        new, pks = _PK.subn("", new, count=1)
        if (heads, ids, pks) != (1, 1, 1):
            raise RuntimeError(f"0006: unexpected schema for table {table}: {sql}")
        indexes = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                " AND sql IS NOT NULL",
                (table,),
            )
        ]
        columns = ", ".join(
            f'"{r[1]}"' for r in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')
        )
        conn.exec_driver_sql(new)
        conn.exec_driver_sql(
            f'INSERT INTO "_new_{table}" ({columns}) SELECT {columns} FROM "{table}"'
        )
        conn.exec_driver_sql(f'DROP TABLE "{table}"')
        conn.exec_driver_sql(f'ALTER TABLE "_new_{table}" RENAME TO "{table}"')
        for index in indexes:
            conn.exec_driver_sql(index)


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0006 is not supported")
