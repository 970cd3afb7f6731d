"""Alembic migrations of the store, run from code by ``mcpctl_tui.store.migrate``.

A new revision is one file in ``versions/`` named ``NNNN_slug.py`` whose ``revision`` is the
file's stem and whose ``down_revision`` is the previous file's stem: ``migrate`` finds the
head by the highest number without loading Alembic (tests check the two agree).
"""
