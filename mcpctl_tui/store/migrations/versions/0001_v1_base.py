"""v1 base: llm (with its lifecycle), project, agent, project-scoped prompt, threads, messages.

Revision ID: 0001_v1_base
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcpctl_tui.store.types import JsonType

revision = "0001_v1_base"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    # VARCHAR + CHECK (named by the metadata's convention: ck_<table>_<name>), as in models.
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "llm",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("model", sa.String(200), nullable=False, server_default=""),
        sa.Column("url", sa.String(1000), nullable=False, server_default=""),
        sa.Column("api_key_ref", sa.String(300), nullable=True),
        sa.Column("tier", sa.String(50), nullable=True),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "kind", _enum("llm_kind", "public", "virtual"), nullable=False, server_default="public"
        ),
        sa.Column("provider_session_id", sa.String(64), nullable=True),
        sa.Column("last_heartbeat_at", TS, nullable=True),
        sa.Column(
            "status",
            _enum("llm_status", "active", "inactive", "hibernating"),
            nullable=False,
            server_default="active",
        ),
        sa.Column("inactive_since", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("name", name="uq_llm_name"),
    )
    op.create_index("ix_llm_kind_status", "llm", ["kind", "status"])
    op.create_index("ix_llm_provider_session_id", "llm", ["provider_session_id"])

    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", name="uq_project_name"),
    )

    op.create_table(
        "agent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("system_prompt", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "llm_id",
            sa.Integer(),
            sa.ForeignKey("llm.id", ondelete="RESTRICT", name="fk_agent_llm_id_llm"),
            nullable=False,
        ),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("project.id", ondelete="SET NULL", name="fk_agent_project_id_project"),
            nullable=True,
        ),
        sa.Column("default_params", JsonType, nullable=False),
        sa.Column("extras", JsonType, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("name", name="uq_agent_name"),
    )
    op.create_index("ix_agent_llm_id", "agent", ["llm_id"])

    # v1 prompts are global or project-scoped; a name is unique within its project.
    op.create_table(
        "prompt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, server_default=""),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("project.id", ondelete="CASCADE", name="fk_prompt_project_id_project"),
            nullable=True,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", "project_id", name="uq_prompt_name_project_id"),
    )
    op.create_index("ix_prompt_project_id", "prompt", ["project_id"])

    op.create_table(
        "chat_thread",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agent_id",
            sa.Integer(),
            sa.ForeignKey("agent.id", ondelete="CASCADE", name="fk_chat_thread_agent_id_agent"),
            nullable=False,
        ),
        sa.Column("title", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_turn_at", TS, nullable=False),
    )
    op.create_index(
        "ix_chat_thread_agent_last_turn",
        "chat_thread",
        [sa.column("agent_id"), sa.column("last_turn_at").desc()],
    )

    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "thread_id",
            sa.Integer(),
            sa.ForeignKey(
                "chat_thread.id", ondelete="CASCADE", name="fk_chat_message_thread_id_chat_thread"
            ),
            nullable=False,
        ),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, server_default=""),
        sa.Column("tool_calls", JsonType, nullable=True),
        sa.Column("tool_call_id", sa.String(200), nullable=True),
        sa.Column(
            "status",
            _enum("message_status", "pending", "complete", "error", "cancelled"),
            nullable=False,
            server_default="complete",
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("thinking", sa.Text(), nullable=True),
        sa.Column("usage", JsonType, nullable=True),
        sa.Column("timing", JsonType, nullable=True),
        sa.Column("personality", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("thread_id", "turn_index", name="uq_chat_message_thread_id_turn_index"),
    )


def downgrade() -> None:
    for table in ("chat_message", "chat_thread", "prompt", "agent", "project", "llm"):
        op.drop_table(table)
