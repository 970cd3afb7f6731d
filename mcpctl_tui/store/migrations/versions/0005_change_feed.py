"""Change feed: NOTIFY on every write to a table the UI shows; published heartbeat interval.

PostgreSQL: triggers ``pg_notify('mcpctl_changes', payload)`` after each write; the payload
is the table name, or ``chat_thread:<ids>`` / ``chat_message:<thread ids>`` (comma
separated) for a thread's rows. Statement level: one notification per statement however
many rows it wrote, none for a statement that matched no row. Relay tables (inference_task, inference_chunk) are left out: they change per
token and the UI does not show them. SQLite has no NOTIFY; its readers poll
``PRAGMA data_version`` (store/changes.py), so it only gets the column.

``heartbeat_interval`` (llm, agent): the interval a provider publishes with its rows, so
every reader can judge it dead after three missed beats (store/liveness.py).

Revision ID: 0005_change_feed
Revises: 0004_inference_tasks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_change_feed"
down_revision = "0004_inference_tasks"
branch_labels = None
depends_on = None

CHANNEL = "mcpctl_changes"
STATEMENT_TABLES = ("llm", "agent", "project", "prompt", "personality", "personality_prompt")
# table -> the column holding the thread id
THREAD_TABLES = {"chat_thread": "id", "chat_message": "thread_id"}
MAX_IDS = 20  # thread ids named in one payload (NOTIFY payloads stay far below 8000 bytes)


def upgrade() -> None:
    for table in ("llm", "agent"):
        op.add_column(table, sa.Column("heartbeat_interval", sa.Float(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION mcpctl_notify_table() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM changed) THEN
                PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table, column in THREAD_TABLES.items():
        # One notification per statement naming its threads; a statement touching more
        # than MAX_IDS threads says only its table (the reader then re-reads them all).
        op.execute(
            f"""
            CREATE FUNCTION mcpctl_notify_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE ids text;
            DECLARE n integer;
            BEGIN
                SELECT string_agg(DISTINCT {column}::text, ','), count(DISTINCT {column})
                    INTO ids, n FROM changed;
                IF n > {MAX_IDS} THEN
                    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
                ELSIF n > 0 THEN
                    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || ids);
                END IF;
                RETURN NULL;
            END $$
            """
        )
    for table in (*STATEMENT_TABLES, *THREAD_TABLES):
        function = f"mcpctl_notify_{table}" if table in THREAD_TABLES else "mcpctl_notify_table"
        # Transition tables need one trigger per event; they let an UPDATE or DELETE that
        # matched no row (a GC sweep with nothing to do) stay silent.
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER mcpctl_{event.lower()}_{table} AFTER {event} ON {table}"
                f" REFERENCING {side} TABLE AS changed"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*STATEMENT_TABLES, *THREAD_TABLES):
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS mcpctl_{event}_{table} ON {table}")
        for fn in ("table", *THREAD_TABLES):
            op.execute(f"DROP FUNCTION IF EXISTS mcpctl_notify_{fn}()")
    for table in ("llm", "agent"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat_interval")
