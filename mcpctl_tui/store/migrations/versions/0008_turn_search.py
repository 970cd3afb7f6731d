"""Full-text search over every stored turn's text (``mcpctl-tui search``, the app's search).

SQLite: ``chat_message_fts``, an FTS5 table with external content (``chat_message``:
the text is not stored twice), kept in step by triggers. A turn is indexed when it has
text: the placeholder of a reply (empty) is not, its finish is (one update trigger that
acts only when the content changed); a delete, cascades included, takes it out.
PostgreSQL: ``content_tsv``, a generated ``tsvector`` column with a GIN index.

Both use word tokens without stemming (FTS5's ``unicode61``, PostgreSQL's ``simple``):
any language, and a search finds the word typed. Existing turns are indexed by the
upgrade. The objects are not in the ORM models (``SEARCH_OBJECTS`` names them for the
schema comparison); ``store/search.py`` queries them.

Revision ID: 0008_turn_search
Revises: 0007_caller_heartbeat
"""

from __future__ import annotations

from alembic import op

revision = "0008_turn_search"
down_revision = "0007_caller_heartbeat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE chat_message ADD COLUMN content_tsv tsvector"
            " GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_chat_message_content_tsv ON chat_message USING gin (content_tsv)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE chat_message_fts USING fts5("
        "content, content='chat_message', content_rowid='id', tokenize='unicode61')"
    )
    op.execute(
        "INSERT INTO chat_message_fts (rowid, content)"
        " SELECT id, content FROM chat_message WHERE content != ''"
    )
    # The 'delete' command must be given the text as indexed: the old row's.
    op.execute(
        """
        CREATE TRIGGER chat_message_fts_insert AFTER INSERT ON chat_message
        WHEN new.content != '' BEGIN
            INSERT INTO chat_message_fts (rowid, content) VALUES (new.id, new.content);
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER chat_message_fts_delete AFTER DELETE ON chat_message
        WHEN old.content != '' BEGIN
            INSERT INTO chat_message_fts (chat_message_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER chat_message_fts_update AFTER UPDATE OF content ON chat_message
        WHEN old.content IS NOT new.content BEGIN
            INSERT INTO chat_message_fts (chat_message_fts, rowid, content)
                SELECT 'delete', old.id, old.content WHERE old.content != '';
            INSERT INTO chat_message_fts (rowid, content)
                SELECT new.id, new.content WHERE new.content != '';
        END
        """
    )


def downgrade() -> None:
    raise NotImplementedError("downgrading below 0008 is not supported")
