"""ingest fidelity: guid-only articles, publishers, last-poll accounting per source

Revision ID: 0005_ingest_fidelity
Revises: 0004_dispatch
Create Date: 2026-11-27

- ``articles.canonical_url`` becomes nullable: an entry with a guid but no link is stored
  under (source, guid) with no URL. The unique constraint stays (NULLs never collide).
- ``articles.publisher``: the original publisher of an aggregated item.
- ``sources.last_poll_*``: what the last poll found, stored, and left out (by reason).

Existing rows need no rewrite: their canonical URLs (without fragments) and guids still
identify them; text stored before with NFKC folding stays as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ingest_fidelity"
down_revision = "0004_dispatch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("canonical_url", existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column("publisher", sa.Text(), nullable=True))
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_poll_found", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_poll_new", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_poll_skipped", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("last_poll_notes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_poll_notes")
        batch_op.drop_column("last_poll_skipped")
        batch_op.drop_column("last_poll_new")
        batch_op.drop_column("last_poll_found")
    # Guid-only articles need some value in the non-null column: a URN that names no page.
    op.execute(
        "UPDATE articles SET canonical_url = 'urn:wirewatch:article:' || id "
        "WHERE canonical_url IS NULL"
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("publisher")
        batch_op.alter_column("canonical_url", existing_type=sa.Text(), nullable=False)
