"""Rows for tests that need an archive: a source and articles, each in its own story."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crawler.models import Article, Source, Story
from crawler.search_index import index_articles


def add_source(session: Session, source_id: str = "src") -> Source:
    """A minimal RSS source row."""
    src = Source(id=source_id, type="rss", url="https://n.test/f", config_url="https://n.test/f")
    session.add(src)
    session.flush()
    return src


def add_article(
    session: Session,
    n: int,
    title: str,
    body: str = "",
    *,
    when: datetime,
    story: Story | None = None,
    source_id: str = "src",
    **fields: Any,
) -> Article:
    """An article at ``https://n.test/{n}``, in ``story`` or a new story of its own."""
    if story is None:
        story = Story(title=title, first_seen_at=when, updated_at=when)
        session.add(story)
        session.flush()
    url = f"https://n.test/{n}"
    art = Article(
        source_id=source_id,
        story_id=story.id,
        url=url,
        canonical_url=url,
        title=title,
        body=body,
        fetched_at=when,
        **fields,
    )
    session.add(art)
    session.flush()
    index_articles(session.connection(), [art])
    return art
