"""search index: FTS5 merges eight segments per level instead of four (SQLite)

Revision ID: 0007_fts_automerge
Revises: 0006_search_index
Create Date: 2026-11-30

Each page of new articles writes one small FTS5 segment; with fewer levels, the merge work a
write transaction does shrinks (``crawler.search_index.AUTOMERGE``). PostgreSQL: nothing.
"""

from __future__ import annotations

from alembic import op

from crawler.search_index import FTS5_DEFAULT_AUTOMERGE, tune_index

revision = "0007_fts_automerge"
down_revision = "0006_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tune_index(op.get_bind())


def downgrade() -> None:
    tune_index(op.get_bind(), FTS5_DEFAULT_AUTOMERGE)
