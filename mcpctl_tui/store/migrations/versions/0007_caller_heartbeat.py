"""The caller of a virtual LLM's task beats on it: ``inference_task.caller_seen_at``.

A caller killed without a chance to cancel (kill -9, a machine gone) left its provider
streaming for nobody: an endless upstream wrote 9.2 MB in 50 s. The dispatcher sets the
column while it reads the reply; a provider stops a task whose caller has not been seen
for the heartbeat timeout (virtual/provider.py). Existing rows keep NULL (not judged).

Revision ID: 0007_caller_heartbeat
Revises: 0006_no_id_reuse
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_caller_heartbeat"
down_revision = "0006_no_id_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "inference_task", sa.Column("caller_seen_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0007 is not supported")
