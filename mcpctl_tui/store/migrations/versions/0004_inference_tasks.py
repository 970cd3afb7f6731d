"""Virtual LLM relay: inference_task and inference_chunk.

Revision ID: 0004_inference_tasks
Revises: 0003_agent_lifecycle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_inference_tasks"
down_revision = "0003_agent_lifecycle"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TASK_STATUSES = ("pending", "claimed", "running", "completed", "error", "cancelled")


def upgrade() -> None:
    op.create_table(
        "inference_task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "llm_id",
            sa.Integer(),
            sa.ForeignKey("llm.id", ondelete="CASCADE", name="fk_inference_task_llm_id_llm"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                *TASK_STATUSES,
                name="task_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
            server_default="pending",
        ),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_inference_task_status_id", "inference_task", ["status", "id"])
    op.create_index(
        "ix_inference_task_status_created_at", "inference_task", ["status", "created_at"]
    )
    op.create_index(
        "ix_inference_task_status_finished_at", "inference_task", ["status", "finished_at"]
    )
    op.create_index("ix_inference_task_claimed_by", "inference_task", ["claimed_by"])
    op.create_index("ix_inference_task_llm_id", "inference_task", ["llm_id"])
    op.create_table(
        "inference_chunk",
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey(
                "inference_task.id",
                ondelete="CASCADE",
                name="fk_inference_chunk_task_id_inference_task",
            ),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inference_chunk")
    op.drop_table("inference_task")
