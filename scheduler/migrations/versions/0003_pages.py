"""pages: articles remember how often their text was fetched; index of articles without text

Revision ID: 0003_pages
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_pages"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("text_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_articles_missing_text",
            ["source_id", "id"],
            unique=False,
            sqlite_where=sa.text("body = ''"),
            postgresql_where=sa.text("body = ''"),
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_missing_text")
        batch_op.drop_column("text_attempts")
