"""Branches: a thread's turns form a tree, and one path through it is the current one.

- ``chat_message.parent_index``: the ``turn_index`` of the turn this one follows (NULL:
  a first turn). A parent link by index, not by id: a question and its reply's
  placeholder are stored by one INSERT, and the reply's parent (the question) has no id
  yet but has its index. Turns are never deleted one by one (editing or regenerating
  branches instead), only with their thread (the ``thread_id`` cascade), so the link
  needs no foreign key of its own.
- ``turn_index`` keeps its meaning and its constraint: unique in the thread, in the
  order turns were stored. A child is always stored after its parent, so any path read
  in ``turn_index`` order is in path order, and "turn 12 of thread 5" names one turn
  forever (a search hit, ``chat --edit 12``, an export). On a branched thread the path's
  indexes have gaps.
- ``chat_message.on_path``: the turn is on the thread's current path (what the chat shows
  and what the next request sends). The windows the UI reads are then plain index reads
  of ``(thread_id, turn_index)`` with a filter, as before; a branch switch rewrites the
  flags of the turns that leave or join the path (store/branches.py keeps the rule).
- ``ix_chat_message_thread_parent`` (thread_id, parent_index, turn_index): a turn's children
  (its branches) and its place among them, each by one index read.

Backfill: every stored thread becomes a single path: a turn's parent is the turn before
it, every turn on the path.

Revision ID: 0010_branches
Revises: 0009_usage_cost
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_branches"
down_revision = "0009_usage_cost"
branch_labels = None
depends_on = None

_BACKFILL_PARENT = """
UPDATE chat_message SET parent_index = (
    SELECT max(p.turn_index) FROM chat_message p
    WHERE p.thread_id = chat_message.thread_id AND p.turn_index < chat_message.turn_index
)
"""


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.add_column("chat_message", sa.Column("parent_index", sa.Integer(), nullable=True))
    op.add_column(
        "chat_message",
        sa.Column("on_path", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    if pg:
        # The usage triggers would run once per row for a column they do not read.
        op.execute("ALTER TABLE chat_message DISABLE TRIGGER USER")
    op.execute(_BACKFILL_PARENT)
    if pg:
        op.execute("ALTER TABLE chat_message ENABLE TRIGGER USER")
    op.create_index(
        "ix_chat_message_thread_parent", "chat_message", ["thread_id", "parent_index", "turn_index"]
    )


def downgrade() -> None:
    op.drop_index("ix_chat_message_thread_parent", table_name="chat_message")
    op.drop_column("chat_message", "on_path")
    op.drop_column("chat_message", "parent_index")
