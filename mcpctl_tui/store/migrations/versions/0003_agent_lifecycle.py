"""Agent lifecycle: kind, provider_session_id, last_heartbeat_at, status, inactive_since.

Existing agents are all public, live rows: the NOT NULL columns arrive with server defaults
(kind=public, status=active), which backfills every existing row in the same statement.

Revision ID: 0003_agent_lifecycle
Revises: 0002_personalities
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mcpctl_tui.store.models import NAMING_CONVENTION

revision = "0003_agent_lifecycle"
down_revision = "0002_personalities"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    with op.batch_alter_table("agent", naming_convention=NAMING_CONVENTION) as batch:
        batch.add_column(
            sa.Column(
                "kind",
                _enum("llm_kind", "public", "virtual"),
                nullable=False,
                server_default="public",
            )
        )
        batch.add_column(sa.Column("provider_session_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_heartbeat_at", TS, nullable=True))
        batch.add_column(
            sa.Column(
                "status",
                _enum("llm_status", "active", "inactive", "hibernating"),
                nullable=False,
                server_default="active",
            )
        )
        batch.add_column(sa.Column("inactive_since", TS, nullable=True))
    op.create_index("ix_agent_kind_status", "agent", ["kind", "status"])
    op.create_index("ix_agent_provider_session_id", "agent", ["provider_session_id"])


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0003 is not supported")
