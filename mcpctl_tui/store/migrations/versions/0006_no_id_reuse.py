"""No id is ever handed out twice: SQLite tables become AUTOINCREMENT.

Without AUTOINCREMENT SQLite gives a new row ``max(rowid) + 1``, so deleting the newest
rows lets their ids come back: a reply still streaming for a deleted thread (or a turn
replaced by a regenerate) could then be finished into a new, unrelated row with the same
id. Each table with an integer ``id`` is rebuilt with AUTOINCREMENT (Alembic's batch
copy, foreign keys off around it: see store/migrate.py), which also records the highest
id in use so far in ``sqlite_sequence``; every index and constraint comes back as it was
(a test compares the schema before and after). PostgreSQL sequences never go back: nothing to do.

Revision ID: 0006_no_id_reuse
Revises: 0005_change_feed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcpctl_tui.store.models import NAMING_CONVENTION

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


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table,
            recreate="always",
            table_kwargs={"sqlite_autoincrement": True},
            naming_convention=NAMING_CONVENTION,
        ):
            pass
    # The copy reflects indexes without their sort order: the thread pane's index is
    # newest first again.
    op.drop_index("ix_chat_thread_agent_last_turn", "chat_thread")
    op.create_index(
        "ix_chat_thread_agent_last_turn",
        "chat_thread",
        [sa.column("agent_id"), sa.column("last_turn_at").desc()],
    )


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0006 is not supported")
