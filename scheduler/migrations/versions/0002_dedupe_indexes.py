"""dedupe indexes: band lookup newest-first, bands by story, content hash with source

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.drop_index("ix_story_bands_band")
        batch_op.create_index("ix_story_bands_band_article", ["band", "article_id"], unique=False)
        batch_op.create_index("ix_story_bands_story_id", ["story_id"], unique=False)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_content_hash")
        batch_op.create_index(
            "ix_articles_content_hash_source", ["content_hash", "source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_content_hash_source")
        batch_op.create_index("ix_articles_content_hash", ["content_hash"], unique=False)
    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.drop_index("ix_story_bands_story_id")
        batch_op.drop_index("ix_story_bands_band_article")
        batch_op.create_index("ix_story_bands_band", ["band"], unique=False)
