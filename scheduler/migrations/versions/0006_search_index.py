"""search index: folded tokens per article, FTS5 on SQLite, GIN on PostgreSQL

Revision ID: 0006_search_index
Revises: 0005_ingest_fidelity
Create Date: 2026-11-30

- ``article_search``: one row per article with its search key (``crawler.search_index``),
  removed with the article (foreign key cascade).
- SQLite: the FTS5 table ``article_search_fts`` over it, kept current by triggers.
  PostgreSQL: a GIN index over the key's tokens.
- Existing articles are indexed here, in batches (the folding runs in Python: about a
  minute per 100,000 articles).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crawler.search_index import create_index, drop_index, reindex

revision = "0006_search_index"
down_revision = "0005_ingest_fidelity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_search",
        sa.Column(
            "article_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("key", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_search_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
    )
    op.create_index(
        "ix_article_search_unindexed",
        "article_search",
        ["article_id"],
        unique=False,
        sqlite_where=sa.text("key IS NULL"),
        postgresql_where=sa.text("key IS NULL"),
    )
    conn = op.get_bind()
    create_index(conn)
    reindex(conn)


def downgrade() -> None:
    drop_index(op.get_bind())
    op.drop_index("ix_article_search_unindexed", table_name="article_search")
    op.drop_table("article_search")
