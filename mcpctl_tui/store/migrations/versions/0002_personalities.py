"""Personalities: agent-direct prompts, personality, personality_prompt, default personality.

Revision ID: 0002_personalities
Revises: 0001_v1_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcpctl_tui.store.models import NAMING_CONVENTION

revision = "0002_personalities"
down_revision = "0001_v1_base"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ONE_SCOPE = "project_id IS NULL OR agent_id IS NULL"
PROJECT_SCOPE = "agent_id IS NULL AND project_id IS NOT NULL"
GLOBAL_SCOPE = "agent_id IS NULL AND project_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "personality",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "agent_id",
            sa.Integer(),
            sa.ForeignKey("agent.id", ondelete="CASCADE", name="fk_personality_agent_id_agent"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", "agent_id", name="uq_personality_name_agent_id"),
    )
    op.create_table(
        "personality_prompt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "personality_id",
            sa.Integer(),
            sa.ForeignKey(
                "personality.id",
                ondelete="CASCADE",
                name="fk_personality_prompt_personality_id_personality",
            ),
            nullable=False,
        ),
        sa.Column(
            "prompt_id",
            sa.Integer(),
            sa.ForeignKey(
                "prompt.id", ondelete="CASCADE", name="fk_personality_prompt_prompt_id_prompt"
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.UniqueConstraint(
            "personality_id", "prompt_id", name="uq_personality_prompt_personality_id_prompt_id"
        ),
    )
    op.create_index("ix_personality_prompt_prompt_id", "personality_prompt", ["prompt_id"])

    # A prompt may now belong to an agent. Names are unique per agent; the (name, project)
    # rule of v1 moves to a partial index, as NULL agent_id never collides in a constraint.
    with op.batch_alter_table("prompt", naming_convention=NAMING_CONVENTION) as batch:
        batch.add_column(
            sa.Column(
                "agent_id",
                sa.Integer(),
                sa.ForeignKey("agent.id", ondelete="CASCADE", name="fk_prompt_agent_id_agent"),
                nullable=True,
            )
        )
        batch.drop_constraint("uq_prompt_name_project_id", type_="unique")
        batch.create_unique_constraint("uq_prompt_name_agent_id", ["name", "agent_id"])
        batch.create_check_constraint("one_scope", sa.text(ONE_SCOPE))
    op.create_index("ix_prompt_agent_id", "prompt", ["agent_id"])
    op.create_index(
        "uq_prompt_name_project",
        "prompt",
        ["name", "project_id"],
        unique=True,
        sqlite_where=sa.text(PROJECT_SCOPE),
        postgresql_where=sa.text(PROJECT_SCOPE),
    )
    op.create_index(
        "uq_prompt_name_global",
        "prompt",
        ["name"],
        unique=True,
        sqlite_where=sa.text(GLOBAL_SCOPE),
        postgresql_where=sa.text(GLOBAL_SCOPE),
    )

    with op.batch_alter_table("agent", naming_convention=NAMING_CONVENTION) as batch:
        batch.add_column(sa.Column("default_personality_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_agent_default_personality_id_personality",
            "personality",
            ["default_personality_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0003 is not supported")
