"""Fixtures of the hostile table: the loopback crawl fixtures of tests/crawler."""

from tests.crawler.conftest import poller_factory, sqlite_db  # noqa: F401
