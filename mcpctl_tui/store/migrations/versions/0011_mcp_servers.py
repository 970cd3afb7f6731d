"""MCP servers of projects: ``mcp_server`` (the ``mcpserver`` manifest kind).

A server belongs to one project (deleting the project deletes its servers) and is named
uniquely within it; an agent of that project reaches its tools as ``server/tool``.
``env`` and ``headers`` hold key references, never values. On PostgreSQL the table joins
the change feed (migration 0005's statement triggers), so an open app follows it.

Revision ID: 0011_mcp_servers
Revises: 0010_branches
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_mcp_servers"
down_revision = "0010_branches"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mcp_server",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "project.id", ondelete="CASCADE", name="fk_mcp_server_project_id_project"
            ),
            nullable=False,
        ),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("command", JSON, nullable=False),
        sa.Column("env", JSON, nullable=False),
        sa.Column("cwd", sa.String(1000), nullable=True),
        sa.Column("url", sa.String(1000), nullable=False, server_default=""),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_mcp_server_project_id_name"),
        sa.CheckConstraint("transport IN ('stdio', 'http')", name="ck_mcp_server_transport"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER mcpctl_{event.lower()}_mcp_server AFTER {event} ON mcp_server"
                f" REFERENCING {side} TABLE AS changed"
                " FOR EACH STATEMENT EXECUTE FUNCTION mcpctl_notify_table()"
            )


def downgrade() -> None:
    op.drop_table("mcp_server")
