"""Migrations on open. PROVISIONAL: creates the schema from the models.

The store helper replaces this with Alembic (one revision per stage, version check).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from mcpctl_tui.store.models import Base


async def upgrade_to_head(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
